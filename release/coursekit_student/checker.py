"""``check("part")`` and ``check_all()``: the public tests, run instantly in the student's kernel.

No pytest collection: the public test modules next to the notebook (``tests/test_*.py``) are
imported once, the functions carrying ``coursekit_student.testing`` metadata for the part are
called with fixtures built here, and a short summary is shown. Student mistakes never raise out
of ``check``; it returns a :class:`CheckResult`.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import linecache
import os
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from coursekit_student import testing
from coursekit_student.runtime import LocalKit, NotDefined, Submission, detect_device, is_student_frame, user_namespace

GRADING_ENV = "COURSEKIT_GRADING"
MILESTONE_ENV = "COURSEKIT_MILESTONE"
NO_RECORD_ENV = "COURSEKIT_NO_RECORD"  # set by `course submit`: its fresh-kernel run must not overwrite progress
CACHE_DIR = ".course"
CACHE_FILE = "checks.json"
HIDDEN_NOTE = "Hidden tests also count toward your grade: passing every check here does not guarantee full marks."


class CheckSetupError(Exception):
    """The checks cannot run at all (no tests found, unknown part); the message says how to fix it."""


# ----------------------------------------------------------------------------- results


@dataclass
class TestOutcome:
    name: str
    part: str
    points: float
    outcome: str  # passed | failed | error | timeout | forbidden | not_implemented | skipped
    earned: float = 0.0
    hint: str | None = None
    message: str = ""  # what went wrong, for the student (their own traceback, trimmed)
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@dataclass
class CheckResult:
    """What ``check``/``check_all`` found; shown once by check(), re-shown when displayed again."""

    milestone: str | None
    parts: list[str]
    tests: list[TestOutcome] = field(default_factory=list)
    error: str | None = None
    grading: bool = False  # True when the grader's worker called check(): nothing ran
    part_points: dict[str, float] = field(default_factory=dict)  # each part's total (hidden tests included)
    _just_shown: bool = field(default=False, repr=False)

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.tests)

    @property
    def failed(self) -> int:
        return sum(t.outcome not in ("passed", "skipped") for t in self.tests)

    @property
    def points(self) -> float:
        return round(sum(t.earned for t in self.tests), 6)

    @property
    def max_points(self) -> float:
        return round(sum(t.points for t in self.tests if t.outcome != "skipped"), 6)

    @property
    def ok(self) -> bool:
        return self.error is None and self.failed == 0 and self.passed > 0

    def by_part(self) -> dict[str, dict[str, float]]:
        table: dict[str, dict[str, float]] = {}
        for name in self.parts:
            tests = [t for t in self.tests if t.part == name and t.outcome != "skipped"]
            table[name] = {"passed": sum(t.passed for t in tests), "total": len(tests),
                           "points": round(sum(t.earned for t in tests), 6),
                           "max_points": round(sum(t.points for t in tests), 6)}
        return table

    def to_json(self) -> dict[str, Any]:
        return {"milestone": self.milestone, "passed": self.passed, "failed": self.failed, "points": self.points,
                "max_points": self.max_points, "error": self.error, "parts": self.by_part(),
                "tests": [{"name": t.name, "part": t.part, "outcome": t.outcome, "points": t.points,
                           "earned": t.earned} for t in self.tests]}

    def __repr__(self) -> str:
        label = ", ".join(self.parts) if len(self.parts) <= 3 else f"{len(self.parts)} parts"
        return (f"CheckResult({label}: {self.passed} passed, {self.failed} failed, "
                f"{self.points:g}/{self.max_points:g} public points)")

    def _ipython_display_(self) -> None:
        # check() has already shown this result; don't print it a second time as the cell's value.
        if self._just_shown:
            self._just_shown = False
            return
        show(self)


# ----------------------------------------------------------------------------- finding the tests


def _has_tests(folder: Path) -> bool:
    return (folder / "tests").is_dir() and any((folder / "tests").glob("test_*.py"))


def find_milestone_dir(milestone: str | os.PathLike | None = None, cwd: Path | None = None) -> Path:
    """The folder holding ``tests/test_*.py`` for the notebook being checked.

    ``milestone`` (or ``check.milestone``, or $COURSEKIT_MILESTONE) may be a folder or a milestone
    id looked up next to the working directory; by default the working directory itself, which
    JupyterLab, Notebook and VS Code set to the notebook's folder.
    """
    cwd = Path.cwd() if cwd is None else cwd
    wanted = milestone or getattr(check, "milestone", None) or os.environ.get(MILESTONE_ENV)
    if wanted:
        wanted_path = Path(wanted).expanduser()
        candidates = [wanted_path] if wanted_path.is_absolute() else [
            cwd / wanted_path, cwd.parent / wanted_path, cwd / "release" / wanted_path]
        if cwd.name == str(wanted):
            candidates.insert(0, cwd)
        for folder in candidates:
            if _has_tests(folder):
                return folder.resolve()
        raise CheckSetupError(f"no public tests for milestone {str(wanted)!r} (looked for tests/test_*.py in "
                              f"{', '.join(str(c) for c in candidates)}); open the notebook from its release folder")
    if _has_tests(cwd):
        return cwd.resolve()
    raise CheckSetupError(f"no tests/test_*.py next to this notebook (working directory {cwd}); open the notebook "
                          f"from its release/<milestone>/ folder or set check.milestone = '<milestone id>'")


_MODULES: dict[Path, tuple[float, types.ModuleType]] = {}


def _import_tests(path: Path) -> types.ModuleType:
    """Import a public test file, once per version of the file (re-imported when it changes)."""
    mtime = path.stat().st_mtime
    cached = _MODULES.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    name = f"_coursekit_public_{path.parent.parent.name.replace('-', '_')}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CheckSetupError(f"{path} is not an importable Python file; re-download the release")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # helpers next to the tests
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise CheckSetupError(f"{path.name} could not be loaded ({type(exc).__name__}: {exc}); "
                              f"re-download the release or ask on the forum") from None
    finally:
        sys.path.remove(str(path.parent))
    _MODULES[path] = (mtime, module)
    return module


@dataclass
class PublicTest:
    name: str
    fn: Callable
    meta: dict[str, Any]

    @property
    def part(self) -> str:
        return self.meta["part"]


def collect(folder: Path) -> list[PublicTest]:
    """Every public test function with a ``@part`` in ``folder/tests``, in file and definition order."""
    found: list[PublicTest] = []
    for path in sorted((folder / "tests").glob("test_*.py")):
        module = _import_tests(path)
        for name, fn in vars(module).items():
            meta = testing.metadata(fn) if callable(fn) else {}
            if name.startswith("test") and "part" in meta:
                found.append(PublicTest(name, fn, meta))
    return found


def part_points(folder: Path) -> dict[str, float]:
    """What each part is worth in total, as ``course release`` stamped it into the release notebook."""
    try:
        metadata = json.loads((folder / f"{folder.name}.ipynb").read_text(encoding="utf-8")).get("metadata", {})
        points = metadata.get("coursekit", {}).get("part_points", {})
        return {str(k): float(v) for k, v in points.items()} if isinstance(points, dict) else {}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}  # an older release or an edited file: check() still runs, without the totals


def part_order(folder: Path, tests: list[PublicTest]) -> list[str]:
    """Parts in notebook order (``part:<name>`` cell tags), then any others the tests name."""
    order: list[str] = []
    notebook = folder / f"{folder.name}.ipynb"
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        cells = []
    for cell in cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith("part:") and tag[5:] not in order:
                order.append(tag[5:])
    for test in tests:
        if test.part not in order:
            order.append(test.part)
    return [p for p in order if any(t.part == p for t in tests)]


# ----------------------------------------------------------------------------- running one test


def _not_implemented(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, NotImplementedError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _cell_label(filename: str) -> str:
    """``Cell In[7]`` for a notebook cell's code (IPython maps its temp file names to counts)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        number = shell.compile._filename_map.get(filename) if shell is not None else None
    except (ImportError, AttributeError):
        number = None
    return f"Cell In[{number}]" if number is not None else filename


def student_traceback(exc: BaseException, namespace: dict[str, Any], limit: int = 6) -> str:
    """The exception and only the frames of the notebook's own code (never the test's or the kit's)."""
    frames = [(frame, lineno) for frame, lineno in traceback.walk_tb(exc.__traceback__)
              if is_student_frame(frame, namespace)]
    lines = []
    for frame, lineno in frames[-limit:]:
        code = frame.f_code
        source = linecache.getline(code.co_filename, lineno, frame.f_globals).strip()
        lines.append(f"  {_cell_label(code.co_filename)}, line {lineno}, in {code.co_name}")
        if source:
            lines.append(f"    {source}")
    message = _trim(str(exc), 6)
    lines.append(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
    return "\n".join(lines)


def _trim(text: str, max_lines: int) -> str:
    lines = text.strip().splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + ["..."]
    return "\n".join(line if len(line) <= 300 else line[:300] + "..." for line in lines)


def _skip_exception() -> tuple[type[BaseException], ...]:
    pytest = sys.modules.get("pytest")
    return (pytest.skip.Exception,) if pytest is not None else ()


def _fixtures(test: PublicTest, namespace: dict[str, Any], kit: LocalKit, credit: testing.Credit) -> dict[str, Any]:
    import numpy as np  # the tests' oracles need it anyway; imported only when a check runs

    available: dict[str, Callable[[], Any]] = {
        "submission": lambda: Submission(namespace, kit),
        "credit": lambda: credit,
        "rng": lambda: np.random.default_rng(testing.seed_for(test.name)),
        "device": lambda: kit.device,
    }
    wanted = inspect.signature(test.fn).parameters
    unknown = [p for p in wanted if p not in available]
    if unknown:
        raise CheckSetupError(f"test {test.name} asks for fixture(s) {', '.join(unknown)}; "
                              f"public tests may use only {', '.join(testing.FIXTURES)}")
    return {name: available[name]() for name in wanted}


def run_test(test: PublicTest, namespace: dict[str, Any], kit: LocalKit) -> TestOutcome:
    """Call one public test against the live namespace and classify what happened."""
    meta = test.meta
    result = TestOutcome(test.name, test.part, float(meta.get("points", 0.0)), "passed", hint=meta.get("hint"))
    credit = testing.Credit()
    start = time.perf_counter()
    try:
        kwargs = _fixtures(test, namespace, kit, credit)
        with kit.forbid(*meta.get("forbid", ())):
            if "timeout" in meta:
                with kit.deadline(meta["timeout"]):
                    test.fn(**kwargs)
            else:
                test.fn(**kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - pytest.fail/skip derive from BaseException
        _classify(result, exc, namespace)
    result.duration = time.perf_counter() - start
    fraction = 1.0 if credit.fraction is None and result.passed else (credit.fraction or 0.0)
    result.earned = round(result.points * fraction, 6)
    if credit.message and not result.passed:
        result.message = (result.message + "\n" if result.message else "") + f"partial credit: {credit.message}"
    return result


def _classify(result: TestOutcome, exc: BaseException, namespace: dict[str, Any]) -> None:
    from coursekit_student.forbid import ForbiddenError

    in_student_code = any(is_student_frame(f, namespace) for f, _ in traceback.walk_tb(exc.__traceback__))
    if isinstance(exc, _skip_exception()):
        result.outcome, result.message = "skipped", str(getattr(exc, "msg", exc))
    elif _not_implemented(exc):
        result.outcome = "not_implemented"
        result.message = "not implemented yet: replace `raise NotImplementedError()` with your code"
    elif isinstance(exc, CheckSetupError):
        result.outcome, result.message = "error", str(exc)
    elif isinstance(exc, NotDefined):  # the cell defining it was never run: same advice as a stub
        result.outcome, result.message = "not_implemented", str(exc)
    elif isinstance(exc, ForbiddenError):
        result.outcome, result.message = "forbidden", student_traceback(exc, namespace)
    elif isinstance(exc, TimeoutError) and "check allows" in str(exc):  # raised by LocalKit.deadline
        result.outcome = "timeout"
        result.message = student_traceback(exc, namespace) if in_student_code else str(exc)
    elif in_student_code:
        result.outcome, result.message = "error", student_traceback(exc, namespace)
    else:  # the test's own assertion failed on the student's values
        result.outcome = "failed"
        result.message = _trim(str(exc), 8) or f"{type(exc).__name__} in the test's checks"


# ----------------------------------------------------------------------------- public API


def _grading() -> bool:
    return os.environ.get(GRADING_ENV) == "1"


def _run(parts: list[str] | None, milestone: str | os.PathLike | None, remember: bool = True) -> CheckResult:
    try:
        folder = find_milestone_dir(milestone)
        tests = collect(folder)
        order = part_order(folder, tests)
    except CheckSetupError as exc:
        return CheckResult(None, parts or [], error=str(exc))
    if parts is not None:
        unknown = [p for p in parts if p not in order]
        if unknown:
            return CheckResult(folder.name, parts, error=(
                f"no public tests for part {unknown[0]!r} in {folder.name}; parts: {', '.join(order) or 'none'}"))
        order = parts
    namespace = user_namespace()
    kit = LocalKit(namespace, os.environ.get("COURSEKIT_DEVICE") or detect_device())
    result = CheckResult(folder.name, order, part_points=part_points(folder))
    for test in (t for t in tests if t.part in order):
        if test.meta.get("gpu") and kit.device != "cuda":
            continue  # its @cpu_smoke twin carries the same part and points
        if test.meta.get("cpu_smoke") and kit.device == "cuda":
            continue
        result.tests.append(run_test(test, namespace, kit))
    if remember and os.environ.get(NO_RECORD_ENV) != "1":
        record(folder, result)
    return result


def check(part: str, *, milestone: str | os.PathLike | None = None, quiet: bool = False) -> CheckResult:
    """Run the public tests of ``part`` against this notebook's current definitions and show a summary."""
    if _grading():
        return CheckResult(None, [part], grading=True)
    result = _run([part], milestone)
    if not quiet:
        show(result)
    return result


def check_all(*, milestone: str | os.PathLike | None = None, quiet: bool = False,
              remember: bool = True) -> CheckResult:
    """Run every part's public tests and show a points table (``remember``: update ``course status``)."""
    if _grading():
        return CheckResult(None, [], grading=True)
    result = _run(None, milestone, remember)
    if not quiet:
        show(result, table=True)
    return result


check.milestone = None  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- progress cache


def record(folder: Path, result: CheckResult) -> None:
    """Remember each part's latest outcome in ``<milestone>/.course/checks.json`` for ``course status``."""
    path = folder / CACHE_DIR / CACHE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data["milestone"] = folder.name
    parts = data.setdefault("parts", {})
    for name, row in result.by_part().items():
        parts[name] = {**row, "checked_at": now}
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only checkout: progress is a convenience, the check still ran
        pass


def show(result: CheckResult, table: bool = False) -> None:
    """HTML in a notebook front end (with a text/plain twin), plain text anywhere else."""
    from coursekit_student import render

    text = render.as_text(result, table=table or len(result.parts) > 1)
    if render.in_kernel():
        from IPython.display import display

        html = render.as_html(result, table=table or len(result.parts) > 1)
        display({"text/html": html, "text/plain": text}, raw=True)
    else:
        print(text)
    result._just_shown = True
