"""Grade one submission in this (trusted) process: ``python -m coursekit.grading.run_one CONFIG.json``.

Each submission is graded in a process of its own so that no state is shared between students on
the trusted side either: a child forked by the grading server (pool.py), or this module run as a
fresh interpreter. Writes ``results.json`` and ``grader.log`` (for TAs).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

from coursekit.config import load_course
from coursekit.grading.backends import LocalBackend, SandboxBackend
from coursekit.grading.bridge import Bridge
from coursekit.grading.notebook import SubmissionError, load_submission, suspicious_lines
from coursekit.grading.paths import MilestonePaths
from coursekit.grading.results import build_results
from coursekit.grading.results_model import write_results
from coursekit.grading.static_check import holds_for
from coursekit.grading.sandbox import SandboxSpec, protections, python_paths
from coursekit.review.escape import terminal_safe


class _Unreadable:
    """Backend for a submission that is not a gradable notebook: every test reports why."""

    def __init__(self, error: SubmissionError):
        self.error = error
        self.unreadable = error  # the plugin fails each test at setup with it (no oracle work is done)
        outer = self

        class Proxy:
            def __getattr__(self, name: str):
                raise outer.error

        self.proxy = Proxy()

    def begin_test(self, **kwargs) -> None:
        pass

    def end_test(self) -> None:
        pass


@contextlib.contextmanager
def _quiet_pytest():
    """No plugin autoload for the grading session (see pytest_args); the environment is restored after."""
    previous = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = previous


class _EarlyBridge(Bridge):
    """A Bridge whose notebook load (worker start + cells) begins now, while pytest starts and collects.

    The plugin calls prepare() when collection is done, before any test; here prepare() waits for the
    load begun early instead of starting one, so the bridge is never used from two threads at once.
    """

    def prepare_soon(self) -> None:
        self._early: threading.Thread | None = threading.Thread(target=super().prepare, name="notebook-load",
                                                                daemon=True)
        self._early.start()

    def prepare(self) -> None:
        early, self._early = getattr(self, "_early", None), None
        if early is None:
            super().prepare()
        else:
            early.join()

    def stop(self) -> None:
        early = getattr(self, "_early", None)
        if early is not None and early is not threading.current_thread():
            self.prepare()  # pytest ended before preparing (e.g. nothing collected): let the load finish
        super().stop()


def hidden_paths(*, course_root: Path, notebook: Path, out_dir: Path) -> list[str]:
    """Everything the student's worker must not see."""
    candidates = {course_root, notebook.resolve().parent, out_dir.resolve(), Path.home(), Path("/root"),
                  Path("/home"), Path("/srv")}
    for variable in ("COURSE_DATA_CACHE", "COURSE_DATA_MIRROR", "COURSEKIT_HIDE"):
        for value in os.environ.get(variable, "").split(os.pathsep):
            if value and os.path.isabs(value):
                candidates.add(Path(value))
    candidates.add(Path.home() / ".cache")
    return sorted({str(p.resolve()) for p in candidates if p.exists()})


def pytest_args(paths: MilestonePaths, *, collect_only: bool = False, stop_at_first_loss: bool = False) -> list[str]:
    """The grading session's arguments; run it with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 (see _quiet_pytest).

    Installed plugins are not auto-loaded (their imports cost about 0.35 s per submission and none
    belongs in a grading session); pytest-timeout, which the plugin's timeout markers need, is named.
    """
    targets = [str(p) for p in (paths.public_tests, paths.hidden_suite) if p.is_dir()]
    args = [*targets, "-c", os.devnull, "--rootdir", str(paths.root), "--import-mode=importlib",
            "-p", "pytest_timeout", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist",
            "-q", "-rN", "--no-header",
            "-W", "ignore::pytest.PytestUnknownMarkWarning"]
    # ``stop_at_first_loss`` (course mutate): one lost test already kills a mutant, and the tests after
    # it (often a training run) would only confirm what is known; never used for a student's grade.
    return args + (["--collect-only"] if collect_only else []) + (["--maxfail=1"] if stop_at_first_loss else [])


def _import_suite_modules(paths: MilestonePaths) -> None:
    """What a batch server pre-imports (torch, sklearn...), imported here by a lean server's child
    while the worker loads the notebook; otherwise a test that imports torch in its body would pay
    that second while the student's worker waits."""
    from coursekit.grading.pool import import_all, preloads_for

    import_all(preloads_for([paths.hidden_suite, paths.public_tests]))


def run(config: dict) -> dict:
    started = time.monotonic()
    course_file = Path(config["course_file"])
    # The client's sandbox probe (sandbox.probe_env, sent by api.grade_one): protections() reads it instead of probing again.
    os.environ.update({str(k): str(v) for k, v in (config.get("env") or {}).items()})
    os.environ["COURSE_FILE"] = str(course_file)  # hidden suites' load_dataset reads this course
    course = load_course(course_file, check_files=False)
    milestone = course.milestone(config["milestone_id"])
    paths = MilestonePaths.of(course_file, milestone)
    limits = course.limits_for(milestone)
    device = config.get("device", "cpu")
    out = Path(config["out"])
    submitted_at = dt.datetime.fromisoformat(config["submitted_at"]) if config.get("submitted_at") else None
    notebook = Path(config["notebook"])

    submission_error, sha, cells = None, None, []
    try:
        cells, sha = load_submission(notebook)
    except SubmissionError as exc:
        submission_error = str(exc)
    except OSError as exc:
        submission_error = f"the submission could not be read ({exc.strerror}); upload it again"

    bridge = None
    if submission_error:
        backend = _Unreadable(SubmissionError(submission_error))
    elif config.get("backend") == "local":
        backend = LocalBackend(cells, device)
    else:
        spec = SandboxSpec(memory_mb=limits.memory_mb, cpu_seconds=limits.submission_seconds + limits.notebook_seconds,
                           processes=limits.processes, file_mb=limits.file_mb, output_kb=limits.output_kb,
                           device=device, keep=python_paths(),
                           hide=hidden_paths(course_root=paths.root, notebook=notebook, out_dir=out.parent))
        bridge = _EarlyBridge(cells=cells, spec=spec, notebook_seconds=limits.notebook_seconds,
                              call_seconds=limits.test_seconds)
        bridge.prepare_soon()
        backend = SandboxBackend(bridge, device)
    # Imported only now, while the student's worker starts (prepare_soon): a single-submission server
    # forks before importing pytest (pool.py --lean), so these imports cost no wall time there.
    import pytest

    from coursekit.grading.plugin import GradingPlugin

    if config.get("preload_in_child") and bridge is not None:
        _import_suite_modules(paths)

    plugin = GradingPlugin(backend=backend, hidden_dir=paths.hidden_suite, device=device,
                           gpu_available=device == "cuda", test_seconds=limits.test_seconds,
                           submission_seconds=limits.submission_seconds, parts=dict(milestone.parts),
                           only_parts=config.get("only_parts"), submission_sha256=sha)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), _quiet_pytest():
        exit_code = pytest.main(pytest_args(paths, stop_at_first_loss=bool(config.get("stop_at_first_loss"))),
                                plugins=[plugin])
    if bridge is not None:
        bridge.stop()
    grader_error = None
    if exit_code not in (0, 1, 5) or plugin.state.problems:
        grader_error = "; ".join(plugin.state.problems) or f"pytest exited with status {int(exit_code)}"
    records = list(plugin.state.records.values())
    results = build_results(
        course=course, milestone=milestone, student=config["student"], sha256=sha, records=records,
        metrics=plugin.state.metrics, notebook_errors=bridge.notebook_errors if bridge else [],
        execution_time=time.monotonic() - started, device=device,
        gpu_mode=("gpu" if device == "cuda" else "smoke") if milestone.needs == "gpu" else None,
        peak_memory_mb=bridge.peak_rss_mb if bridge else None, restarts=bridge.restarts if bridge else 0,
        sandbox=protections()[0] if bridge else "none", sandbox_missing=list(protections()[1]) if bridge else [],
        submitted_at=submitted_at, grader_error=grader_error, submission_error=submission_error,
        flags=suspicious_lines(cells), only_parts=config.get("only_parts"),
        holds=holds_for(cells, (paths.public_tests, paths.hidden_suite)) if cells else [],
        time_source=config.get("time_source"))
    write_results(out, results)
    student_output = bridge.output_text() if bridge else ""
    (out.parent / "grader.log").write_text(
        # Student text (tracebacks in pytest's log, printed output) made inert for a TA's terminal.
        f"# pytest (exit {int(exit_code)})\n{terminal_safe(log.getvalue())}\n# student stdout/stderr\n"
        f"{terminal_safe(student_output)}\n",
        encoding="utf-8")
    return results


def collect(config: dict) -> list[dict]:
    course_file = Path(config["course_file"])
    course = load_course(course_file, check_files=False)
    milestone = course.milestone(config["milestone_id"])
    paths = MilestonePaths.of(course_file, milestone)
    import pytest

    from coursekit.grading.plugin import GradingPlugin

    plugin = GradingPlugin(backend=None, hidden_dir=paths.hidden_suite, device="cpu", gpu_available=False,
                           test_seconds=1, submission_seconds=1, parts=dict(milestone.parts))
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), _quiet_pytest():
        exit_code = pytest.main(pytest_args(paths, collect_only=True), plugins=[plugin])
    if exit_code not in (0, 5):
        raise RuntimeError(f"collecting the tests of {milestone.id} failed:\n{log.getvalue()[-3000:]}")
    return [{"name": r.name, "nodeid": r.nodeid, "part": r.part, "points": r.points, "kind": r.kind,
             "gpu": r.gpu, "cpu_smoke": r.cpu_smoke} for r in plugin.state.records.values()] + [
        {"problem": p} for p in plugin.state.problems]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(argv[-1]).read_text())
    if "--collect" in argv:
        print(json.dumps(collect(config)))
    else:
        run(config)


if __name__ == "__main__":
    main()
    # Everything is written (results.json, grader.log, stdout): skip interpreter shutdown, which costs
    # about a second after pytest, numpy and torch (module teardown, atexit, GC of everything).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
