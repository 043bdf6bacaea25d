"""Synthetic graded classes in the documented results.json format.

Used by the review tests, the report benchmark and demos before (or without) the grading
engine: every file written here has exactly the shape the engine writes (see
``docs``/common interface): per-test outcomes, parts, late block, grader block, metrics and
notebook errors, plus DIR/summary.json. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import zlib
from pathlib import Path
from typing import Any

from coursekit.config.schema import Course
from coursekit.grading.results_model import Results, write_results

# The shape of m01-linear-algebra: 6 parts, 65 points.
DEFAULT_PARTS: dict[str, int] = {
    "matmul": 10, "solve": 10, "det_inv": 10, "power_iteration": 10, "pca": 15, "svd_compression": 10,
}
DEFAULT_MILESTONE = "m01-linear-algebra"
DEFAULT_DUE = dt.datetime(2027, 2, 5, 23, 59, tzinfo=dt.timezone.utc)

HINTS = [
    "Swap in the row with the largest |pivot| before eliminating.",
    "Centre X (subtract the column means) before computing the covariance.",
    "Normalise the vector after every multiplication, or it overflows.",
    "Keep the k largest singular values, not the k first columns.",
    "Return a float array of shape (n,), not a list.",
]
ERRORS = [
    ("ValueError", "shapes (3,4) and (3,4) not aligned"),
    ("IndexError", "index 6 is out of bounds for axis 0 with size 6"),
    ("ZeroDivisionError", "float division by zero"),
    ("AttributeError", "'list' object has no attribute 'shape'"),
]


def synthetic_course(parts: dict[str, int] | None = None, milestone_id: str = DEFAULT_MILESTONE,
                     due: dt.datetime = DEFAULT_DUE, written: dict[str, int] | None = None) -> Course:
    """A minimal valid Course with one milestone (no notebook file needed); ``written``: TA-graded questions."""
    return Course.model_validate({
        "course": {"title": "Synthetic", "term": "test",
                   "late_policy": {"per_day": 0.10, "max_days": 5, "grace_minutes": 15}},
        "milestones": [{"id": milestone_id, "title": "Linear algebra from scratch", "phase": 0,
                        "notebook": f"source/{milestone_id}/{milestone_id}.ipynb",
                        "due": due.isoformat(), "parts": parts or DEFAULT_PARTS, "written": written or {}}],
    })


def _tests_for(parts: dict[str, int], per_part: int) -> list[dict[str, Any]]:
    """`per_part` tests per part; points split so they add up to the part's points."""
    tests = []
    for part, total in parts.items():
        base = total / per_part
        for k in range(per_part):
            kind = "public" if k < 2 else "hidden"
            tests.append({"name": f"test_{part}_{'public' if kind == 'public' else 'case'}_{k}",
                          "part": part, "points": round(base, 4), "kind": kind})
    return tests


def _traceback(ename: str, evalue: str, line: int) -> str:
    return ("Traceback (most recent call last):\n"
            f"  File \"submission\", cell 7, line {line}, in solve\n"
            f"    x = A[i] / A[i, i]\n{ename}: {evalue}")


def synthetic_results(student: str, *, rng: random.Random, parts: dict[str, int], tests: list[dict[str, Any]],
                      milestone_id: str, due: dt.datetime, skill: float | None = None) -> Results:
    """One student's results.json. ``skill`` in [0, 1] is the chance each test passes."""
    skill = rng.betavariate(5, 1.6) if skill is None else skill
    grader_error = rng.random() < 0.02
    timed_out_whole = rng.random() < 0.01
    out_tests = []
    for spec in tests:
        passed = rng.random() < skill and not grader_error
        outcome = "passed" if passed else rng.choices(
            ["failed", "error", "timeout", "not_implemented", "forbidden"], weights=[50, 25, 6, 15, 4])[0]
        if timed_out_whole and not passed:
            outcome = "timeout"
        if grader_error:
            outcome = "crashed"
        score = spec["points"] if passed else 0.0
        if outcome == "failed" and rng.random() < 0.2:  # partial credit via credit.award
            score = round(spec["points"] * 0.5, 4)
        output = ""
        if outcome == "failed":
            output = HINTS[zlib.crc32(spec["name"].encode()) % len(HINTS)] if spec["kind"] == "hidden" else \
                f"AssertionError: arrays not equal (max abs diff {rng.uniform(1e-3, 2):.3g})"
        elif outcome == "error":
            ename, evalue = ERRORS[rng.randrange(len(ERRORS))]
            output = HINTS[zlib.crc32(spec["name"].encode()) % len(HINTS)] + "\n\n" + _traceback(ename, evalue, rng.randrange(3, 40))
        elif outcome == "timeout":
            output = "Your code ran past this test's time limit (30 s). Look for an infinite loop."
        elif outcome == "not_implemented":
            output = "NotImplementedError: this part is still a stub."
        elif outcome == "forbidden":
            output = "Your code used numpy.linalg, which this test forbids."
        elif outcome == "crashed":
            output = "The grader's worker crashed while running this test; your TA has been notified."
        out_tests.append({
            "name": spec["name"], "score": score, "max_score": spec["points"],
            "status": "passed" if score >= spec["points"] else "failed", "output": output,
            "visibility": "visible" if spec["kind"] == "public" else "after_due_date",
            "extra_data": {"part": spec["part"], "kind": spec["kind"], "outcome": outcome,
                           "duration": round(rng.lognormvariate(-1.0, 0.8), 3)},
        })
    part_scores = {p: {"score": round(sum(t["score"] for t in out_tests if t["extra_data"]["part"] == p), 4),
                       "max_score": float(parts[p])} for p in parts}
    late_seconds = 0.0
    if rng.random() < 0.15:
        late_seconds = rng.choice([rng.uniform(60, 600), rng.uniform(3600, 3 * 86400), rng.uniform(6 * 86400, 8 * 86400)])
    submitted = due - dt.timedelta(hours=rng.uniform(1, 72)) if late_seconds == 0 else due + dt.timedelta(seconds=late_seconds)
    score = round(sum(p["score"] for p in part_scores.values()), 4)
    sha = hashlib.sha256(f"{student}:{skill}".encode()).hexdigest()
    metrics = {}
    if rng.random() < 0.5:
        metrics["reconstruction_error"] = {"value": round(rng.uniform(0.01, 0.2), 4), "threshold": 0.1,
                                           "higher_is_better": False, "test": tests[-1]["name"]}
    return Results.model_validate({
        "score": score, "execution_time": round(sum(t["extra_data"]["duration"] for t in out_tests) + rng.uniform(2, 8), 3),
        "output": "", "visibility": "visible", "stdout_visibility": "hidden", "tests": out_tests,
        "extra_data": {
            "milestone": milestone_id, "student": student, "submission_sha256": sha,
            "max_score": float(sum(parts.values())), "parts": part_scores,
            "late": {"submitted_at": submitted.isoformat(), "due": due.isoformat(),
                     "seconds_late": round(late_seconds, 1), "penalty_fraction": 0.0},
            "grader": {"status": "error" if grader_error else "ok",
                       "error": "worker crashed (exit code -9: killed for memory)" if grader_error else None,
                       "device": "cpu", "gpu_mode": None,
                       "peak_memory_mb": round(rng.lognormvariate(5.5, 0.4), 1),
                       "worker_restarts": 1 if grader_error else 0, "sandbox": "full"},
            "metrics": metrics,
            "notebook_errors": ([{"cell": rng.randrange(2, 30), "ename": "NameError",
                                  "evalue": "name 'np' is not defined"}] if rng.random() < 0.05 else []),
            "submission_error": None,
            "flags": ([f"cell [{rng.randrange(2, 30)}] line 3: import coursekit.grading"]
                      if rng.random() < 0.02 else []),
        },
    })


def write_synthetic_class(out_dir: Path, n: int, *, seed: int = 0, parts: dict[str, int] | None = None,
                          tests_per_part: int = 5, milestone_id: str = DEFAULT_MILESTONE,
                          due: dt.datetime = DEFAULT_DUE) -> list[str]:
    """Write DIR/<student>/results.json for ``n`` students and DIR/summary.json; return the students."""
    parts = parts or DEFAULT_PARTS
    rng = random.Random(seed)
    tests = _tests_for(parts, tests_per_part)
    out_dir.mkdir(parents=True, exist_ok=True)
    students, rows = [], []
    for i in range(n):
        student = f"student{i:04d}"
        results = synthetic_results(student, rng=rng, parts=parts, tests=tests, milestone_id=milestone_id, due=due)
        write_results(out_dir / student / "results.json", results)
        students.append(student)
        rows.append({"student": student, "score": results.score, "max_score": results.max_score,
                     "status": results.status.value,
                     "parts": {name: p.model_dump() for name, p in results.parts.items()},
                     "penalty_fraction": 0.0, "final_score": results.score,
                     "results": f"{student}/results.json"})
    summary = {"milestone": milestone_id, "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(),
               "max_score": float(sum(parts.values())), "submissions": rows}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return students

