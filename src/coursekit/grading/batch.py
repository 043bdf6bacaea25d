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

from coursekit.grading.api import GraderError, grade_one, prepare, start_server
from coursekit.grading.lateness import with_stored_times
from coursekit.grading.names import StudentIdError, check_student_id, out_folder, shown, stand_in_id, student_id_of
from coursekit.grading.pool import ServerPool
from coursekit.grading.progress import ProgressLines
from coursekit.grading.results import build_results, write_json_atomic
from coursekit.grading.results_model import Outcome, Results, ResultsFileError, read_results, write_results
from coursekit.grading.sandbox import sweep_leftovers
from coursekit.review.escape import terminal_safe

@dataclass(frozen=True)
class Submission:
    student: str
    path: Path                      # a file or a student's folder (anything else is graded as unreadable)
    submitted_at: dt.datetime | None
    refused: str | None = None      # why it is not graded at all (a name that cannot be an id): "invalid"
    time_source: str | None = None  # where submitted_at came from: times, lms, gradescope (kept in the store)


def _folder_time(folder: Path) -> tuple[dt.datetime | None, str | None]:
    """Gradescope and LMS exports: ``submission_metadata.json`` with ``created_at``; (time, source)."""
    for name, source in (("submission_metadata.json", "gradescope"), ("metadata.json", "lms")):
        meta = folder / name
        if meta.is_file() and not meta.is_symlink():  # nothing inside a submission is followed
            try:
                value = json.loads(meta.read_text(encoding="utf-8")).get("created_at")
                return (dt.datetime.fromisoformat(value), source) if value else (None, None)
            except (ValueError, AttributeError):
                return None, None
    return None, None


def read_times(path: Path | None) -> dict[str, dt.datetime]:
    """``student,submitted_at`` CSV (ISO 8601 with timezone); student ids are normalised as discover() does."""
    if path is None:
        return {}
    times = {}
    try:
        stream = open(path, newline="", encoding="utf-8-sig")  # Excel adds a BOM
    except OSError as exc:
        raise GraderError(f"{path}: cannot read the --times file ({exc.strerror}); pass a CSV with "
                          "student,submitted_at") from None
    with stream:
        for line, row in enumerate(csv.DictReader(stream), start=2):
            try:
                student, stamp = check_student_id((row["student"] or "").strip()), dt.datetime.fromisoformat(
                    (row["submitted_at"] or "").strip())
            except (KeyError, ValueError, AttributeError, StudentIdError) as exc:
                reason = str(exc) if isinstance(exc, StudentIdError) else "each row needs student,submitted_at in ISO 8601"
                raise GraderError(f"{path}, line {line}: {reason}") from None
            if stamp.tzinfo is None:
                raise GraderError(f"{path}, line {line}: {shown(row['submitted_at'])} has no timezone; "
                                  "write e.g. 2027-02-01T23:00:00+00:00")
            times[student] = stamp
    return times


def discover(paths: list[Path], times: dict[str, dt.datetime] | None = None) -> list[Submission]:
    """One Submission per path; a name that cannot be a student id becomes a refused ("invalid") entry.

    The paths themselves are the operator's: a symlink given here is followed (names inside a
    folder or zip never are, see submission_files). A path that does not exist stops the batch
    before anything is graded (a typo on the command line), so does the same id twice.
    """
    times = times or {}
    found: dict[str, Submission] = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise GraderError(f"no such submission: {shown(str(path))}")
        raw = path.name if path.is_dir() else path.stem
        stamp, source = _folder_time(path) if path.is_dir() else (None, None)
        refused = None
        try:
            student = student_id_of(raw)
            if not (path.is_dir() or path.is_file()):
                refused = "the submission is neither a file nor a folder; upload the .ipynb saved by Jupyter"
        except StudentIdError as exc:
            student, refused = stand_in_id(raw), str(exc)
        twin = next((s for s in found.values() if s.student.casefold() == student.casefold()), None)
        if twin is not None:  # casefold: OUT may be copied to a case-insensitive disk later
            raise GraderError(f"two submissions for student {student!r} ({shown(str(twin.path))} and "
                              f"{shown(str(path))}); grade one of them")
        if student in times:
            stamp, source = times[student], "times"
        found[student] = Submission(student, path, stamp, refused, source)
    return list(found.values())


def _writable(out_dir: Path, item: Submission) -> Submission:
    """The item, or a refused one when OUT/<id> would not be a direct child of OUT (a stale link there)."""
    if item.refused:
        return item
    try:
        out_folder(out_dir, item.student)
    except StudentIdError as exc:
        return Submission(stand_in_id(item.student), item.path, item.submitted_at, str(exc), item.time_source)
    return item


def write_refused(out_dir: Path, course, milestone, item: Submission) -> Results:
    """OUT/<stand-in id>/results.json for a submission that is not graded at all (status "invalid")."""
    from coursekit.grading.api import write_feedback

    target = out_folder(out_dir, item.student)
    results = build_results(course=course, milestone=milestone, student=item.student, sha256=None, records=[],
                            metrics={}, notebook_errors=[], execution_time=0.0, device="none", gpu_mode=None,
                            peak_memory_mb=None, restarts=0, sandbox="none", submitted_at=item.submitted_at,
                            submission_error=item.refused, time_source=item.time_source)
    write_results(target / "results.json", results)
    (target / "grader.log").write_text(f"# not graded: {item.refused}\n", encoding="utf-8")
    write_feedback(target, results)
    return results


def write_summary(out_dir: Path, milestone_id: str) -> dict:
    """summary.json from every ``<student>/results.json`` of this milestone in ``out_dir``."""
    rows, max_score = [], 0.0
    for results_path in sorted(out_dir.glob("*/results.json")):
        try:
            results = read_results(results_path)
        except ResultsFileError:  # a stray or broken file in OUT is not this batch's; the store reports it
            continue
        extra = results.extra_data
        if extra.milestone != milestone_id:
            continue
        max_score = max(max_score, results.max_score)
        rows.append({
            "student": extra.student or results_path.parent.name, "score": results.score,
            "max_score": results.max_score, "status": results.status.value,
            "error": results.grader.error or extra.submission_error,
            "parts": {name: p.model_dump() for name, p in results.parts.items()},
            "penalty_fraction": results.late.penalty_fraction, "final_score": results.final_score,
            "execution_time": results.execution_time,
            "timeouts": sum(t.outcome is Outcome.timeout for t in results.tests),
            "results": f"{results_path.parent.name}/results.json"})
    summary = {"milestone": milestone_id, "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "max_score": max_score, "errors": sum(row["status"] != "ok" for row in rows),  # "invalid" included
               "invalid": sum(row["status"] == "invalid" for row in rows), "submissions": rows}
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
    batch = [_writable(out_dir, item) for item in batch]
    # A submission without a time in this run keeps the one stored for the same file (lateness.py).
    batch, unknown_times = with_stored_times(out_dir, batch)
    if unknown_times:
        console.print(f"warning: no submission time for the changed file of {', '.join(unknown_times)}: their "
                      "lateness is unknown (0); pass --times with their times", markup=False, highlight=False)
    for item in batch:
        if item.refused:  # not graded at all: an "invalid" entry, written here without a trusted process
            write_refused(out_dir, course, milestone, item)
    to_grade = [item for item in batch if not item.refused]
    jobs = max(1, jobs or os.cpu_count() or 1)
    os.environ["COURSEKIT_JOBS"] = str(jobs)  # each submission's cgroup gets cores/jobs (sandbox.cpu_share)
    sweep_leftovers()  # cgroups and slot processes that crashed graders of earlier runs left behind
    started = time.monotonic()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"grading {milestone.id}", total=len(to_grade))
        # One long-lived grading server per slot, each forking a fresh trusted child per submission (pool.py).
        # A server that will grade one submission only skips the pre-imports (see start_server).
        preload = len(to_grade) > jobs
        with ServerPool(min(jobs, len(to_grade)), lambda: start_server(course_file, milestone, preload=preload)) \
                as servers, \
                ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(servers.call, grade_one, course_file=course_file, milestone_id=milestone.id,
                                   notebook=item.path, student=item.student, out_dir=out_dir / item.student,
                                   device=device, submitted_at=item.submitted_at,
                                   time_source=item.time_source): item for item in to_grade}
            lines = ProgressLines(len(to_grade))
            for future in as_completed(futures):
                results = future.result()  # grade_one turns every submission problem into results; only bugs raise
                sweep_leftovers()  # a grader killed mid-submission (budget, OOM) leaves its groups to us
                progress.advance(task)
                # printed above the bar on a terminal, and as plain lines in a log
                progress.console.print(lines.finished(futures[future].student, results), markup=False,
                                       highlight=False)
    summary = write_summary(out_dir, milestone.id)
    _record(out_dir, course, milestone)
    _print_summary(console, summary, batch, time.monotonic() - started, out_dir)
    return summary


def _record(out_dir: Path, course, milestone) -> None:
    from coursekit.review.ingest import record_batch

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
    problems = [row for row in summary["submissions"] if row["status"] != "ok"]
    if problems:  # student text (messages, names) printed inert: no markup, no escape sequences
        console.print(f"{len(problems)} grading errors ({summary.get('invalid', 0)} invalid submissions):", markup=False)
        for row in problems:
            console.print(f"  {row['student']}: {row['status']}: {terminal_safe(row.get('error') or '')[:300]}",
                          markup=False, highlight=False)
    console.print(f"results: {out_dir}/<student>/results.json, feedback.html; summary: {out_dir}/summary.json; "
                  f"final grades (with extensions and TA overrides): {out_dir}/gradebook.csv")
