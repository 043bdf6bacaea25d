"""Every mutant (one plausible mistake in one part) loses points on that part.

``tests/mutants/<id>.yaml`` holds them. In the default run (``make test``, CI) the first mutant
listed for each part of each milestone is graded on the part it breaks: every part of every milestone
is proven to catch a mistake while CI stays under its time budget on 2 cores. ``make test-full``
(``COURSEKIT_FULL=1``) grades every mutant and also checks that every *other* part keeps full marks;
``COURSEKIT_ALL_MUTANTS=1`` grades every mutant on its part only.

Each milestone's mutants form one test class, so ``pytest-xdist --dist loadscope`` spreads the
milestones over the workers instead of queueing every mutant of the course on one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coursekit.config import load_course
from coursekit.grading.api import grade_one, start_server
from coursekit.grading.mutants import apply_mutant, load_mutants
from coursekit.grading.paths import MilestonePaths

ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = ROOT / "course.yaml"
FULL = os.environ.get("COURSEKIT_FULL") == "1"
ALL = FULL or os.environ.get("COURSEKIT_ALL_MUTANTS") == "1"


def mutants_by_milestone(every: bool = ALL) -> dict[str, list]:
    """{milestone id: [pytest.param(mutant)]}: all mutants, or the first one listed for each part."""
    course = load_course(COURSE_FILE, check_files=False)
    chosen: dict[str, list] = {}
    for milestone in course.milestones:
        paths = MilestonePaths.of(COURSE_FILE, milestone)
        if not (paths.source_notebook.is_file() and paths.hidden_suite.is_dir()):
            continue
        seen: set[str] = set()
        for mutant in load_mutants(paths.mutants):
            if every or mutant.part not in seen:
                chosen.setdefault(milestone.id, []).append(pytest.param(mutant, id=f"{milestone.id}:{mutant.name}"))
            seen.add(mutant.part)
    return chosen


def grade_mutant(milestone_id, mutant, tmp_path, server=None):
    course = load_course(COURSE_FILE)
    milestone = course.milestone(milestone_id)
    paths = MilestonePaths.of(COURSE_FILE, milestone)
    assert mutant.part in milestone.parts, f"{mutant.name}: part {mutant.part!r} is not in course.yaml"
    notebook = apply_mutant(paths.source_notebook, mutant, tmp_path / f"{mutant.name}.ipynb")
    results = grade_one(course_file=COURSE_FILE, milestone_id=milestone_id, notebook=notebook,
                        student=mutant.name, device="cpu", only_parts=None if FULL else [mutant.part],
                        server=server)
    assert results.status.value == "ok", results.grader
    parts = results.to_json()["extra_data"]["parts"]
    broken = parts[mutant.part]
    assert broken["score"] < broken["max_score"], (
        f"{mutant.name} ({mutant.why}) kept all {broken['max_score']:g} points of {mutant.part}")
    if FULL:
        for name, totals in parts.items():
            if name != mutant.part:
                assert totals["score"] == totals["max_score"], f"{mutant.name} also broke {name}: {totals}"


@pytest.fixture(scope="class")
def server(request):
    """One pre-imported grading server for a milestone's mutants (each is still graded in a fresh fork
    of it, as a batch does): torch or scikit-learn is imported once, not once per mutant."""
    milestone = load_course(COURSE_FILE, check_files=False).milestone(request.cls.milestone_id)
    grading_server = start_server(COURSE_FILE.resolve(), milestone)
    yield grading_server
    grading_server.close()


def _milestone_class(milestone_id: str, params: list) -> type:
    @pytest.mark.slow
    @pytest.mark.parametrize("mutant", params)
    def test_mutant_loses_points_on_its_part(self, mutant, tmp_path, server):
        grade_mutant(milestone_id, mutant, tmp_path, server)

    return type(f"TestMutants_{milestone_id.replace('-', '_')}", (), {
        "milestone_id": milestone_id, "test_mutant_loses_points_on_its_part": test_mutant_loses_points_on_its_part})


for _milestone_id, _params in mutants_by_milestone().items():
    _cls = _milestone_class(_milestone_id, _params)
    globals()[_cls.__name__] = _cls


def test_the_ci_sample_covers_every_part_of_every_milestone():
    sample = mutants_by_milestone(every=False)
    course = load_course(COURSE_FILE, check_files=False)
    for milestone_id, params in sample.items():
        parts = [p.values[0].part for p in params]
        assert sorted(parts) == sorted(set(parts)), f"{milestone_id}: the sample grades one mutant per part"
        assert set(parts) == set(course.milestone(milestone_id).parts), milestone_id


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
