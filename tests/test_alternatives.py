"""Correct alternatives keep full marks: the hidden suites never fail code the text allows.

``tests/alternatives/<id>.yaml`` holds, per milestone, correct variants of the reference (same
find/with format as ``tests/mutants/``): another vectorisation, a list where the docstring allows
any sequence, GPT-2's tanh GELU... All of a milestone's alternatives are applied to its source
notebook at once and the whole milestone is graded by the sandboxed grader: every part must keep
full marks. (One grading per milestone keeps CI time down; a failure names the alternatives that
touch the part that lost points.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coursekit.config import load_course
from coursekit.grading.api import grade_one
from coursekit.grading.mutants import Mutant, apply_mutant, load_mutants
from coursekit.grading.paths import MilestonePaths

ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = ROOT / "course.yaml"
ALTERNATIVES = ROOT / "tests" / "alternatives"


def _graded_milestones() -> list[str]:
    """Every registered milestone with a hidden suite: each must have its alternatives file."""
    course = load_course(COURSE_FILE, check_files=False)
    return [m.id for m in course.milestones if MilestonePaths.of(COURSE_FILE, m).hidden_suite.is_dir()]


MILESTONES = _graded_milestones()


@pytest.mark.parametrize("milestone_id", MILESTONES)
def test_alternatives_apply_and_name_real_parts(milestone_id: str, tmp_path: Path) -> None:
    course = load_course(COURSE_FILE, check_files=False)
    milestone = course.milestone(milestone_id)
    alternatives = load_mutants(ALTERNATIVES / f"{milestone_id}.yaml")
    assert len(alternatives) >= 2, f"{milestone_id}: write at least two correct alternatives"
    source = MilestonePaths.of(COURSE_FILE, milestone).source_notebook
    for alternative in alternatives:
        assert alternative.part in milestone.parts, f"{alternative.name}: no part {alternative.part!r}"
        assert alternative.why, f"{alternative.name}: say why it is correct (why:)"
        apply_mutant(source, alternative, tmp_path / f"{alternative.name}.ipynb")  # each find occurs exactly once


@pytest.mark.slow
@pytest.mark.parametrize("milestone_id", MILESTONES)
def test_alternatives_keep_full_marks(milestone_id: str, tmp_path: Path) -> None:
    course = load_course(COURSE_FILE)
    paths = MilestonePaths.of(COURSE_FILE, course.milestone(milestone_id))
    alternatives = load_mutants(ALTERNATIVES / f"{milestone_id}.yaml")
    combined = Mutant(name="all-alternatives", part="", why="",
                      replace=tuple(pair for alternative in alternatives for pair in alternative.replace))
    notebook = apply_mutant(paths.source_notebook, combined, tmp_path / paths.source_notebook.name)
    results = grade_one(course_file=COURSE_FILE, milestone_id=milestone_id, notebook=notebook,
                        student="alternatives", device="cpu")
    assert results.status.value == "ok", results.grader
    lost = {name: (p.score, p.max_score) for name, p in results.parts.items() if p.score < p.max_score}
    blamed = {part: [a.name for a in alternatives if a.part == part] for part in lost}
    assert not lost, f"correct alternatives lost points: {lost}; alternatives in those parts: {blamed}"
