"""The source -> release compiler: nbgrader preprocessors as a library, plus the leak guard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coursekit.compiler.build import Diff, Plan, ReleaseError, diff_release, make_plan, select, write_release
from coursekit.compiler.leakguard import Leak
from coursekit.compiler.notebook import MarkerError, NotebookError, compile_file
from coursekit.config import Course


@dataclass
class ReleaseResult:
    plan: Plan
    diff: Diff  # release/ before this run, compared with the plan
    leaks: list[Leak]


def build_release(course: Course, course_root: Path, ids: tuple[str, ...] | list[str] = (), *,
                  check: bool = False, release_dir: Path | None = None, guard: bool = True) -> ReleaseResult:
    """Build (or with ``check`` only compare) release/ for the given milestones (all if none).

    Raises ReleaseError / MarkerError / NotebookError with one-line messages. The leak guard
    scans the release folder as it is after the run (with ``check``: as it is on disk).
    """
    from coursekit.compiler import leakguard

    release = release_dir or course_root / "release"
    milestones = select(course, ids)
    plan = make_plan(course, course_root, milestones)
    diff = diff_release(release, plan, all_milestones=not ids)
    if not check:
        write_release(release, plan, diff)
    leaks = leakguard.check(course, course_root, release) if guard and release.is_dir() else []
    return ReleaseResult(plan, diff, leaks)


__all__ = ["Diff", "Leak", "MarkerError", "NotebookError", "Plan", "ReleaseError", "ReleaseResult",
           "build_release", "compile_file"]
