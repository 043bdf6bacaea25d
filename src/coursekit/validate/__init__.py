"""``course validate``: prove a milestone is sound before students see it.

Six checks per milestone (AUTHORING.md):

a. ``reference``: the source notebook scores full points on public + hidden tests;
b. ``blank``: the untouched release scores 0, with no grader error and every failed test
   failing because of ``NotImplementedError`` (a test that passes on a stub is too weak; one
   that crashes is broken);
c. ``executes``: the release notebook runs top to bottom in a fresh kernel with only
   ``NotImplementedError`` errors;
d. ``points``: every test maps to a part of course.yaml and per-part points add up, both in
   GPU mode (all but ``@cpu_smoke``) and in CPU mode (all but ``@gpu``);
e. ``current``: ``course release --check`` for that milestone (stale files, leaks);
f. ``lint``: the release-notebook conventions (``coursekit.lint``), when installed.

Results go to ``reference/<id>/validate.json``: scores per part and seconds per check, nothing
about hidden tests.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from coursekit.config import Course, Milestone, load_course
from coursekit.grading.results_model import Outcome as TestOutcome, Results, Status

NOT_IMPLEMENTED = "NotImplementedError"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class MilestoneReport:
    milestone: str
    checks: list[Check] = field(default_factory=list)
    reference_parts: dict[str, dict] = field(default_factory=dict)
    blank_parts: dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict:
        """What reference/<id>/validate.json holds: public numbers only (no test names or values)."""
        return {
            "milestone": self.milestone,
            "ok": self.ok,
            "checks": {c.name: {"ok": c.ok, "seconds": round(c.seconds, 2)} for c in self.checks},
            "reference_parts": self.reference_parts,
            "blank_release_parts": self.blank_parts,
        }


def _timed(name: str, run: Callable[[], tuple[bool, str]]) -> Check:
    started = time.perf_counter()
    try:
        ok, detail = run()
    except Exception as exc:  # a check that cannot even run is a failed check, with the reason
        ok, detail = False, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
    return Check(name, ok, detail, time.perf_counter() - started)


# ---------------------------------------------------------------- (a) and (b): grading


def _parts(results: Results) -> dict[str, dict]:
    return {part: {"score": round(v.score, 4), "max_score": v.max_score} for part, v in results.parts.items()}


def _grader_error(results: Results) -> str | None:
    grader = results.grader
    if grader.status is Status.invalid:  # the notebook itself could not be read as one
        return f"the notebook is not gradable: {results.extra_data.submission_error}"
    return grader.error if grader.status is not Status.ok or grader.error else None


def check_reference(course_file: Path, milestone: Milestone, device: str, report: MilestoneReport) -> tuple[bool, str]:
    from coursekit.grading.api import grade_one

    notebook = course_file.parent / milestone.notebook
    results = grade_one(course_file=course_file, milestone_id=milestone.id, notebook=notebook,
                        student="reference", device=device)
    report.reference_parts = _parts(results)
    error = _grader_error(results)
    if error:
        return False, f"grader error: {error[:300]}"
    lost = [f"{t.name} ({t.outcome.value}: {t.score:g}/{t.max_score:g})"
            for t in results.tests if t.score < t.max_score]
    total = results.max_score
    if lost or results.score < milestone.total:
        return False, f"{results.score:g}/{total:g}; lost points: " + ", ".join(lost[:6])
    return True, f"{results.score:g}/{total:g}"


def check_blank(course_file: Path, milestone: Milestone, device: str, report: MilestoneReport) -> tuple[bool, str]:
    from coursekit.grading.api import grade_one

    notebook = course_file.parent / "release" / milestone.id / Path(milestone.notebook).name
    if not notebook.is_file():
        return False, f"{notebook.relative_to(course_file.parent)} missing; run `course release {milestone.id}`"
    results = grade_one(course_file=course_file, milestone_id=milestone.id, notebook=notebook,
                        student="blank-release", device=device)
    report.blank_parts = _parts(results)
    error = _grader_error(results)
    if error:
        return False, f"grader error: {error[:300]}"
    passing = [t.name for t in results.tests if t.score > 0]
    wrong = [f"{t.name} ({t.outcome.value})" for t in results.tests
             if t.status == "failed" and t.outcome not in (TestOutcome.not_implemented, TestOutcome.skipped)]
    problems = []
    if passing:
        problems.append("scores points on the stubs: " + ", ".join(passing[:6]))
    if wrong:
        problems.append("fails for another reason than NotImplementedError: " + ", ".join(wrong[:6]))
    if problems:
        return False, "; ".join(problems)
    skipped = sum(t.outcome is TestOutcome.skipped for t in results.tests)
    graded = len(results.tests) - skipped
    note = f" ({skipped} GPU/smoke tests skipped on this device)" if skipped else ""
    return True, f"0/{results.max_score:g}, {graded} tests not_implemented{note}"


# ---------------------------------------------------------------- (c): fresh-kernel execution


def check_executes(course_root: Path, milestone: Milestone, seconds: float) -> tuple[bool, str]:
    import nbformat
    from nbclient import NotebookClient

    release_dir = course_root / "release" / milestone.id
    notebook = release_dir / Path(milestone.notebook).name
    if not notebook.is_file():
        return False, f"release/{milestone.id}/{notebook.name} missing; run `course release {milestone.id}`"
    with tempfile.TemporaryDirectory(prefix="coursekit-validate-") as scratch:
        # A copy, so check()'s progress file and anything the notebook writes never land in release/.
        work = Path(scratch) / milestone.id
        shutil.copytree(release_dir, work)
        nb = nbformat.read(work / notebook.name, as_version=4)
        env = {**os.environ, "COURSEKIT_NO_RECORD": "1", "MPLBACKEND": "Agg",
               "COURSE_DATASETS": str(course_root / "release" / "datasets.json")}
        client = NotebookClient(nb, timeout=int(seconds), allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        client.execute(env=env)  # env goes to the kernel only (other checks run in parallel threads)
    errors = [(index, output.get("ename", "?"), output.get("evalue", "")) for index, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for output in cell.get("outputs", []) if output.output_type == "error"]
    others = [f"cell {i}: {name}: {value[:120]}" for i, name, value in errors if name != NOT_IMPLEMENTED]
    if others:
        return False, "; ".join(others[:4])
    return True, f"{sum(c.cell_type == 'code' for c in nb.cells)} code cells, {len(errors)} NotImplementedError"


# ---------------------------------------------------------------- (d): points


def points_problems(tests: list[dict], milestone: Milestone) -> list[str]:
    """Why the collected tests do not add up to course.yaml (empty list: they do)."""
    problems = [t["problem"] for t in tests if "problem" in t]
    real = [t for t in tests if "problem" not in t]
    for test in real:
        if test["part"] not in milestone.parts:
            problems.append(f"{test['name']} scores part {test['part']!r}, which is not in course.yaml "
                            f"(parts: {', '.join(milestone.parts)})")
    tested = {t["part"] for t in real}
    for part, expected in milestone.parts.items():
        if part not in tested:
            problems.append(f"part {part!r} has no tests (course.yaml gives it {expected} points)")
    for mode, skipped in (("GPU", "cpu_smoke"), ("CPU", "gpu")):
        for part, expected in milestone.parts.items():
            got = sum(t["points"] for t in real if t["part"] == part and not t.get(skipped))
            if part in tested and abs(got - expected) > 1e-9:
                problems.append(f"part {part!r}: tests give {got:g} points in {mode} mode, course.yaml says {expected}")
    return problems


def check_points(course_file: Path, milestone: Milestone) -> tuple[bool, str]:
    from coursekit.grading.api import collect_tests

    tests = collect_tests(course_file=course_file, milestone_id=milestone.id)
    problems = points_problems(tests, milestone)
    if problems:
        return False, "; ".join(problems[:6])
    real = [t for t in tests if "problem" not in t]
    hidden = sum(t["kind"] == "hidden" for t in real)
    return True, f"{len(real)} tests ({hidden} hidden) over {len(milestone.parts)} parts = {milestone.total} points"


# ---------------------------------------------------------------- (e) and (f)


def check_current(course: Course, course_root: Path, milestone: Milestone) -> tuple[bool, str]:
    from coursekit.compiler import build_release

    result = build_release(course, course_root, [milestone.id], check=True)
    problems = []
    if not result.diff.clean:
        stale = result.diff.changed + result.diff.missing + result.diff.extra
        problems.append(f"release/ is stale ({', '.join(stale[:4])}{'…' if len(stale) > 4 else ''}); "
                        f"run `course release {milestone.id}`")
    if result.leaks:
        problems.append(f"{len(result.leaks)} leak(s), first: {result.leaks[0]}")
    return (False, "; ".join(problems)) if problems else (True, f"{len(result.plan.files)} files current, no leaks")


def check_lint(course_root: Path, milestone: Milestone) -> tuple[bool, str] | None:
    try:
        from coursekit.lint import lint_notebook
    except ImportError:
        return None
    notebook = course_root / "release" / milestone.id / Path(milestone.notebook).name
    if not notebook.is_file():
        return False, f"release/{milestone.id}/{notebook.name} missing; run `course release {milestone.id}`"
    problems = lint_notebook(notebook, milestone)
    return (False, "; ".join(problems[:4]) + (f" (+{len(problems) - 4} more)" if len(problems) > 4 else "")) \
        if problems else (True, "conventions followed")


# ---------------------------------------------------------------- driver


def validate_milestone(course_file: Path, milestone_id: str, *, device: str = "cpu",
                       write_json: bool = True) -> MilestoneReport:
    """Run all checks for one milestone; never raises for a failing check (it is reported)."""
    course_file = Path(course_file).resolve()
    course = load_course(course_file, check_files=False)
    milestone = course.milestone(milestone_id)
    root = course_file.parent
    report = MilestoneReport(milestone.id)
    if not (root / milestone.notebook).is_file():
        report.checks.append(Check("reference", False, f"{milestone.notebook} does not exist; create it"))
        return report
    seconds = course.limits_for(milestone).notebook_seconds * 10  # whole notebook; stubs fail fast
    # Grading and execution run in their own processes/kernels, so they can overlap.
    with ThreadPoolExecutor(max_workers=3) as pool:
        slow = {
            "reference": pool.submit(_timed, "reference", lambda: check_reference(course_file, milestone, device, report)),
            "blank": pool.submit(_timed, "blank", lambda: check_blank(course_file, milestone, device, report)),
            "executes": pool.submit(_timed, "executes", lambda: check_executes(root, milestone, seconds)),
        }
        fast = [_timed("points", lambda: check_points(course_file, milestone)),
                _timed("current", lambda: check_current(course, root, milestone))]
        lint_started = time.perf_counter()
        lint = check_lint(root, milestone)
        if lint is not None:
            fast.append(Check("lint", lint[0], lint[1], time.perf_counter() - lint_started))
        report.checks = [slow["reference"].result(), slow["blank"].result(), slow["executes"].result(), *fast]
    if write_json:
        out = root / "reference" / milestone.id / "validate.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


__all__ = ["Check", "MilestoneReport", "points_problems", "validate_milestone"]
