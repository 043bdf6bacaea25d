"""Recording a graded batch in DIR/gradebook.sqlite: the milestone's settings, then each
student's results.json, replacing their autograde and keeping every staff decision.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

from coursekit.config import Course, CourseConfigError, Milestone, load_course
from coursekit.grading.results_model import Results
from coursekit.review.feedback_files import write_feedback_files
from coursekit.review.results import ReviewError, first_line, load_results, milestone_of, result_files
from coursekit.review.schema import DB_NAME, now
from coursekit.review.store import Gradebook
from coursekit.review.submission_times import remember_time


def _stamp(path: Path) -> str:
    """Identifies one version of a results file (a re-grade rewrites it: new mtime)."""
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


def record_milestone(book: Gradebook, course: Course, milestone: Milestone) -> None:
    """Copy the milestone's settings from course.yaml so that later commands need only DIR."""
    values = {"milestone": milestone.id, "title": milestone.title, "due": milestone.due.isoformat(),
              "parts": json.dumps(milestone.parts), "written": json.dumps(milestone.written),
              "late_policy": course.late_policy_for(milestone).model_dump_json()}
    with book.conn:
        book.conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())


def ingest(book: Gradebook, student: str, results: Results, results_path: Path) -> None:
    """Replace one student's autograde with ``results``; overrides and comments are kept.

    Runs inside the caller's transaction (commit with ``with book.conn:``) so that a
    batch is one commit, not one fsync per student.
    """
    extra, grader, late = results.extra_data, results.grader, results.late
    book.conn.execute("DELETE FROM tests WHERE student = ?", (student,))
    book.conn.execute("DELETE FROM parts WHERE student = ?", (student,))
    book.conn.execute(
        "INSERT OR REPLACE INTO submissions(student, sha256, autograde, max_score, status, error, submitted_at, "
        "seconds_late, execution_time, peak_memory_mb, device, results_path, ingested_at, results_stamp, "
        "submission_error, flags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (student, extra.submission_sha256, results.score, results.max_score,
         results.status.value, grader.error, late.submitted_at, late.seconds_late, results.execution_time,
         grader.peak_memory_mb, grader.device,
         str(results_path.relative_to(book.out_dir)), now(), _stamp(results_path),
         extra.submission_error, json.dumps([str(f) for f in extra.flags] + [
             f"HELD part {h.get('part')} (cell [{h.get('cell')}] line {h.get('line')}): {h.get('reason')}; "
             f"computed {h.get('computed_score')}, release with `course release-hold`"
             for h in extra.holds])))
    book.conn.executemany(
        "INSERT OR REPLACE INTO tests VALUES (?,?,?,?,?,?,?,?,?)",
        [(student, t.name, t.part, t.extra_data.kind, t.score, t.max_score, t.outcome.value,
          first_line(t.output), t.extra_data.duration) for t in results.tests])
    book.conn.executemany(
        "INSERT OR REPLACE INTO parts VALUES (?,?,?,?)",
        [(student, name, p.score, p.max_score) for name, p in results.parts.items()])
    remember_time(book.conn, student, extra.submission_sha256, late)


def ingest_folder(book: Gradebook, out_dir: Path, *, changed_only: bool = False) -> list[str]:
    """Ingest DIR/<student>/results.json files; return the students ingested.

    With ``changed_only``, files whose mtime and size match what was ingested are skipped
    (a report re-run after a re-grade reads only the re-graded submissions).
    """
    seen = {}
    if changed_only:
        seen = {r["student"]: r["results_stamp"] for r in book.conn.execute("SELECT student, results_stamp FROM submissions")}
    students = []
    with book.conn:  # one transaction: all of the batch or none of it
        for student, path in result_files(out_dir):
            if changed_only and seen.get(student) == _stamp(path):
                continue
            ingest(book, student, load_results(path), path)
            students.append(student)
    return students


def _milestone(course: Course, milestone: Milestone | str) -> Milestone:
    return milestone if isinstance(milestone, Milestone) else course.milestone(milestone, error=ReviewError)


def record_batch(*, out_dir: Path, course: Course, milestone: Milestone | str) -> None:
    """Ingest a graded batch into DIR/gradebook.sqlite and write DIR/gradebook.csv.

    Called by the grading engine after each batch. Overrides, comments and extensions
    already in the store are kept; overrides whose autograde changed are flagged for
    review. summary.json is left untouched.
    """
    out_dir = Path(out_dir)
    m = _milestone(course, milestone)
    with closing(Gradebook.open(out_dir, create=True)) as book:
        existing = book.conn.execute("SELECT value FROM meta WHERE key = 'milestone'").fetchone()
        if existing and existing["value"] != m.id:
            raise ReviewError(f"{out_dir / DB_NAME} belongs to {existing['value']}, not {m.id}; "
                              f"grade each milestone into its own --out folder")
        record_milestone(book, course, m)
        students = ingest_folder(book, out_dir)
        book.write_gradebook_csv()
        write_feedback_files(book, students)  # OUT/<student>/feedback.* keep the staff's decisions too


def open_or_build(out_dir: Path, course_file: Path | None) -> Gradebook:
    """Open DIR's store, building it from the results (with course.yaml's policy) when absent."""
    out_dir = Path(out_dir)
    if (out_dir / DB_NAME).is_file():
        return Gradebook.open(out_dir)
    milestone = milestone_of(out_dir)
    try:
        course = load_course(course_file or Path("course.yaml"), check_files=False)
    except CourseConfigError as exc:
        raise ReviewError(f"{out_dir} has no {DB_NAME} yet and the course file is needed to build it: {exc}") from None
    record_batch(out_dir=out_dir, course=course, milestone=milestone)
    return Gradebook.open(out_dir)
