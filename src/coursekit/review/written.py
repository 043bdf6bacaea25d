"""Written answers graded by TAs with a rubric, kept in DIR/gradebook.sqlite next to the autograde.

A milestone's ``written:`` questions (course.yaml: name -> points) are answered in notebook cells
tagged ``written:<name>`` (prose, or a plot and its discussion). Grading works like Gradescope's
rubrics: a question has reusable rubric items (a description and signed points, e.g. "+3 explains
the bias-variance trade-off", "-1 no numbers cited"); a TA applies items to a student's answer and
may add a comment. The question's score is the sum of the applied items, clamped to 0..points.
A question with no decision yet is *ungraded* (it counts 0 and the dashboard says so).

Students see written grades only after a TA releases the feedback (``course release-feedback`` or
the button in ``course review``): until then their pages say the written answers are pending and
their total leaves them out. Like overrides, rubric items, marks and the release survive re-grades.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coursekit.review.results import ReviewError
from coursekit.review.schema import now as _now

if TYPE_CHECKING:
    from coursekit.review.store import Gradebook

SCHEMA = """
CREATE TABLE IF NOT EXISTS rubric_items(
    id INTEGER PRIMARY KEY, question TEXT NOT NULL, text TEXT NOT NULL, points REAL NOT NULL,
    by TEXT NOT NULL, at TEXT NOT NULL, UNIQUE(question, text));
CREATE TABLE IF NOT EXISTS rubric_marks(
    student TEXT NOT NULL, question TEXT NOT NULL, item INTEGER NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY(student, question, item));
CREATE TABLE IF NOT EXISTS written_notes(
    student TEXT NOT NULL, question TEXT NOT NULL, graded INTEGER NOT NULL, comment TEXT NOT NULL,
    by TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY(student, question));
"""
EPS = 1e-9


@dataclass(frozen=True)
class RubricItem:
    id: int
    question: str
    text: str
    points: float


@dataclass
class WrittenScore:
    """One student's grade on one written question."""

    question: str
    max_score: float
    graded: bool = False
    items: list[RubricItem] = field(default_factory=list)  # the applied rubric items
    comment: str = ""
    by: str = ""  # who last graded it (staff only: shown in the review panel, never to the student)

    @property
    def score(self) -> float:
        return round(min(self.max_score, max(0.0, sum(i.points for i in self.items))), 6)

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "max_score": self.max_score, "graded": self.graded,
                "score": self.score if self.graded else None, "comment": self.comment,
                "items": [{"text": i.text, "points": i.points} for i in self.items]}


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def questions(book: "Gradebook") -> dict[str, float]:
    """The milestone's written questions and their points (recorded from course.yaml at ingest)."""
    row = book.conn.execute("SELECT value FROM meta WHERE key = 'written'").fetchone()
    return {k: float(v) for k, v in json.loads(row["value"]).items()} if row else {}


def _question(book: "Gradebook", question: str) -> float:
    known = questions(book)
    if question not in known:
        listed = ", ".join(known) or "none (add `written: {name: points}` to the milestone in course.yaml)"
        raise ReviewError(f"unknown written question {question!r}; {book.milestone_id} has: {listed}")
    return known[question]


def rubric(book: "Gradebook", question: str | None = None) -> list[RubricItem]:
    sql = "SELECT id, question, text, points FROM rubric_items" + (" WHERE question = ?" if question else "")
    rows = book.conn.execute(sql + " ORDER BY question, id", (question,) if question else ())
    return [RubricItem(r["id"], r["question"], r["text"], float(r["points"])) for r in rows]


def add_item(book: "Gradebook", question: str, text: str, points: float, *, by: str) -> RubricItem:
    """A reusable rubric item for ``question`` (the same text twice updates its points)."""
    top = _question(book, question)
    text = " ".join(text.split())
    if not text:
        raise ReviewError("a rubric item needs a description, e.g. \"explains why the CNN generalises better\"")
    if not -top - EPS <= points <= top + EPS:
        raise ReviewError(f"{points:g} points is outside -{top:g}..{top:g} for question {question!r}")
    with book.conn:
        book.conn.execute("INSERT INTO rubric_items(question, text, points, by, at) VALUES (?,?,?,?,?) "
                          "ON CONFLICT(question, text) DO UPDATE SET points = excluded.points",
                          (question, text, float(points), by, _now()))
        book._log(by, "*", "rubric-item", f"{question}: {points:+g} {text}")
    return next(i for i in rubric(book, question) if i.text == text)


def _item(book: "Gradebook", question: str, item_id: int) -> RubricItem:
    found = [i for i in rubric(book, question) if i.id == item_id]
    if not found:
        raise ReviewError(f"no rubric item {item_id} for question {question!r}; add it first")
    return found[0]


def _touch(book: "Gradebook", student: str, question: str, by: str) -> None:
    book.conn.execute("INSERT INTO written_notes(student, question, graded, comment, by, at) VALUES (?,?,1,'',?,?) "
                      "ON CONFLICT(student, question) DO UPDATE SET graded = 1, by = excluded.by, at = excluded.at",
                      (student, question, by, _now()))


def set_mark(book: "Gradebook", student: str, question: str, item_id: int, applied: bool, *, by: str) -> None:
    """Apply (or remove) one rubric item on a student's answer; either way the question is graded."""
    book.require_student(student)
    item = _item(book, question, item_id)
    with book.conn:
        if applied:
            book.conn.execute("INSERT OR IGNORE INTO rubric_marks VALUES (?,?,?,?,?)",
                              (student, question, item.id, by, _now()))
        else:
            book.conn.execute("DELETE FROM rubric_marks WHERE student = ? AND question = ? AND item = ?",
                              (student, question, item.id))
        _touch(book, student, question, by)
        book._log(by, student, "rubric", f"{question}: {'+' if applied else '-'} [{item.points:+g}] {item.text}")


def set_comment(book: "Gradebook", student: str, question: str, text: str, *, by: str) -> None:
    """The TA's comment on one answer (shown to the student on release); marks the question graded."""
    book.require_student(student)
    _question(book, question)
    with book.conn:
        _touch(book, student, question, by)
        book.conn.execute("UPDATE written_notes SET comment = ? WHERE student = ? AND question = ?",
                          (text.strip(), student, question))
        book._log(by, student, "written-comment", f"{question}: {text.strip()}")


def scores(book: "Gradebook") -> dict[str, dict[str, WrittenScore]]:
    """Every student's written grades: student -> question -> WrittenScore (ungraded ones too)."""
    top = questions(book)
    if not top:
        return {}
    items = {i.id: i for i in rubric(book)}
    out: dict[str, dict[str, WrittenScore]] = {}
    for student in book.students():
        out[student] = {q: WrittenScore(q, points) for q, points in top.items()}
    for r in book.conn.execute("SELECT student, question, graded, comment, by FROM written_notes"):
        score = out.get(r["student"], {}).get(r["question"])
        if score is not None:
            score.graded, score.comment, score.by = bool(r["graded"]), r["comment"], r["by"]
    for r in book.conn.execute("SELECT student, question, item FROM rubric_marks ORDER BY item"):
        score = out.get(r["student"], {}).get(r["question"])
        if score is not None and r["item"] in items:
            score.items.append(items[r["item"]])
    return out


def released_at(book: "Gradebook") -> str | None:
    row = book.conn.execute("SELECT value FROM meta WHERE key = 'feedback_released'").fetchone()
    return row["value"] if row else None


def release(book: "Gradebook", *, by: str, withdraw: bool = False) -> list[str]:
    """Let students see their written grades (or hide them again); returns the ungraded students."""
    with book.conn:
        if withdraw:
            book.conn.execute("DELETE FROM meta WHERE key = 'feedback_released'")
        else:
            book.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('feedback_released', ?)", (_now(),))
        book._log(by, "*", "withdraw-feedback" if withdraw else "release-feedback", "written answers")
    return sorted(s for s, qs in scores(book).items() if not all(w.graded for w in qs.values()))
