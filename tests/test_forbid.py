"""@forbid: every way a student reaches for a banned shortcut is caught, and only while banned."""

from __future__ import annotations

import json
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


# ------------------------------------------------------------------ the worker's shield (process-wide)
# Each case runs in a fresh process: the shield changes its process for good, as in the worker.
SHIELD_RUN = '''
import json, sys
import numpy as np
from coursekit_student import shield as shield_module
from coursekit_student.forbid import Ban, ForbiddenError
shield = shield_module.install()
ns = {"np": np}
exec(compile(sys.argv[1], "<cell 1>", "exec"), ns)
ban = Ban(("numpy.linalg", "numpy.dot", "@"), is_student_code=lambda c: c.co_filename.startswith("<cell "),
          namespaces=[ns], shield=shield)
raised = None
try:
    with ban:
        ns["f"](np.eye(3) * 2)
except ForbiddenError as exc:
    raised = exc.name  # what the student is told
except BaseException:
    pass
print(json.dumps([ban.violations[:1], raised]))
'''

SHIELD_CASES = {
    "scipy_linalg": ("import scipy.linalg\ndef f(A):\n    return scipy.linalg.inv(A)\n", "scipy.linalg"),
    "scipy_blas_captured": ("from scipy.linalg.blas import dgemm\ndef f(A):\n    return dgemm(1.0, A, A)\n",
                            "scipy.linalg"),
    "private_gufunc": ("from numpy.linalg import _umath_linalg as u\ninv = u.inv\ndef f(A):\n    return inv(A)\n",
                       "numpy.linalg"),
    "captured_at_import": ("_inv = np.linalg.inv\ndef f(A):\n    return _inv(A)\n", "numpy.linalg"),
    "default_argument": ("def f(A, inv=np.linalg.inv):\n    return inv(A)\n", "numpy.linalg"),
    "partial_of_dot": ("import functools\np = functools.partial(np.dot, np.eye(3))\ndef f(A):\n    return p(A)\n",
                       "numpy.dot"),
    "matmul_ufunc_reduce": ("mm = np.matmul\ndef f(A):\n    return mm.reduce([A, A])\n", "numpy.matmul"),
    "reduce_operator_matmul": ("import functools, operator\ndef f(A):\n    return functools.reduce(operator.matmul, [A, A])\n",
                               "@"),
    "profile_switched_off": ("import sys, threading\ndef f(A):\n    threading.setprofile(None)\n    sys.setprofile(None)\n"
                             "    return np.linalg.inv(A)\n", "sys.setprofile"),
    "thread_in_call": ("import threading\n_inv = np.linalg.inv\ndef f(A):\n    out = []\n"
                       "    t = threading.Thread(target=lambda: out.append(_inv(A)))\n    t.start(); t.join()\n"
                       "    return out[0]\n", "threads"),
    "thread_from_import": ("import threading, queue\nq, r = queue.Queue(), queue.Queue()\n_inv = np.linalg.inv\n"
                           "threading.Thread(target=lambda: r.put(_inv(q.get())), daemon=True).start()\n"
                           "def f(A):\n    q.put(A)\n    return r.get()\n", "threads"),
    "gc_digging": ("import gc\ndef f(A):\n    return [o for o in gc.get_objects() if getattr(o, '__name__', '') == 'inv'][0](A)\n",
                   "gc.get_objects"),
    "frame_walking": ("import sys\ndef f(A):\n    return sys._getframe(1).f_locals\n", "sys._getframe"),
    "traceback_frame": ("def f(A):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
                        "        return e.__traceback__.tb_frame\n", "tb_frame"),
    "ctypes_lapack": ("import ctypes\ndef f(A):\n    return ctypes.CDLL('liblapack.so.3')\n", "ctypes"),
    "code_swap": ("def g(A):\n    return A\ndef f(A):\n    g.__code__ = (lambda A: A).__code__\n    return g(A)\n",
                  "__code__"),
    "helper_process_from_import": ("import os, time\nif os.fork() == 0:\n    time.sleep(20)\n    os._exit(0)\n"
                                   "def f(A):\n    return A\n", "a helper process"),
    "guard_rewired_at_import": ("mm = np.matmul\ntry:\n    type(mm).__call__ = lambda self, *a, **k: None\n"
                                "except AttributeError:\n    pass\ndef f(A):\n    return mm(A, A)\n", "numpy.matmul"),
    "profile_code_swapped_at_import": ("from coursekit_student.forbid import Ban\ntry:\n"
                                       "    Ban._profile.__code__ = (lambda self, frame, event, arg: None).__code__\n"
                                       "except RuntimeError:\n    pass\ndef f(A):\n    return np.linalg.inv(A)\n",
                                       "numpy.linalg"),
    "plain_at_operator": ("def f(A):\n    return A @ A\n", "@"),  # not 'sys.settrace': the first reason stays
    "plain_linalg": ("def f(A):\n    return np.linalg.inv(A)\n", "numpy.linalg"),
    # a library's own introspection is not the student walking the grader's stack (torch's nn layers
    # call sys._getframe for their own frames: m14's reference lost 10 points to this)
    "honest_library_looks_at_its_own_frame": ("import traceback\ndef f(A):\n    traceback.extract_stack()\n"
                                               "    return A.sum()\n", None),
    "inspect_hands_out_the_students_frame": ("import inspect\ndef f(A):\n    return inspect.currentframe().f_back\n",
                                             "sys._getframe"),
    "honest": ("def f(A):\n    return sum(A[i, i] for i in range(len(A)))\n", None),
    "honest_library_internals": ("def f(A):\n    return np.cov(A).sum() + np.einsum('ij,jk->ik', A, A).sum()\n", None),
}


@pytest.mark.parametrize("case", sorted(SHIELD_CASES))
def test_shield_refuses_every_way_around(case):
    source, expected = SHIELD_CASES[case]
    done = subprocess.run([sys.executable, "-c", SHIELD_RUN, source], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    violations, raised = json.loads(done.stdout.strip().splitlines()[-1])
    if expected is None:
        assert violations == [] and raised is None
    else:
        assert violations and violations[0].startswith(expected), violations
        assert raised is None or raised == violations[0], (raised, violations)  # the first reason is the one told


def test_family_expansion_covers_scipy_torch_and_gufuncs():
    from coursekit_student.families import covers, expand

    names = expand(("numpy.linalg.svd",))
    for member in ("scipy.linalg.svd", "torch.linalg.svd", "torch.svd", "numpy.linalg._umath_linalg.svd_f"):
        assert covers(names, member), member
    assert not covers(names, "numpy.linalg.eigh")  # PCA bans svd, not eigh
    matmul = expand(("@",))
    assert covers(matmul, "numpy.matmul") and covers(matmul, "operator.matmul") and covers(matmul, "numpy.vdot")
    assert not covers(matmul, "numpy.einsum")  # m04 teaches einsum under a matmul ban
