"""The trusted-side static check: ways around a ban hold the part; honest references hold nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coursekit.config import load_course
from coursekit.grading.notebook import CodeCell, load_submission
from coursekit.grading.paths import MilestonePaths
from coursekit.grading.static_check import BanUse, check, holds_for, ban_uses

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course.yaml"
SCRATCH = BanUse(part="matmul", bans=("numpy.linalg", "numpy.dot", "@"), names=frozenset({"matmul"}))
HONEST = "import numpy as np\ndef matmul(A, B):\n    return np.array([[sum(a * b for a, b in zip(r, c)) for c in B.T] for r in A])\n"


def cells(*sources: str) -> list[CodeCell]:
    return [CodeCell(index=i + 1, source=s) for i, s in enumerate(sources)]


def _milestones():
    return [m.id for m in load_course(COURSE, check_files=False).milestones]


@pytest.mark.parametrize("milestone", _milestones())
def test_reference_notebook_has_no_hold(milestone):
    course = load_course(COURSE, check_files=False)
    paths = MilestonePaths.of(COURSE, course.milestone(milestone))
    code, _ = load_submission(ROOT / "source" / milestone / f"{milestone}.ipynb")
    assert holds_for(code, (paths.public_tests, paths.hidden_suite)) == []


def test_suites_declare_bans_the_check_can_read():
    course = load_course(COURSE, check_files=False)
    paths = MilestonePaths.of(COURSE, course.milestone("m01-linear-algebra"))
    uses = ban_uses(sorted(paths.hidden_suite.glob("test_*.py")))
    matmul = [u for u in uses if u.part == "matmul"]
    assert matmul and all("@" in u.bans for u in matmul)  # *SCRATCH expanded from the module constant
    assert any("numpy.transpose" in u.bans for u in matmul)
    assert {"matmul"} <= set().union(*(u.names for u in matmul))


def test_honest_code_is_not_held():
    assert check(cells(HONEST, "print(np.linalg.inv(np.eye(2)))\n"), [SCRATCH]) == []


@pytest.mark.parametrize("source, reason", [
    ("import scipy.linalg\ndef matmul(A, B):\n    return scipy.linalg.inv(A)\n", "scipy.linalg.inv"),
    ("from numpy.linalg import _umath_linalg as u\ndef matmul(A, B):\n    return u.inv(A)\n", "_umath_linalg"),
    ("import numpy as np\n_inv = np.linalg.inv\ndef matmul(A, B):\n    return _inv(A)\n", "numpy.linalg.inv"),
    ("import numpy as np\ndef matmul(A, B, inv=np.linalg.inv):\n    return inv(A)\n", "numpy.linalg.inv"),
    ("import numpy as np\ndef matmul(A, B):\n    return getattr(np, 'lin' + 'alg').inv(A)\n", "computed attribute"),
    ("import numpy as np\ndef helper(A):\n    return np.dot(A, A)\ndef matmul(A, B):\n    return helper(A)\n", "numpy.dot"),
    ("import threading\ndef matmul(A, B):\n    t = threading.Thread(target=print)\n    return A\n", "thread"),
    ("import sys\nsys.setprofile(None)\ndef matmul(A, B):\n    return A\n", "import-time"),
    ("import ctypes\ndef matmul(A, B):\n    return A\n", "ctypes"),
    ("import gc\ndef matmul(A, B):\n    return [o for o in gc.get_objects()][0](A)\n", "gc"),
    ("def matmul(A, B):\n    return eval('A.dot(B)')\n", "eval"),
    ("def matmul(A, B):\n    return A.__matmul__(B)\n", "__matmul__"),
    ("import functools, operator\ndef matmul(A, B):\n    return functools.reduce(operator.matmul, [A, B])\n", "operator.matmul"),
    ("def matmul(A, B):\n    return open('/autograder/answers.txt').read()\n", "reads a file"),
    ("from coursekit_student import shield\ndef matmul(A, B):\n    return A\n", "shield"),
])
def test_ways_around_the_ban_hold_the_part(source, reason):
    holds = check(cells(source), [SCRATCH])
    assert [h.part for h in holds] == ["matmul"], source
    assert reason in holds[0].reason and holds[0].cell == 1 and holds[0].line >= 1


def test_an_unbanned_part_is_never_held():
    other = BanUse(part="add", bans=(), names=frozenset({"add"}))
    source = "import numpy as np\ndef add(a, b):\n    return np.linalg.inv(a)\n" + HONEST
    assert check(cells(source), [SCRATCH, other]) == []


def test_a_syntax_error_cell_is_skipped():
    assert check(cells("def broken(:\n", HONEST), [SCRATCH]) == []


def test_a_held_part_scores_zero_and_only_staff_see_why():
    from coursekit.config import load_course as load
    from coursekit.grading.plugin import TestRecord
    from coursekit.grading.results import build_results
    from coursekit.review.feedback import render_feedback_html, render_feedback_md

    fixture = ROOT / "tests" / "fixtures" / "engine_course" / "course.yaml"
    course = load(fixture, check_files=False)
    milestone = course.milestone("m00-engine")
    records = [TestRecord(name="test_matmul_random", nodeid="h::m", kind="hidden", part="matmul", points=2,
                          outcome="passed", score=2.0),
               TestRecord(name="test_add_arrays", nodeid="h::a", kind="hidden", part="add", points=2,
                          outcome="passed", score=2.0)]
    reason = "uses `scipy.linalg.blas.dgemm` (banned here: scipy.linalg)"
    results = build_results(course=course, milestone=milestone, student="s", sha256=None, records=records,
                            metrics={}, notebook_errors=[], execution_time=1.0, device="cpu", gpu_mode=None,
                            peak_memory_mb=None, restarts=0, sandbox="full", submitted_at=None,
                            holds=[{"part": "matmul", "reason": reason, "cell": 3, "line": 2}])
    assert results.score == 2.0 and results.parts["matmul"].score == 0.0
    assert results.extra_data.holds[0]["computed_score"] == 2.0
    assert all(t.score == 0.0 for t in results.tests if t.part == "matmul")
    student_visible = json.dumps({k: v for k, v in results.to_json().items() if k != "extra_data"})
    for text in (student_visible, render_feedback_md(results), render_feedback_html(results)):
        assert "dgemm" not in text and "held" not in text.lower() and "review" not in text.lower()


def test_harmless_introspection_at_import_time_is_not_held():
    source = "import inspect\nprint(inspect.signature(print))\n" + HONEST
    assert check(cells(source), [SCRATCH]) == []
    assert check(cells("import inspect\nframe = inspect.currentframe()\n" + HONEST), [SCRATCH])
