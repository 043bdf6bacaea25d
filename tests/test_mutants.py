"""Every mutant (one plausible mistake in one part) loses points on that part.

``tests/mutants/<id>.yaml`` holds them. In the default run each mutant is graded on the part it
breaks (the expensive part of grading is the other parts' training); ``make test-full`` also
checks that every *other* part keeps full marks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coursekit.config import load_course
from coursekit.grading.api import grade_one
from coursekit.grading.mutants import apply_mutant, load_mutants
from coursekit.grading.paths import MilestonePaths

ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = ROOT / "course.yaml"
FULL = os.environ.get("COURSEKIT_FULL") == "1"


def _all_mutants():
    course = load_course(COURSE_FILE, check_files=False)
    for milestone in course.milestones:
        paths = MilestonePaths.of(COURSE_FILE, milestone)
        if not (paths.source_notebook.is_file() and paths.hidden_suite.is_dir()):
            continue
        for mutant in load_mutants(paths.mutants):
            yield pytest.param(milestone.id, mutant, id=f"{milestone.id}:{mutant.name}")


MUTANTS = list(_all_mutants())


@pytest.mark.slow
@pytest.mark.parametrize("milestone_id,mutant", MUTANTS)
def test_mutant_loses_points_on_its_part(milestone_id, mutant, tmp_path):
    course = load_course(COURSE_FILE)
    milestone = course.milestone(milestone_id)
    paths = MilestonePaths.of(COURSE_FILE, milestone)
    assert mutant.part in milestone.parts, f"{mutant.name}: part {mutant.part!r} is not in course.yaml"
    notebook = apply_mutant(paths.source_notebook, mutant, tmp_path / f"{mutant.name}.ipynb")
    results = grade_one(course_file=COURSE_FILE, milestone_id=milestone_id, notebook=notebook,
                        student=mutant.name, device="cpu", only_parts=None if FULL else [mutant.part])
    assert results.status.value == "ok", results.grader
    parts = results.to_json()["extra_data"]["parts"]
    broken = parts[mutant.part]
    assert broken["score"] < broken["max_score"], (
        f"{mutant.name} ({mutant.why}) kept all {broken['max_score']:g} points of {mutant.part}")
    if FULL:
        for name, totals in parts.items():
            if name != mutant.part:
                assert totals["score"] == totals["max_score"], f"{mutant.name} also broke {name}: {totals}"


def test_every_part_of_every_milestone_has_a_mutant():
    course = load_course(COURSE_FILE, check_files=False)
    missing = []
    for milestone in course.milestones:
        paths = MilestonePaths.of(COURSE_FILE, milestone)
        if not paths.hidden_suite.is_dir():
            continue
        covered = {m.part for m in load_mutants(paths.mutants)}
        missing += [f"{milestone.id}:{part}" for part in milestone.parts if part not in covered]
    assert not missing, f"parts without a mutant in tests/mutants/: {', '.join(missing)}"
