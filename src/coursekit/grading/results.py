"""Build ``results.json`` in Gradescope's autograder format (plus our ``extra_data``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from coursekit.config.schema import Course, Milestone
from coursekit.grading.results_io import write_json_atomic  # noqa: F401  (summary.json and older callers)
from coursekit.grading.results_model import Results

if TYPE_CHECKING:  # only a type here: importing plugin would pull pytest and numpy into the CLI process
    from coursekit.grading.plugin import TestRecord

ROUND = 4


def late_info(course: Course, milestone: Milestone, submitted_at: dt.datetime | None,
              source: str | None = None) -> dict:
    due = milestone.due
    seconds_late = max(0.0, (submitted_at - due).total_seconds()) if submitted_at else 0.0
    return {"submitted_at": submitted_at.isoformat() if submitted_at else None, "due": due.isoformat(),
            "seconds_late": seconds_late,
            "penalty_fraction": course.late_policy_for(milestone).penalty_fraction(seconds_late),
            "source": source if submitted_at else None}


def build_results(*, course: Course, milestone: Milestone, student: str, sha256: str | None,
                  records: list[TestRecord], metrics: dict, notebook_errors: list[dict], execution_time: float,
                  device: str, gpu_mode: str | None, peak_memory_mb: float | None, restarts: int, sandbox: str,
                  submitted_at: dt.datetime | None, grader_error: str | None = None,
                  submission_error: str | None = None, flags: list[str] | None = None,
                  only_parts: list[str] | None = None, sandbox_missing: list[str] | None = None,
                  holds: list[dict] | None = None, time_source: str | None = None) -> Results:
    hidden_visibility = course.hidden_visibility_for(milestone)
    tests = []
    graded_parts = set(only_parts) if only_parts else set(milestone.parts)
    parts = {name: {"score": 0.0, "max_score": 0.0} for name in milestone.parts if name in graded_parts}
    for record in records:
        tests.append({
            "name": f"[{record.part}] {record.name}" if record.part else record.name,
            "score": round(record.score, ROUND), "max_score": round(record.points, ROUND),
            "status": "passed" if record.outcome == "passed" else "failed",
            "output": record.output,
            "visibility": "visible" if record.kind == "public" else hidden_visibility,
            "extra_data": {"part": record.part, "kind": record.kind, "outcome": record.outcome,
                           "duration": round(record.duration, 3)},
        })
        if record.part in parts:
            parts[record.part]["score"] += record.score
            parts[record.part]["max_score"] += record.points
    for totals in parts.values():
        totals["score"], totals["max_score"] = round(totals["score"], ROUND), round(totals["max_score"], ROUND)
    holds = _hold_parts(holds or [], parts, tests)
    score = round(sum(p["score"] for p in parts.values()), ROUND)
    max_score = round(sum(p["max_score"] for p in parts.values()), ROUND)
    summary = [f"{milestone.title}: {score:g} / {max_score:g} points."]
    if submission_error:
        summary.append(f"Your submission could not be graded: {submission_error}")
    if gpu_mode == "smoke":
        summary.append("Graded without a GPU: GPU tests were replaced by their CPU smoke variants.")
    for error in notebook_errors[:10]:
        summary.append(f"Cell [{error.get('cell')}] raised {error.get('ename')}: {str(error.get('evalue'))[:200]}")
    if grader_error:
        summary.append("The grader could not finish; your course staff have been told.")
    return Results.model_validate({
        "score": score,
        "execution_time": round(execution_time, 3),
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "milestone": milestone.id, "student": student, "submission_sha256": sha256, "max_score": max_score,
            "parts": parts, "late": late_info(course, milestone, submitted_at, time_source),
            # "invalid": the submission is not a gradable notebook (not ours to fix, but a TA must look).
            "grader": {"status": "error" if grader_error else "invalid" if submission_error else "ok",
                       "error": grader_error, "device": device,
                       "gpu_mode": gpu_mode, "peak_memory_mb": round(peak_memory_mb, 1) if peak_memory_mb else None,
                       "worker_restarts": max(0, restarts), "sandbox": sandbox,
                       "sandbox_missing": list(sandbox_missing or [])},
            "metrics": metrics,
            "notebook_errors": [{k: e.get(k) for k in ("cell", "ename", "evalue")} for e in notebook_errors],
            "submission_error": submission_error,
            "flags": flags or [],
            "holds": holds,  # staff only: parts held at 0 for review (static_check), with their computed score
        },
    })


def _hold_parts(holds: list[dict], parts: dict, tests: list[dict]) -> list[dict]:
    """Score each held part 0 (and its tests, so the visible tests add up); keep the computed score for staff.

    Nothing student-visible says why: a student probing the static check learns nothing from feedback.
    """
    kept = []
    for hold in holds:
        part = hold.get("part")
        if part not in parts:
            continue
        kept.append({**hold, "computed_score": parts[part]["score"]})
        parts[part]["score"] = 0.0
        for test in tests:
            if test["extra_data"]["part"] == part:
                test["score"] = 0.0
    return kept

