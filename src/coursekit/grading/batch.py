"""Grade many submissions in parallel, with progress, a summary and per-student outputs.

A SUBMISSION is a ``.ipynb``, a ``.zip`` holding one, or a folder per student (an LMS export);
the student is the file or folder stem. One broken submission never stops the batch: each is
graded in its own trusted process, and whatever happens becomes that student's results.json.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from coursekit.grading.api import GraderError, grade_one, prepare
from coursekit.grading.results import write_json_atomic

@dataclass(frozen=True)
class Submission:
    student: str
    path: Path                      # a file or a student's folder (anything else is graded as unreadable)
    submitted_at: dt.datetime | None


def _folder_time(folder: Path) -> dt.datetime | None:
    """Gradescope and LMS exports: ``submission_metadata.json`` with ``created_at``."""
    for name in ("submission_metadata.json", "metadata.json"):
        meta = folder / name
        if meta.is_file():
            try:
                value = json.loads(meta.read_text(encoding="utf-8")).get("created_at")
                return dt.datetime.fromisoformat(value) if value else None
            except (ValueError, AttributeError):
                return None
    return None


def read_times(path: Path | None) -> dict[str, dt.datetime]:
    """``student,submitted_at`` CSV (ISO 8601 with timezone)."""
    if path is None:
        return {}
    times = {}
    with open(path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            try:
                stamp = dt.datetime.fromisoformat(row["submitted_at"])
            except (KeyError, ValueError):
                raise GraderError(f"{path}: each row needs student,submitted_at in ISO 8601 (got {row})") from None
            if stamp.tzinfo is None:
                raise GraderError(f"{path}: {row['submitted_at']} has no timezone; write e.g. 2027-02-01T23:00:00+00:00")
            times[row["student"]] = stamp
    return times


def discover(paths: list[Path], times: dict[str, dt.datetime] | None = None) -> list[Submission]:
    times = times or {}
    found: dict[str, Submission] = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise GraderError(f"no such submission: {path}")
        if path.is_dir():
            student, target, stamp = path.name, path, _folder_time(path)
        else:
            student, target, stamp = path.stem, path, None
        student = student.removesuffix("-submission") or "student"
        if student in found:
            raise GraderError(f"two submissions for student {student!r} ({found[student].path} and {target}); "
                              "grade one of them")
        found[student] = Submission(student, target, times.get(student, stamp))
    return list(found.values())


def write_summary(out_dir: Path, milestone_id: str) -> dict:
    """summary.json from every ``<student>/results.json`` of this milestone in ``out_dir``."""
    rows, max_score = [], 0.0
    for results_path in sorted(out_dir.glob("*/results.json")):
        results = json.loads(results_path.read_text(encoding="utf-8"))
        extra = results.get("extra_data", {})
        if extra.get("milestone") != milestone_id:
            continue
        penalty = float(extra.get("late", {}).get("penalty_fraction", 0.0))
        max_score = max(max_score, float(extra.get("max_score", 0.0)))
        rows.append({
            "student": extra.get("student", results_path.parent.name), "score": results["score"],
            "max_score": extra.get("max_score"), "status": extra.get("grader", {}).get("status", "error"),
            "parts": extra.get("parts", {}), "penalty_fraction": penalty,
            "final_score": round(results["score"] * (1 - penalty), 4),
            "execution_time": results.get("execution_time"),
            "timeouts": sum(t["extra_data"]["outcome"] == "timeout" for t in results.get("tests", [])),
            "results": f"{results_path.parent.name}/results.json"})
    summary = {"milestone": milestone_id, "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "max_score": max_score, "submissions": rows}
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def grade_batch(*, course_file: Path, milestone_id: str, submissions: list[Path], out_dir: Path,
                jobs: int | None = None, device: str = "auto", times_csv: Path | None = None,
                console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    course_file, course, milestone, device = prepare(course_file, milestone_id, device)
    batch = discover(submissions, read_times(times_csv))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs or os.cpu_count() or 1)
    started = time.monotonic()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"grading {milestone.id}", total=len(batch))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(grade_one, course_file=course_file, milestone_id=milestone.id,
                                   notebook=item.path, student=item.student, out_dir=out_dir / item.student,
                                   device=device, submitted_at=item.submitted_at): item for item in batch}
            for future in as_completed(futures):
                future.result()  # grade_one turns every submission problem into results; only bugs raise
                progress.advance(task)
    summary = write_summary(out_dir, milestone.id)
    _record(out_dir, course, milestone)
    _print_summary(console, summary, batch, time.monotonic() - started, out_dir)
    return summary


def _record(out_dir: Path, course, milestone) -> None:
    from coursekit.review.store import record_batch

    record_batch(out_dir=out_dir, course=course, milestone=milestone)


def _print_summary(console: Console, summary: dict, batch: list[Submission], seconds: float, out_dir: Path) -> None:
    graded = {row["student"]: row for row in summary["submissions"]}
    table = Table(title=f"{summary['milestone']}: {len(batch)} submissions in {seconds:.1f} s")
    for column in ("student", "score", "late-adjusted", "status", "timeouts", "seconds"):
        table.add_column(column, justify="right" if column != "student" else "left")
    for item in sorted(batch, key=lambda s: s.student):
        row = graded.get(item.student, {})
        table.add_row(item.student, f"{row.get('score', 0):g}/{row.get('max_score') or 0:g}",
                      f"{row.get('final_score', 0):g}", row.get("status", "?"), str(row.get("timeouts", 0)),
                      f"{row.get('execution_time') or 0:.1f}")
    console.print(table)
    console.print(f"results: {out_dir}/<student>/results.json, feedback.html; summary: {out_dir}/summary.json; "
                  f"final grades (with extensions and TA overrides): {out_dir}/gradebook.csv")
