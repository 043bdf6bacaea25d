"""check()/check_all() on the m00-check fixture milestone, with the notebook simulated in-process.

Each "cell" is compiled with its own filename and executed in a dict that stands in for the
kernel's user namespace, exactly as IPython does (frames of notebook code have it as globals).
"""

from __future__ import annotations

import json
import linecache
import shutil
import textwrap
from pathlib import Path

import pytest

from coursekit_student import checker, render

FIXTURE = Path(__file__).parent / "fixtures" / "student" / "release" / "m00-check"

SETUP = "import numpy as np\n"
STUB_SCALE = '''
def scale(v, c):
    """Multiply v by c."""
    raise NotImplementedError()
'''
STUB_NORMALIZE = '''
def normalize(v):
    """Return v / ||v||."""
    raise NotImplementedError()
'''
GOOD_SCALE = '''
def scale(v, c):
    """Multiply v by c."""
    return c * np.asarray(v, dtype=float)
'''
GOOD_NORMALIZE = '''
def normalize(v):
    """Return v / ||v||."""
    norm = np.sqrt(np.sum(v * v))
    if norm == 0:
        raise ValueError("zero vector")
    return v / norm
'''


@pytest.fixture
def milestone(tmp_path, monkeypatch):
    folder = tmp_path / "m00-check"
    shutil.copytree(FIXTURE, folder)
    monkeypatch.chdir(folder)
    monkeypatch.delenv(checker.GRADING_ENV, raising=False)
    monkeypatch.delenv(checker.MILESTONE_ENV, raising=False)
    monkeypatch.delenv(checker.NO_RECORD_ENV, raising=False)
    monkeypatch.setattr(checker.check, "milestone", None)
    return folder


@pytest.fixture
def notebook(monkeypatch):
    """A fake kernel namespace; ``run(source)`` executes one cell in it."""
    namespace: dict = {"__name__": "__main__"}
    monkeypatch.setattr(checker, "user_namespace", lambda: namespace)
    counter = iter(range(1, 100))

    def run(source: str) -> None:
        source, name = textwrap.dedent(source), f"<cell-{next(counter)}>"
        # IPython registers each cell's source with linecache the same way, so tracebacks can quote it
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), namespace)

    run.namespace = namespace
    return run


def outcomes(result: checker.CheckResult) -> dict[str, str]:
    return {t.name: t.outcome for t in result.tests}


def test_blank_stubs_are_not_implemented_with_zero_points(milestone, notebook):
    notebook(SETUP), notebook(STUB_SCALE), notebook(STUB_NORMALIZE)
    result = checker.check_all(quiet=True)
    assert set(outcomes(result).values()) == {"not_implemented"}
    assert (result.passed, result.failed, result.points, result.max_points) == (0, 3, 0.0, 5.0)
    assert all("not implemented yet" in t.message for t in result.tests)
    assert "not implemented yet" in render.as_text(result)


def test_correct_answers_earn_all_public_points(milestone, notebook):
    notebook(SETUP), notebook(GOOD_SCALE), notebook(GOOD_NORMALIZE)
    result = checker.check_all(quiet=True)
    assert result.ok and result.points == result.max_points == 5.0
    assert result.parts == ["scale", "normalize"]  # notebook order, from the part: tags
    assert result.by_part()["normalize"] == {"passed": 2, "total": 2, "points": 3.0, "max_points": 3.0}


def test_wrong_answer_fails_with_hint_and_assertion_only_for_its_part(milestone, notebook):
    notebook(SETUP), notebook("def scale(v, c):\n    return c + v\n"), notebook(GOOD_NORMALIZE)
    scale = checker.check("scale", quiet=True)
    [test] = scale.tests
    assert test.outcome == "failed" and test.earned == 0
    assert test.hint == "Multiply every entry by c: NumPy broadcasts a scalar over an array."
    assert "Not equal to tolerance" in test.message
    text = render.as_text(scale)
    assert "hint: Multiply every entry by c" in text and "0/2 public points" in text
    assert checker.check("normalize", quiet=True).ok


def test_student_traceback_keeps_only_notebook_frames(milestone, notebook):
    notebook(SETUP), notebook(GOOD_SCALE)
    notebook("def _norm(v):\n    return np.sqrt(v.dot(v)) / undefined_name\n")
    notebook("def normalize(v):\n    n = _norm(v)\n    return v / n\n")
    result = checker.check("normalize", quiet=True)
    test = result.tests[0]
    assert test.outcome == "error"
    lines = test.message.splitlines()
    assert lines[0].strip() == "<cell-4>, line 2, in normalize"
    assert "n = _norm(v)" in lines[1]
    assert lines[2].strip() == "<cell-3>, line 2, in _norm"
    assert lines[-1] == "NameError: name 'undefined_name' is not defined"
    assert "test_public.py" not in test.message and "checker.py" not in test.message


def test_undefined_function_says_run_the_cell(milestone, notebook):
    notebook(SETUP)
    result = checker.check("scale", quiet=True)
    assert result.tests[0].outcome == "not_implemented"
    assert "`scale` is not defined: run the cell" in result.tests[0].message


def test_grading_env_makes_check_a_no_op(milestone, notebook, monkeypatch):
    monkeypatch.setenv(checker.GRADING_ENV, "1")
    result = checker.check("scale")
    assert result.grading and result.tests == [] and checker.check_all().grading
    assert not (milestone / ".course").exists()


def test_unknown_part_and_missing_tests_are_one_line_errors(milestone, notebook, tmp_path, monkeypatch):
    result = checker.check("pca", quiet=True)
    assert result.error == "no public tests for part 'pca' in m00-check; parts: scale, normalize"
    assert not result.ok
    monkeypatch.chdir(tmp_path)
    lost = checker.check("scale", quiet=True)
    assert "set check.milestone" in lost.error and "\n" not in lost.error


def test_milestone_override_from_elsewhere(milestone, notebook, tmp_path, monkeypatch):
    notebook(SETUP), notebook(GOOD_SCALE)
    monkeypatch.chdir(tmp_path)  # the parent of m00-check/
    monkeypatch.setattr(checker.check, "milestone", "m00-check")
    assert checker.check("scale", quiet=True).ok
    monkeypatch.setattr(checker.check, "milestone", None)
    monkeypatch.setenv(checker.MILESTONE_ENV, str(milestone))
    assert checker.check("scale", quiet=True).ok


def test_progress_is_cached_for_course_status(milestone, notebook):
    notebook(SETUP), notebook(GOOD_SCALE), notebook(STUB_NORMALIZE)
    checker.check("scale", quiet=True)
    checker.check("normalize", quiet=True)
    cached = json.loads((milestone / ".course" / "checks.json").read_text())
    assert cached["milestone"] == "m00-check"
    assert cached["parts"]["scale"]["points"] == 2.0 and cached["parts"]["normalize"]["points"] == 0.0


def write_tests(folder: Path, source: str) -> None:
    (folder / "tests" / "test_public.py").write_text(textwrap.dedent(source))


def test_forbid_blocks_notebook_code_but_not_the_test_oracle(milestone, notebook):
    write_tests(milestone, '''
        import numpy as np
        from coursekit_student.testing import part, points, forbid

        @part("normalize")
        @points(1)
        @forbid("numpy.linalg", "numpy.dot", "@")
        def test_norm_by_hand(submission, rng):
            v = rng.normal(size=4)
            np.testing.assert_allclose(submission.normalize(v), v / np.linalg.norm(v))  # oracle: allowed
    ''')
    notebook(SETUP)
    notebook("def normalize(v):\n    return v / np.linalg.norm(v)\n")
    [test] = checker.check("normalize", quiet=True).tests
    assert test.outcome == "forbidden" and "`numpy.linalg` is not allowed" in test.message
    notebook("from numpy import dot\ndef normalize(v):\n    return v / dot(v, v) ** 0.5\n")
    [test] = checker.check("normalize", quiet=True).tests
    assert test.outcome == "forbidden" and "`numpy.dot` is not allowed" in test.message
    notebook("def normalize(v):\n    try:\n        return v / (v @ v) ** 0.5\n    except Exception:\n        return v\n")
    [test] = checker.check("normalize", quiet=True).tests
    assert test.outcome == "forbidden", "a caught violation still counts"
    notebook(GOOD_NORMALIZE)
    assert checker.check("normalize", quiet=True).ok
    import numpy

    assert numpy.linalg.norm([3.0, 4.0]) == 5.0  # everything restored afterwards


def test_partial_credit_timeout_and_fixtures(milestone, notebook):
    write_tests(milestone, '''
        from coursekit_student.testing import part, points, timeout, kit

        @part("scale")
        @points(4)
        def test_partial(submission, credit, device):
            assert device in ("cpu", "cuda") and kit(submission).has("scale")
            credit.award(0.25, "1 of 4 cases")
            assert submission.scale(1, 2) == 3

        @part("scale")
        @points(1)
        @timeout(0.3)
        def test_fast(submission):
            submission.scale(0, 0)
    ''')
    notebook("def scale(v, c):\n    if v == 0:\n        while True:\n            pass\n    return v * c\n")
    result = checker.check("scale", quiet=True)
    partial, fast = result.tests
    assert partial.outcome == "failed" and partial.earned == 1.0 and "partial credit: 1 of 4 cases" in partial.message
    assert fast.outcome == "timeout" and "<cell-1>, line" in fast.message
    assert result.points == 1.0 and result.max_points == 5.0


@pytest.mark.timeout(30)
def test_outer_timeout_survives_an_inner_deadline(milestone, notebook):
    write_tests(milestone, '''
        from coursekit_student.testing import part, points, timeout, kit

        @part("scale")
        @points(1)
        @timeout(0.5)
        def test_outer(submission):
            with kit(submission).deadline(5):
                submission.scale(1, 1)
            submission.scale(0, 0)  # loops forever: the test's own 0.5 s limit must still fire
    ''')
    notebook("def scale(v, c):\n    while v == 0:\n        pass\n    return v * c\n")
    [test] = checker.check("scale", quiet=True).tests
    assert test.outcome == "timeout" and "0.5 s" in test.message


GPU_TESTS = '''
    from coursekit_student.testing import part, points, gpu, cpu_smoke

    @part("scale")
    @points(3)
    @gpu
    def test_big(submission, device):
        assert device == "cuda"

    @part("scale")
    @points(3)
    @cpu_smoke
    def test_big_smoke(submission, device):
        assert device == "cpu"
'''


@pytest.mark.parametrize("device, runs", [("cpu", "test_big_smoke"), ("cuda", "test_big")])
def test_gpu_test_or_its_cpu_smoke_twin_runs(milestone, notebook, monkeypatch, device, runs):
    write_tests(milestone, GPU_TESTS)
    monkeypatch.delenv("COURSEKIT_DEVICE", raising=False)
    monkeypatch.setattr(checker, "detect_device", lambda: device)
    result = checker.check("scale", quiet=True)
    assert [t.name for t in result.tests] == [runs] and result.ok and result.max_points == 3.0


def test_device_detection_never_imports_torch(monkeypatch):
    import sys

    from coursekit_student.runtime import detect_device

    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not loaded (or not installed)
    assert detect_device() == "cpu"


def test_html_escapes_student_text_and_names_hidden_tests(milestone, notebook):
    notebook(SETUP)
    notebook("def scale(v, c):\n    raise ValueError('<script>alert(1)</script>')\n")
    result = checker.check("scale", quiet=True)
    page = render.as_html(result)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Hidden tests also count" in page and 'class="ck-test ck-error"' in page


def test_result_is_shown_once_as_cell_value(milestone, notebook, capsys):
    notebook(SETUP), notebook(GOOD_SCALE)
    result = checker.check("scale")  # not in a kernel: plain text on stdout
    assert "check('scale') all passed · 2/2 public points if graded now" in capsys.readouterr().out
    result._ipython_display_()  # the cell's value right after check(): suppressed
    assert capsys.readouterr().out == ""
    result._ipython_display_()  # displayed again later: shown
    assert "all passed" in capsys.readouterr().out


@pytest.mark.slow
def test_in_a_real_kernel_check_renders_html_once(milestone):
    """nbclient runs the blank fixture release: each check cell shows one HTML summary, no duplicate Out[]."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(milestone / "m00-check.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(milestone)}}).execute()
    check_cell = next(c for c in notebook.cells if c.source == 'check("scale")')
    [output] = check_cell.outputs  # displayed by check(); the returned result adds no Out[] of its own
    assert output.output_type == "display_data"
    assert 'class="coursekit-check"' in output.data["text/html"]
    assert "not implemented yet" in output.data["text/html"]
    assert output.data["text/plain"].startswith("check('scale') 0/1 passed")
    progress = json.loads((milestone / ".course" / "checks.json").read_text())
    assert set(progress["parts"]) == {"scale", "normalize"}


def test_check_says_what_the_part_is_worth_with_hidden_tests(milestone, notebook):
    # `course release` stamps course.yaml's points per part into the release notebook.
    path = milestone / "m00-check.ipynb"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["metadata"]["coursekit"] = {"part_points": {"scale": 10, "normalize": 5}}
    path.write_text(json.dumps(data), encoding="utf-8")
    notebook(SETUP), notebook(GOOD_SCALE), notebook(GOOD_NORMALIZE)
    scale = checker.check("scale", quiet=True)
    assert "2/2 public points if graded now; the part is worth 10 in all (hidden tests: 8)" in render.as_text(scale)
    table = render.as_text(checker.check_all(quiet=True), table=True)
    assert "part worth" in table and table.splitlines()[-2].split()[-1] == "15"
    assert "<th>part worth (with hidden tests)</th>" in render.as_html(scale, table=True)


def test_a_notebook_without_part_points_still_checks(milestone, notebook):
    notebook(SETUP), notebook(GOOD_SCALE)
    text = render.as_text(checker.check("scale", quiet=True))
    assert "2/2 public points if graded now" in text and "worth" not in text
