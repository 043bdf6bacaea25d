"""Lateness stored with the submission: a regrade without --times keeps it, and every page agrees.

Grades the engine fixture course (fast) with a --times CSV, adds a TA override and a released
rubric grade of a written answer, re-grades one student without --times, and checks that
results.json's late block, OUT/<student>/feedback.html, site/students/<student>.html and
gradebook.csv all say the same thing. A changed file re-submitted
without a time does not inherit the old time, and the batch names that student in one warning.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from coursekit.cli import cli
from coursekit.grading.batch import grade_batch
from coursekit.grading.results_model import read_results
from coursekit.review import written
from coursekit.review.store import Gradebook
from coursekit.review.submission_times import stored_times

FIXTURE = Path(__file__).parent / "fixtures" / "engine_course"
NOTEBOOK = FIXTURE / "source" / "m00-engine" / "m00-engine.ipynb"
DUE = dt.datetime(2027, 1, 1, 23, 59, tzinfo=dt.timezone.utc)
ALICE_AT = DUE + dt.timedelta(days=1, hours=1)  # two started days late: 20% with the default policy


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """The engine fixture course with a TA-graded written question (3 points) added."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root)
    text = (root / "course.yaml").read_text(encoding="utf-8")
    (root / "course.yaml").write_text(text.replace("    parts: {add: 2, matmul: 2, counter: 2}\n",
                                                   "    parts: {add: 2, matmul: 2, counter: 2}\n"
                                                   "    written: {analysis: 3}\n"), encoding="utf-8")
    return root / "course.yaml"


def _run(course: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--course", str(course), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _grade(course: Path, out: Path, submissions: list[Path], times: Path | None = None) -> str:
    stream = io.StringIO()
    grade_batch(course_file=course, milestone_id="m00-engine", submissions=submissions, out_dir=out, jobs=2,
                device="cpu", times_csv=times, console=Console(file=stream, width=200))
    return stream.getvalue()


def _csv_row(out: Path, student: str) -> dict[str, str]:
    return next(r for r in csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")) if r["student"] == student)


@pytest.mark.slow
def test_a_regrade_keeps_lateness_overrides_and_rubric_grades_and_every_page_agrees(course: Path,
                                                                                     tmp_path: Path) -> None:
    class_dir, out = tmp_path / "class", tmp_path / "out"
    class_dir.mkdir()
    alice, bob = class_dir / "alice.ipynb", class_dir / "bob.ipynb"
    shutil.copy(NOTEBOOK, alice)
    shutil.copy(NOTEBOOK, bob)
    times = tmp_path / "times.csv"
    times.write_text(f"student,submitted_at\nalice,{ALICE_AT.isoformat()}\n"
                     f"bob,{(DUE - dt.timedelta(hours=3)).isoformat()}\n", encoding="utf-8")
    _grade(course, out, [alice, bob], times)
    first = read_results(out / "alice" / "results.json")
    assert first.score == 6 and first.late.source == "times" and first.late.penalty_fraction == pytest.approx(0.2)

    _run(course, "override", str(out), "alice", "--part", "add", "--score", "1", "--reason", "asked to show work",
         "--by", "ta")
    with Gradebook.open(out) as book:  # a TA grades alice's written answer with a rubric item
        item = written.add_item(book, "analysis", "names the trade-off", 2, by="ta")
        written.set_mark(book, "alice", "analysis", item.id, True, by="ta")
    _run(course, "release-feedback", str(out), "--by", "ta")

    # Re-grade alice alone, without --times: the same file keeps its stored time.
    log = _grade(course, out, [alice])
    assert "warning" not in log
    late = read_results(out / "alice" / "results.json").late
    assert late.submitted_time == ALICE_AT and late.source == "times"
    assert late.seconds_late == first.late.seconds_late and late.penalty_fraction == pytest.approx(0.2)

    _run(course, "report", str(out))
    row = _csv_row(out, "alice")
    assert float(row["written:analysis"]) == 2 and float(row["total"]) == 7  # 5 autograded (override) + 2 written
    assert float(row["penalty_fraction"]) == pytest.approx(0.2) and float(row["final_score"]) == pytest.approx(5.6)
    feedback = (out / "alice" / "feedback.html").read_text(encoding="utf-8")
    page = (out / "site" / "students" / "alice.html").read_text(encoding="utf-8")
    assert feedback == page  # one view of the same stored results and staff decisions
    assert "<b>5.6 / 9</b>" in feedback and "20%" in feedback and "1.0 days late" in feedback
    assert "asked to show work" in feedback and "names the trade-off" in feedback
    markdown = (out / "alice" / "feedback.md").read_text(encoding="utf-8")
    assert "asked to show work" in markdown and "20%" in markdown

    # Bob re-submits a changed file without a time: no old time for it, and the batch says so.
    notebook = json.loads(bob.read_text(encoding="utf-8"))
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "done, v2"})
    bob.write_text(json.dumps(notebook), encoding="utf-8")
    log = _grade(course, out, [bob])
    assert "warning: no submission time for the changed file of bob" in log
    assert read_results(out / "bob" / "results.json").late.submitted_at is None
    assert len(stored_times(out)["bob"]) == 1  # the old file's time stays stored for the old file
