"""The course as a grader sees it: course.yaml, hidden suites, public tests, release notebooks.

A bundle is what ships to a grading machine (a container image, a Gradescope zip): everything
``course grade`` reads, and no solution. Each milestone's ``notebook:`` points at its *release*
notebook, compiled here from the source (stubs, no solutions), so the bundle is a complete,
valid course on its own; public tests sit beside it as in release/, hidden suites under
autograder/suites/ as in the repository. Milestones without a source notebook or hidden suite
yet cannot be graded and are left out (and said so).

    python -m coursekit.infra.bundle --course course.yaml --out /course [ID ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from coursekit.config.loader import load_course
from coursekit.grading.paths import MilestonePaths
from coursekit.grading.secret import course_secret

SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".ipynb"}
HEADER = "# Grading bundle written by coursekit.infra.bundle from the course's course.yaml; do not edit.\n"


class BundleError(Exception):
    """The bundle cannot be made; one line saying what to fix."""


def tree(base: Path, prefix: str) -> dict[str, Path]:
    """Files under ``base`` keyed ``prefix/relative`` (caches and notebooks left out), sorted."""
    found: dict[str, Path] = {}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if path.is_dir() or any(p in SKIP_DIRS or p.endswith(".egg-info") for p in rel.parts):
            continue
        if path.suffix in SKIP_SUFFIXES:
            continue
        found[f"{prefix}/{rel.as_posix()}"] = path
    return found


def gradable(course_file: Path, milestone_id: str) -> str | None:
    """Why a milestone cannot be bundled (None if it can)."""
    milestone = load_course(course_file, check_files=False).milestone(milestone_id)
    paths = MilestonePaths.of(course_file, milestone)
    if not paths.source_notebook.is_file():
        return f"{paths.source_notebook} is missing; the release notebook is compiled from it"
    if not any(paths.hidden_suite.glob("test*.py")):
        return f"{paths.hidden_suite} has no test_*.py; write the hidden suite first"
    return None


def course_bundle(course_file: Path, milestone_ids: list[str]) -> dict[str, Path | bytes]:
    """Bundle path -> file or bytes for these milestones (BundleError if one cannot be graded)."""
    from coursekit.compiler.notebook import compile_file

    course = load_course(course_file, check_files=False)
    data = yaml.safe_load(course_file.read_text(encoding="utf-8"))
    entries = {m.get("id"): m for m in data["milestones"]}
    contents: dict[str, Path | bytes] = {}
    kept = []
    for milestone_id in milestone_ids:
        milestone = course.milestone(milestone_id, error=BundleError)
        problem = gradable(course_file, milestone_id)
        if problem:
            raise BundleError(f"{milestone_id} cannot be graded yet: {problem}")
        paths = MilestonePaths.of(course_file, milestone)
        release = f"release/{milestone_id}"
        kept.append({**entries[milestone_id], "notebook": f"{release}/{paths.source_notebook.name}"})
        contents[f"{release}/{paths.source_notebook.name}"] = compile_file(paths.source_notebook)
        contents.update(tree(paths.hidden_suite, f"autograder/suites/{milestone_id}"))
        if paths.public_tests.is_dir():
            contents.update(tree(paths.public_tests, f"{release}/tests"))
    data["milestones"] = kept
    # Hidden inputs are seeded from this secret (grading/secret.py): a hosted grader without it would
    # make a new one per run, and a regrade would no longer reproduce the score.
    contents["autograder/secret"] = course_secret(course_file.resolve().parent) + b"\n"
    contents["course.yaml"] = (HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)).encode()
    return contents


def write_bundle(course_file: Path, out: Path, milestone_ids: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Write the bundle under ``out``; returns (bundled ids, skipped "id: why" lines).

    Without ids: every milestone that can be graded (the others are skipped, with the reason).
    """
    course = load_course(course_file, check_files=False)
    skipped: list[str] = []
    if milestone_ids is None:
        milestone_ids = []
        for milestone in course.milestones:
            problem = gradable(course_file, milestone.id)
            (skipped.append(f"{milestone.id}: {problem}") if problem else milestone_ids.append(milestone.id))
        if not milestone_ids:
            raise BundleError(f"no milestone of {course_file} can be graded yet ({skipped[0] if skipped else 'none'})")
    for name, source in course_bundle(course_file, milestone_ids).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source if isinstance(source, bytes) else source.read_bytes())
    load_course(out / "course.yaml")  # the bundle must be a valid course, notebooks included
    return milestone_ids, skipped


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.infra.bundle")
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)
    try:
        bundled, skipped = write_bundle(args.course, args.out, args.ids or None)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in skipped:
        print(f"skipped {line}")
    print(f"bundled {', '.join(bundled)} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
