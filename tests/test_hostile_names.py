"""Input that names things, graded as one batch next to the honest reference (tests/hostile/names.py)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt  # CommonMark reference parser; installed with rich (a dependency)
from rich.console import Console

from coursekit.grading.batch import grade_batch
from tests.hostile.corpus import HONEST, engine_course, notebook_bytes
from tests.hostile.names import cases

pytestmark = pytest.mark.slow
CONTEXT = {"course_root": Path("/x"), "out_dir": Path("/y"), "port": 1}


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_size for p in sorted(root.rglob("*"))
            if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = engine_course(tmp_path_factory)  # its secret made now, so the course tree stays unchanged
    submissions = tmp_path_factory.mktemp("submissions")
    outer = tmp_path_factory.mktemp("outer")  # OUT's parent: nothing may appear here but OUT
    out = outer / "out"
    context = {"course_root": course, "out_dir": out, "port": 1}
    reference = submissions / "honest_reference.ipynb"
    reference.write_bytes(notebook_bytes(HONEST))
    corpus = cases(context)
    paths = [reference] + [case.build(submissions, context) for case in corpus]
    course_before, submissions_before = _tree(course), _tree(submissions)
    console_text = io.StringIO()
    summary = grade_batch(course_file=course / "course.yaml", milestone_id="m00-engine", submissions=paths,
                          out_dir=out, jobs=2, device="cpu", console=Console(file=console_text, width=300))
    return {"cases": {c.label: c for c in corpus}, "summary": summary, "out": out, "outer": outer, "course": course,
            "course_before": course_before, "submissions": submissions, "submissions_before": submissions_before,
            "console": console_text.getvalue()}


def _results(graded, student: str) -> dict:
    return json.loads((graded["out"] / student / "results.json").read_text())


def test_honest_reference_keeps_full_marks(graded):
    results = _results(graded, "honest_reference")
    assert results["score"] == 6 and results["extra_data"]["grader"]["status"] == "ok"


@pytest.mark.parametrize("label", [c.label for c in cases(CONTEXT)])
def test_case_lands_in_out_with_its_status_and_exact_score(graded, label):
    case = graded["cases"][label]
    results = _results(graded, case.student)
    extra = results["extra_data"]
    assert (extra["grader"]["status"], results["score"]) == (case.status, case.score), (label, results["output"])
    assert extra["student"] == case.student
    if case.error:
        assert case.error in (extra["submission_error"] or ""), extra["submission_error"]
        assert "\x1b" not in extra["submission_error"] and "\n" not in extra["submission_error"]


def test_summary_counts_invalid_as_grading_errors(graded):
    summary = graded["summary"]
    rows = {row["student"]: row for row in summary["submissions"]}
    expected = {c.student: c.status for c in graded["cases"].values()} | {"honest_reference": "ok"}
    assert {student: row["status"] for student, row in rows.items()} == expected
    invalid = sum(status == "invalid" for status in expected.values())
    assert summary["invalid"] == invalid and summary["errors"] == invalid
    printed = graded["console"]
    assert f"{invalid} grading errors ({invalid} invalid submissions)" in printed
    assert "\x1b" not in printed  # refused names and messages printed inert


def test_nothing_is_written_outside_out_and_inputs_are_untouched(graded):
    assert sorted(os.listdir(graded["outer"])) == ["out"]
    students = {c.student for c in graded["cases"].values()} | {"honest_reference"}
    children = {p.name for p in graded["out"].iterdir() if p.is_dir() and p.name != "site"}
    assert children == students
    assert _tree(graded["course"]) == graded["course_before"]
    assert _tree(graded["submissions"]) == graded["submissions_before"]  # the zip-slip entry was never extracted
    assert not (graded["outer"].parent / "x.ipynb").exists()


def test_gradebook_csv_cells_never_run_as_formulas(graded):
    rows = list(csv.reader((graded["out"] / "gradebook.csv").open()))
    students = [row[0] for row in rows[1:]]
    assert "'@mallory" in students and "@mallory" not in students
    assert not [s for s in students if s[:1] in ("=", "+", "-", "@", "\t", "\r")]
    status = rows[0].index("status")
    assert {row[status] for row in rows[1:]} == {"ok", "invalid"}


def test_student_text_is_inert_in_feedback_and_log(graded):
    folder = graded["out"] / "hostile_traceback"
    md = (folder / "feedback.md").read_text()
    log = (folder / "grader.log").read_text()
    for text in (md, log, (folder / "feedback.html").read_text()):
        assert "\x1b" not in text and "\r" not in text
    html = MarkdownIt("commonmark").render(md)
    assert "<a " not in html and "<img" not in html and "<h1>Full marks" not in html
    assert "RED" in md and "docs" in md and "overwritten" in md  # the visible text is kept
    assert "RED" in log  # printed while loading: kept for the TA, without its colour codes
