"""The gradebook store: ingest, sticky overrides, comments, extensions, CSV and Canvas exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.review.results import ReviewError
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.synthetic import DEFAULT_MILESTONE, DEFAULT_PARTS, synthetic_course, write_synthetic_class

MILESTONE = DEFAULT_MILESTONE


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    write_synthetic_class(out, 12, seed=3)
    record_batch(out_dir=out, course=synthetic_course(), milestone=MILESTONE)
    return out


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / "results.json").read_text())


def _regrade(out: Path, student: str, test: str, score: float) -> None:
    """What a re-grade does: rewrite the student's results.json, then the engine records the batch."""
    data = _results(out, student)
    for t in data["tests"]:
        if t["name"] == test:
            t["score"] = score
            t["status"] = "passed" if score >= t["max_score"] else "failed"
    (out / student / "results.json").write_text(json.dumps(data))
    record_batch(out_dir=out, course=synthetic_course(), milestone=MILESTONE)


def _csv_rows(out: Path) -> dict[str, dict[str, str]]:
    return {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}


def _failed_test(out: Path, student: str) -> dict:
    return next(t for t in _results(out, student)["tests"] if t["score"] == 0 and t["max_score"] > 0)


def test_record_batch_ingests_every_result_and_writes_gradebook_csv(graded: Path) -> None:
    summary_before = (graded / "summary.json").read_text()
    rows = _csv_rows(graded)
    assert sorted(rows) == [f"student{i:04d}" for i in range(12)]
    header = next(csv.reader((graded / "gradebook.csv").open()))
    assert header[:1 + len(DEFAULT_PARTS)] == ["student", *DEFAULT_PARTS]
    for student, row in rows.items():
        r = _results(graded, student)
        assert float(row["total"]) == pytest.approx(r["score"])
        for part, p in r["extra_data"]["parts"].items():
            assert float(row[part]) == pytest.approx(p["score"])
        policy = synthetic_course().late_policy_for(synthetic_course().milestone(MILESTONE))
        expected = policy.penalty_fraction(r["extra_data"]["late"]["seconds_late"])
        assert float(row["penalty_fraction"]) == pytest.approx(expected)
        assert float(row["final_score"]) == pytest.approx(r["score"] * (1 - expected), abs=1e-3)
    assert (graded / "summary.json").read_text() == summary_before


def test_override_survives_regrade_and_flags_the_row(graded: Path) -> None:
    test = _failed_test(graded, "student0001")
    code, out = run("override", str(graded), "student0001", "--test", test["name"], "--score", str(test["max_score"]),
                    "--reason", "regrade request: answer correct up to sign", "--by", "ana")
    assert code == 0, out
    before = _csv_rows(graded)["student0001"]
    assert before["overrides"] == "1" and before["needs_review"] == ""

    # Re-grade without a change to that test: the override stands, no flag.
    record_batch(out_dir=graded, course=synthetic_course(), milestone=MILESTONE)
    assert _csv_rows(graded)["student0001"]["needs_review"] == ""

    # Re-grade that changes the overridden test's autograde: the override is kept and the row flagged.
    _regrade(graded, "student0001", test["name"], test["max_score"] / 2)
    row = _csv_rows(graded)["student0001"]
    assert row["needs_review"] == "yes" and row["overrides"] == "1"
    assert float(row["total"]) == pytest.approx(float(before["total"]))  # override still applied
    with Gradebook.open(graded) as book:
        grade = book.grade("student0001")
        assert grade.needs_review and "override" in grade.review_reason and test["name"] in grade.review_reason

    # Re-applying the override (a TA looked again) re-bases it and clears the flag; idempotent.
    for _ in range(2):
        code, _ = run("override", str(graded), "student0001", "--test", test["name"], "--score",
                      str(test["max_score"]), "--reason", "checked after re-grade", "--by", "ana")
        assert code == 0
    assert _csv_rows(graded)["student0001"]["needs_review"] == ""
    with Gradebook.open(graded) as book:
        assert len(book.overrides("student0001")) == 1


def test_part_override_wins_and_remove_restores_autograde(graded: Path) -> None:
    autograde = float(_csv_rows(graded)["student0002"]["pca"])
    code, out = run("override", str(graded), "student0002", "--part", "pca", "--score", "15", "--reason", "manual review")
    assert code == 0, out
    row = _csv_rows(graded)["student0002"]
    assert float(row["pca"]) == 15
    code, out = run("override", str(graded), "student0002", "--part", "pca", "--remove")
    assert code == 0 and "removed" in out
    assert float(_csv_rows(graded)["student0002"]["pca"]) == autograde


def test_extension_removes_late_penalty(graded: Path) -> None:
    with Gradebook.open(graded) as book:
        late = next(g for g in book.grades() if g.penalty_fraction > 0 and g.seconds_late < 4 * 86400)
    days = -(-late.seconds_late // 86400)
    code, out = run("extend", str(graded), late.student, "--days", f"{days:g}", "--reason", "medical")
    assert code == 0, out
    row = _csv_rows(graded)[late.student]
    assert float(row["penalty_fraction"]) == 0 and float(row["final_score"]) == pytest.approx(float(row["total"]))
    assert float(row["extension_days"]) == days


def test_comments_are_idempotent(graded: Path) -> None:
    for _ in range(2):
        code, out = run("comment", str(graded), "student0003", "Nice derivation of the SVD", "--by", "ana")
        assert code == 0
    assert "already there (1 in all)" in out
    run("comment", str(graded), "student0003", "Please cite your sources", "--by", "ana")
    with Gradebook.open(graded) as book:
        assert [c["text"] for c in book.comments("student0003")] == ["Nice derivation of the SVD",
                                                                      "Please cite your sources"]


@pytest.mark.parametrize("args, message", [
    (["override", "{out}", "ghost", "--part", "pca", "--score", "1", "--reason", "x"], "unknown student 'ghost'"),
    (["override", "{out}", "student0001", "--part", "pcb", "--score", "1", "--reason", "x"], "unknown part 'pcb'"),
    (["override", "{out}", "student0001", "--test", "test_nope", "--score", "1", "--reason", "x"], "unknown test"),
    (["override", "{out}", "student0001", "--part", "pca", "--score", "99", "--reason", "x"], "outside 0..15"),
    (["override", "{out}", "student0001", "--part", "pca", "--score", "1"], "needs a --reason"),
    (["override", "{out}", "student0001", "--score", "1", "--reason", "x"], "exactly one of --test"),
    (["comment", "{out}", "ghost", "hi"], "unknown student 'ghost'"),
    (["extend", "{out}", "student0001", "--days", "-1"], "negative"),
    (["export", "{out}/nowhere", "--format", "csv"], "no gradebook.sqlite"),
])
def test_bad_input_gives_one_line_error(graded: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, [a.format(out=graded) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def test_canvas_export_matches_canvas_import_layout(graded: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    with roster.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "name", "id", "sis_user_id", "sis_login_id", "section"])
        for i in range(12):
            w.writerow([f"student{i:04d}", f"Doe{i}, Jane", 1000 + i, f"S{i:05d}", f"jdoe{i}", "Lab A"])
    run("override", str(graded), "student0004", "--part", "solve", "--score", "10", "--reason", "manual")
    out_file = tmp_path / "canvas.csv"
    code, out = run("export", str(graded), "--format", "canvas", "--roster", str(roster),
                    "--assignment-id", "7148451", "--out", str(out_file))
    assert code == 0, out
    rows = list(csv.reader(out_file.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "Linear algebra from scratch [m01-linear-algebra] (7148451)"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][1:5] == ["", "", "", ""] and rows[1][5] == "65"
    assert len(rows) == 2 + 12
    gradebook = _csv_rows(graded)
    for row in rows[2:]:
        i = int(row[1]) - 1000
        assert row[:5] == [f"Doe{i}, Jane", str(1000 + i), f"S{i:05d}", f"jdoe{i}", "Lab A"]
        assert float(row[5]) == pytest.approx(float(gradebook[f"student{i:04d}"]["final_score"]), abs=0.01)
    # Canvas's own gradebook export works as a roster too (matched on SIS Login ID).
    canvas_roster = tmp_path / "canvas-export.csv"
    canvas_roster.write_text("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (1)\n"
                             "    Points Possible,,,,,10\n"
                             + "".join(f"\"Doe{i}, Jane\",{2000 + i},S{i},student{i:04d},Lab B,5\n" for i in range(12)))
    code, out = run("export", str(graded), "--format", "canvas", "--roster", str(canvas_roster))
    assert code == 0 and "\"Doe3, Jane\",2003,S3,student0003,Lab B," in out


def test_canvas_export_refuses_students_missing_from_roster(graded: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,id\nstudent0000,1\n")
    result = CliRunner().invoke(cli, ["export", str(graded), "--format", "canvas", "--roster", str(roster)])
    assert result.exit_code == 1 and "11 graded students are not in the roster" in result.output
    result = CliRunner().invoke(cli, ["export", str(graded), "--format", "canvas", "--roster", str(roster),
                                      "--skip-missing"])  # the old name of --skip-unmatched still works
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 3
    assert "warning: left out 11 graded students not in the roster: student0001" in result.stderr


def test_store_refuses_a_second_milestone_in_one_folder(graded: Path) -> None:
    other = synthetic_course(milestone_id="m02-calculus")
    with pytest.raises(ReviewError, match="belongs to m01-linear-algebra"):
        record_batch(out_dir=graded, course=other, milestone="m02-calculus")


def test_report_builds_the_store_from_course_yaml_when_missing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_synthetic_class(out, 5, seed=1)
    course_file = tmp_path / "course.yaml"
    course_file.write_text(yaml.safe_dump(synthetic_course().model_dump(mode="json")))
    code, text = run("--course", str(course_file), "report", str(out))
    assert code == 0, text
    assert (out / "gradebook.sqlite").is_file() and (out / "gradebook.csv").is_file()
    assert len(list(csv.reader(io.StringIO((out / "gradebook.csv").read_text())))) == 6


def test_report_picks_up_a_regrade_not_yet_recorded(graded: Path) -> None:
    data = _results(graded, "student0005")
    for t in data["tests"]:
        t["score"], t["status"] = t["max_score"], "passed"
    data["score"] = 65.0
    for p in data["extra_data"]["parts"].values():
        p["score"] = p["max_score"]
    (graded / "student0005" / "results.json").write_text(json.dumps(data))
    code, out = run("report", str(graded))
    assert code == 0, out
    assert float(_csv_rows(graded)["student0005"]["total"]) == 65


def test_new_submission_with_same_scores_still_flags_the_override(graded: Path) -> None:
    run("override", str(graded), "student0006", "--part", "solve", "--score", "10", "--reason", "oral exam")
    data = _results(graded, "student0006")
    data["extra_data"]["submission_sha256"] = "0" * 64  # the student uploaded a new notebook
    (graded / "student0006" / "results.json").write_text(json.dumps(data))
    record_batch(out_dir=graded, course=synthetic_course(), milestone=MILESTONE)
    with Gradebook.open(graded) as book:
        grade = book.grade("student0006")
        assert grade.needs_review and "new submission" in grade.review_reason
        assert grade.parts["solve"] == 10


def test_older_store_is_migrated_without_losing_overrides(graded: Path) -> None:
    import sqlite3

    run("override", str(graded), "student0007", "--part", "pca", "--score", "1", "--reason", "copied plots")
    with sqlite3.connect(graded / "gradebook.sqlite") as conn:  # make it look like a schema-1 store
        conn.execute("ALTER TABLE overrides DROP COLUMN basis_sha256")
        conn.execute("ALTER TABLE submissions DROP COLUMN flags")
        conn.execute("PRAGMA user_version = 1")
    record_batch(out_dir=graded, course=synthetic_course(), milestone=MILESTONE)
    with Gradebook.open(graded) as book:
        assert book.grade("student0007").parts["pca"] == 1
        assert book.conn.execute("PRAGMA user_version").fetchone()[0] >= 4
