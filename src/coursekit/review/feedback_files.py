"""OUT/<student>/feedback.{md,html} re-rendered from the stored results plus the staff's decisions.

Grading writes feedback from the autograde alone. Once the gradebook store holds overrides,
extensions, comments or released written grades, those files must show what gradebook.csv and
site/students/<student>.html show, or a student sent feedback.html sees a stale score. So each
batch's ingest and each staff action re-renders the feedback of the students it touched, from the
same inputs as the site page (results.json via the one reader, ``review_of`` of the store's grade).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from coursekit.review.dashboard import review_of
from coursekit.review.feedback import render_feedback_html, render_feedback_md
from coursekit.review.results import load_results
from coursekit.review.store import Gradebook


def write_feedback_files(book: Gradebook, students: Iterable[str] | None = None) -> int:
    """Re-render feedback.md/.html beside each (given, else every) student's results.json; returns how many."""
    rows = {r["student"]: r["results_path"] for r in book.conn.execute("SELECT student, results_path FROM submissions")}
    chosen = sorted(set(rows) if students is None else set(students) & set(rows))
    if not chosen:
        return 0
    grades = {g.student: g for g in book.grades()}  # once: book.grade() computes every grade per call
    written = 0
    for student in chosen:
        results_path = book.out_dir / rows[student]
        grade, comments = grades[student], book.comments(student)
        results = load_results(results_path)
        folder: Path = results_path.parent
        (folder / "feedback.md").write_text(render_feedback_md(results, comments, review=review_of(grade)),
                                           encoding="utf-8")
        (folder / "feedback.html").write_text(render_feedback_html(results, comments, review=review_of(grade)),
                                             encoding="utf-8")
        written += 1
    return written


def touched_since(book: Gradebook, last_id: int) -> list[str] | None:
    """Students with a staff action logged after history id ``last_id``; None when an action concerned
    everyone (logged for student "*": releasing written feedback, editing a rubric item)."""
    students = [r["student"] for r in book.conn.execute("SELECT DISTINCT student FROM history WHERE id > ?",
                                                        (last_id,))]
    return None if "*" in students else students


def last_history_id(book: Gradebook) -> int:
    return int(book.conn.execute("SELECT COALESCE(MAX(id), 0) FROM history").fetchone()[0])
