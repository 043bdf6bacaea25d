"""@forbid: every way a student reaches for a banned shortcut is caught, and only while banned."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from coursekit_student.forbid import Ban, ForbiddenError

STUDENT = '''
import numpy as np
import operator
from numpy.linalg import eig as captured_eig
def via_module(A): return np.linalg.inv(A)
def via_captured_name(A): return captured_eig(A)
def via_operator(A): return A @ A
def via_method(A): return A.dot(A)
def via_function(A): return np.dot(A, A)
def via_operator_module(A): return operator.matmul(A, A)
def honest(A):
    return sum(A[i, i] for i in range(A.shape[0]))
def swallows(A):
    try:
        return np.linalg.inv(A)
    except Exception:
        return "caught it"
'''


@pytest.fixture
def namespace():
    ns: dict = {}
    exec(compile(STUDENT, "<cell 3>", "exec"), ns)
    return ns


def run(namespace, name, banned=("numpy.linalg", "numpy.dot", "@")):
    ban = Ban(banned, is_student_code=lambda code: code.co_filename.startswith("<cell "), namespaces=[namespace])
    with ban:
        result = namespace[name](np.eye(3))
    return result, ban.violations


@pytest.mark.parametrize("name", ["via_module", "via_captured_name", "via_operator", "via_method", "via_function",
                                  "via_operator_module"])
def test_each_route_is_caught(namespace, name):
    with pytest.raises(ForbiddenError):
        run(namespace, name)


def test_honest_code_runs_and_oracles_work_after(namespace):
    assert run(namespace, "honest") == (3.0, [])
    np.testing.assert_allclose(np.linalg.inv(np.eye(2)) @ np.eye(2), np.eye(2))  # restored after the ban


def test_a_caught_violation_is_still_recorded(namespace):
    result, violations = run(namespace, "swallows")
    assert result == "caught it" and violations == ["numpy.linalg"]


def test_banning_an_unloaded_package_does_not_import_it():
    code = ("import sys; from coursekit_student.forbid import Ban\n"
            "with Ban(['torch', 'sklearn'], is_student_code=lambda c: False): pass\n"
            "print('torch' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_importing_a_banned_package_inside_the_call_is_caught():
    code = ("from coursekit_student.forbid import Ban, ForbiddenError\n"
            "src = 'def f():\\n    import colorsys\\n    return colorsys.rgb_to_hsv(0.1, 0.2, 0.3)\\n'\n"
            "ns = {}; exec(compile(src, '<cell 1>', 'exec'), ns)\n"
            "try:\n    with Ban(['colorsys'], is_student_code=lambda c: True): ns['f']()\n"
            "except ForbiddenError: print('caught')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "caught"


def test_generator_methods_are_banned_for_generators_made_from_the_seed():
    ns: dict = {}
    src = ("import numpy as np\nfrom numpy.random import default_rng\n"
           "def cheat(seed):\n    return np.random.default_rng(seed).exponential(1.0, 3)\n"
           "def cheat_imported(seed):\n    return default_rng(seed).normal(0, 1, 3)\n"
           "def honest(seed):\n    return -np.log(1 - np.random.default_rng(seed).random(3))\n")
    exec(compile(src, "<cell 2>", "exec"), ns)
    banned = ["numpy.random.Generator.exponential", "numpy.random.Generator.normal"]
    for name in ("cheat", "cheat_imported"):
        with pytest.raises(ForbiddenError):
            with Ban(banned, is_student_code=lambda c: True, namespaces=[ns]):
                ns[name](0)
    with Ban(banned, is_student_code=lambda c: True, namespaces=[ns]):
        honest = ns["honest"](0)
    np.testing.assert_allclose(honest, -np.log(1 - np.random.default_rng(0).random(3)))
    assert np.random.default_rng(0).exponential(1.0, 1).shape == (1,)  # restored
