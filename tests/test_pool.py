"""The long-lived grading server (grading/pool.py): fork per submission, budgets, crashes, restarts.

A batch keeps one server per slot; each submission is graded in a child forked for it alone. These
tests prove the properties that make that equivalent to a fresh process per submission: the same
results as a one-off grade, a child's crash or overrun ends only that child (the server grades the
next one), a dead server is replaced, and the server holds no thread when it forks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coursekit.grading.api import _grader_env, grade_one
from coursekit.grading.results_model import Results
from coursekit.grading.pool import GraderProcessError, GradingServer, preloads_for

FIXTURE = Path(__file__).parent / "fixtures" / "engine_course"
COURSE = FIXTURE / "course.yaml"
NOTEBOOK = FIXTURE / "source" / "m00-engine" / "m00-engine.ipynb"


def _blank(tmp_path: Path) -> Path:
    """The reference notebook with every graded function raising NotImplementedError."""
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            lines = []
            for line in source.splitlines():
                lines.append(line)
                if line.startswith("def ") or line.startswith("    def "):
                    indent = len(line) - len(line.lstrip()) + 4
                    lines.append(" " * indent + "raise NotImplementedError")
            cell["source"] = "\n".join(lines)
    path = tmp_path / "blank.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def _scores(results: Results) -> list:
    return [(t.name, t.score, t.outcome) for t in results.tests]


@pytest.fixture
def server():
    server = GradingServer(_grader_env())
    yield server
    server.close()


@pytest.mark.slow
def test_one_server_grades_submission_after_submission_like_fresh_processes(tmp_path, server):
    blank = _blank(tmp_path)
    fresh_ref = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="a", device="cpu")
    fresh_blank = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=blank, student="b", device="cpu")
    served = [grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=path, student=f"s{i}", device="cpu",
                        server=server) for i, path in enumerate([NOTEBOOK, blank, NOTEBOOK])]
    assert fresh_ref.score == 6 and fresh_blank.score == 0
    assert _scores(served[0]) == _scores(served[2]) == _scores(fresh_ref)
    assert _scores(served[1]) == _scores(fresh_blank)
    assert all(r.grader.error is None for r in served)


@pytest.mark.slow
def test_the_server_holds_no_thread_when_it_forks(server):
    # After a first request the server has finished its imports and is waiting for the next one:
    # exactly the state in which it forks.
    reply = server.grade(Path("/nonexistent/config.json"), Path(os.devnull), budget=60)
    assert reply["exit"] == 1
    assert len(os.listdir(f"/proc/{server.process.pid}/task")) == 1


@pytest.mark.slow
def test_a_crashing_child_is_that_submissions_grader_error_and_the_server_goes_on(tmp_path, server):
    log = tmp_path / "child.log"
    reply = server.grade(tmp_path / "missing-config.json", log, budget=60)
    assert reply == {"exit": 1, "timed_out": False}
    assert "FileNotFoundError" in log.read_text()
    pid = server.process.pid
    results = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="next",
                        device="cpu", server=server)
    assert results.score == 6 and server.process.pid == pid


@pytest.mark.slow
def test_a_child_past_its_budget_is_killed_and_the_server_goes_on(tmp_path, server):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "course_file": str(COURSE.resolve()), "milestone_id": "m00-engine", "notebook": str(NOTEBOOK.resolve()),
        "student": "slow", "out": str(tmp_path / "slow" / "results.json"), "device": "cpu", "backend": "sandbox",
        "only_parts": None, "submitted_at": None}))
    started = time.monotonic()
    reply = server.grade(config, tmp_path / "slow.log", budget=0.2)
    assert reply["timed_out"] is True and reply["exit"] == -signal.SIGKILL
    assert time.monotonic() - started < 30
    assert not (tmp_path / "slow" / "results.json").exists()
    results = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="next",
                        device="cpu", server=server)
    assert results.score == 6


@pytest.mark.slow
def test_a_dead_server_fails_the_submission_in_flight_and_is_restarted_for_the_next(tmp_path, server):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "course_file": str(COURSE.resolve()), "milestone_id": "m00-engine", "notebook": str(NOTEBOOK.resolve()),
        "student": "x", "out": str(tmp_path / "x" / "results.json"), "device": "cpu",
        "backend": "sandbox"}))
    server_pid, children = server.process.pid, []

    def kill_server_once_it_forked() -> None:
        deadline = time.monotonic() + 60
        while not children and time.monotonic() < deadline:
            children.extend(Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split())
            time.sleep(0.01)
        os.kill(server_pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_server_once_it_forked)
    killer.start()
    with pytest.raises(GraderProcessError, match="grading server stopped"):
        server.grade(config, tmp_path / "x.log", budget=120)
    killer.join()
    assert children, "the server never forked a child"
    deadline = time.monotonic() + 10
    while Path(f"/proc/{children[0]}").exists() and time.monotonic() < deadline:  # dies with its server
        time.sleep(0.05)
    assert not Path(f"/proc/{children[0]}").exists()
    assert not (tmp_path / "x" / "results.json").exists()  # nothing written after the error was reported
    results = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="next",
                        device="cpu", server=server)
    assert results.score == 6


def test_the_server_preloads_what_the_tests_import_except_stdlib_kit_and_local_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_x.py").write_text("import os\nimport helpers\n# a comment about torch\n"
                                              "from coursekit_student.testing import part\n")
    (tmp_path / "a" / "helpers.py").write_text("import json\nfrom . import test_x\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "test_y.py").write_text("def test():\n    import torch\n    from scipy import stats\n")
    (tmp_path / "b" / "test_broken.py").write_text("def test(:\n")
    assert preloads_for([tmp_path / "a", tmp_path / "missing"]) == []
    assert preloads_for([tmp_path / "a", tmp_path / "b"]) == ["scipy", "scipy.stats", "torch"]


def test_a_cpu_milestone_never_imports_torch_to_pick_its_device():
    code = ("import sys; from pathlib import Path; from coursekit.grading.api import prepare; "
            f"d = prepare(Path({str(COURSE)!r}), 'm00-engine', 'auto')[3]; print(d, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "False"]


def test_no_visible_gpu_is_answered_without_torch():
    code = ("import sys; from coursekit.grading.api import cuda_available; "
            "print(cuda_available(), 'torch' in sys.modules)")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_a_lean_server_forks_before_importing_pytest(tmp_path):
    """A single-submission server (``--lean``) imports only what launches the worker: its child
    imports pytest while the student's worker starts, and grades exactly as a preloaded server does."""
    env = dict(_grader_env(), PYTHONPROFILEIMPORTTIME="1")  # the server's import log goes to its stderr file
    lean = GradingServer(env, lean=True)
    try:
        served = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="a",
                           device="cpu", server=lean)
        imports = lean._error_text()
    finally:
        lean.close()
    fresh = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="b", device="cpu")
    assert "coursekit.grading.run_one" in imports
    assert "| pytest\n" not in imports and "_pytest" not in imports, "the lean server imported pytest itself"
    assert served.score == 6 and _scores(served) == _scores(fresh)


@pytest.mark.slow
def test_stop_at_first_loss_runs_no_test_after_the_first_failure(tmp_path):
    """course mutate's mode: one lost test is the verdict; the rest are recorded as not run (0 points)."""
    blank = _blank(tmp_path)
    stopped = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=blank, student="b", device="cpu",
                        stop_at_first_loss=True)
    outcomes = [t.outcome.value for t in stopped.tests]
    assert outcomes[0] == "not_implemented" and set(outcomes[1:]) == {"error"} and len(outcomes) == 6
    assert stopped.score == 0 and stopped.max_score == 6
