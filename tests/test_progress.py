"""The per-submission progress line: who, what score, and a real ETA from the batch's own pace."""

from __future__ import annotations

from coursekit.grading.progress import ProgressLines
from coursekit.grading.results_model import Results


def results(score: float, status: str = "ok") -> Results:
    return Results.from_json({"score": score, "execution_time": 12.34, "tests": [],
                              "extra_data": {"max_score": 65, "parts": {}, "grader": {"status": status}}})


def test_each_finished_submission_prints_a_line_with_an_eta() -> None:
    lines = ProgressLines(4, now=100.0)
    first = lines.finished("alice", results(65), now=130.0)
    assert first == "[1/4] alice: 65/65 ok in 12.3 s · elapsed 0:30 · ETA 1:30"
    lines.finished("bob", results(10, "invalid"), now=160.0)
    third = lines.finished("carol", results(0, "error"), now=190.0)
    assert third.startswith("[3/4] carol: 0/65 error") and third.endswith("ETA 0:30")
    assert lines.finished("dave", results(1), now=4000.0).endswith("elapsed 1:05:00 · done")


def test_student_names_cannot_drive_the_terminal() -> None:
    line = ProgressLines(1, now=0.0).finished("eve\x1b]8;;http://x\x07\x1b[2J", results(0), now=1.0)
    assert "\x1b" not in line and "\x07" not in line
