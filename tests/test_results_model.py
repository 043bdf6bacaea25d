"""The one results model: round trip, files written by older kits, a broken file's error, enum values."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from coursekit.config.loader import load_course
from coursekit.grading.results import build_results
from coursekit.grading.results_model import (Outcome, Results, ResultsFileError, Status, read_results,
                                             write_results)
from coursekit.review.synthetic import DEFAULT_DUE, DEFAULT_MILESTONE, DEFAULT_PARTS, _tests_for, synthetic_results

ENGINE = Path(__file__).parent / "fixtures" / "engine_course" / "course.yaml"

# A results.json as the kit wrote it before the typed model (no late.source, no grader.sandbox_missing,
# no holds, "ok" next to a submission_error, a test without an outcome).
OLD_FILE = {
    "score": 2.0, "execution_time": 3.5, "output": "m00: 2 / 6 points.", "visibility": "visible",
    "stdout_visibility": "hidden",
    "tests": [
        {"name": "[matmul] test_small", "score": 2.0, "max_score": 2.0, "status": "passed", "output": "",
         "visibility": "visible", "extra_data": {"part": "matmul", "kind": "public", "duration": 0.1}},
        {"name": "[matmul] test_big", "score": 0.0, "max_score": 4.0, "status": "failed", "output": "no",
         "visibility": "after_due_date",
         "extra_data": {"part": "matmul", "kind": "hidden", "outcome": "timeout", "duration": 30.0}},
    ],
    "extra_data": {
        "milestone": "m00-engine", "student": "ada", "submission_sha256": "ab" * 32,
        "parts": {"matmul": {"score": 2.0, "max_score": 6.0}},
        "late": {"submitted_at": "2027-02-01T10:00:00+00:00", "due": "2027-02-01T09:00:00+00:00",
                 "seconds_late": 3600.0, "penalty_fraction": 0.1},
        "grader": {"status": "ok", "error": None, "device": "cpu", "gpu_mode": None, "peak_memory_mb": 80.0,
                   "worker_restarts": 0, "sandbox": "full"},
        "metrics": {"accuracy": {"value": 0.9, "threshold": 0.95, "higher_is_better": True, "test": "t"}},
        "notebook_errors": [], "submission_error": "two notebooks", "flags": [],
        "a_key_from_a_newer_kit": {"kept": True},
    },
}


def test_enum_values_are_the_strings_on_disk() -> None:
    assert [o.value for o in Outcome] == ["passed", "failed", "not_implemented", "forbidden", "timeout", "crashed",
                                          "error", "skipped"]
    assert [s.value for s in Status] == ["ok", "invalid", "error"]


def test_build_results_round_trips_through_the_file(tmp_path) -> None:
    course = load_course(ENGINE, check_files=False)
    milestone = course.milestone("m00-engine")
    results = build_results(course=course, milestone=milestone, student="ada", sha256="cd" * 32, records=[],
                            metrics={"loss": {"value": 0.5, "threshold": 1.0, "higher_is_better": False, "test": "x"}},
                            notebook_errors=[{"cell": 3, "ename": "NameError", "evalue": "np"}], execution_time=1.25,
                            device="cpu", gpu_mode=None, peak_memory_mb=50.0, restarts=0, sandbox="full",
                            submitted_at=milestone.due + dt.timedelta(hours=2), time_source="times")
    assert isinstance(results, Results) and results.status is Status.ok
    assert results.late.source == "times" and results.late.seconds_late == 7200.0
    assert results.extra_data.metrics["loss"].met is True
    path = tmp_path / "ada" / "results.json"
    write_results(path, results)
    again = read_results(path)
    assert again == results
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == results.to_json()
    # Gradescope's top-level keys, in Gradescope's vocabulary
    assert list(on_disk)[:7] == ["score", "execution_time", "output", "visibility", "stdout_visibility", "tests",
                                 "extra_data"]
    assert not list(tmp_path.glob("ada/.*tmp")), "the atomic writer left its temporary file"


def test_synthetic_class_round_trips() -> None:
    results = synthetic_results("bo", rng=random.Random(4), parts=DEFAULT_PARTS, tests=_tests_for(DEFAULT_PARTS, 3),
                                milestone_id=DEFAULT_MILESTONE, due=DEFAULT_DUE)
    assert Results.from_json(json.loads(json.dumps(results.to_json()))) == results
    assert all(isinstance(t.outcome, Outcome) for t in results.tests)


def test_a_file_from_an_older_kit_still_reads_and_keeps_unknown_keys(tmp_path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(OLD_FILE), encoding="utf-8")
    results = read_results(path)
    assert results.status is Status.invalid  # "ok" next to a submission_error meant "invalid" all along
    assert results.max_score == 6.0  # computed from the parts when the file lacks it
    assert results.tests[0].outcome is Outcome.passed and results.tests[1].outcome is Outcome.timeout
    assert results.grader.sandbox_missing == [] and results.extra_data.holds == []
    assert results.late.source is None and results.late.submitted_time == dt.datetime(2027, 2, 1, 10,
                                                                                    tzinfo=dt.timezone.utc)
    assert results.final_score == 1.8
    assert results.to_json()["extra_data"]["a_key_from_a_newer_kit"] == {"kept": True}


def test_an_unknown_outcome_or_status_is_never_read_as_a_pass() -> None:
    data = json.loads(json.dumps(OLD_FILE))
    data["tests"][0]["extra_data"]["outcome"] = "magic"
    data["extra_data"]["grader"]["status"] = "great"
    data["extra_data"]["submission_error"] = None
    results = Results.from_json(data)
    assert results.tests[0].outcome is Outcome.failed and results.status is Status.error


@pytest.mark.parametrize("content, says", [
    ("{not json", "not valid JSON"),
    ("[]", "not a results.json"),
    (json.dumps({"score": 1, "tests": []}), "extra_data"),
    (json.dumps({**OLD_FILE, "tests": [{"name": "t"}]}), "tests.0.max_score"),
])
def test_a_broken_file_is_one_clear_line(tmp_path, content, says) -> None:
    path = tmp_path / "results.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ResultsFileError) as info:
        read_results(path)
    message = str(info.value)
    assert says in message and str(path) in message and "\n" not in message and "re-grade" in message


def test_a_missing_file_says_to_grade_first(tmp_path) -> None:
    with pytest.raises(ResultsFileError, match="grade the submission first"):
        read_results(tmp_path / "nobody" / "results.json")
