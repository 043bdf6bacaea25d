"""The quick demo builds the class it says it grades (grading itself is covered by the engine tests)."""

from __future__ import annotations

from pathlib import Path

import nbformat

from coursekit.config import load_course
from coursekit.demo import HOSTILE_CELL, QUICK_MILESTONE, QUICK_MUTANTS, build_class
from coursekit.grading.paths import MilestonePaths

COURSE = Path(__file__).resolve().parents[1] / "course.yaml"


def test_quick_class_has_reference_blank_partials_and_a_hostile_student(tmp_path: Path) -> None:
    paths = MilestonePaths.of(COURSE, load_course(COURSE, check_files=False).milestone(QUICK_MILESTONE))
    students = build_class(paths, tmp_path / "class", mutants=QUICK_MUTANTS, hostile=True)
    names = [p.stem for p in students]
    assert names[:2] == ["reference", "blank"] and names[-1] == "hostile"
    assert len([n for n in names if n.startswith("partial-")]) == QUICK_MUTANTS
    hostile = nbformat.read(students[-1], as_version=4)
    assert hostile.cells[-1].source == HOSTILE_CELL
    compile(HOSTILE_CELL, "<hostile>", "exec")  # the demo's attacker is valid Python
