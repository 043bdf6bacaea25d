"""A student's effective grade: the autograde, the staff's overrides and the late penalty.

Scores are computed, never stored: part = sum of its (possibly overridden) tests, unless
the part itself is overridden; total = sum of parts (+ graded written answers); the late
penalty uses the milestone's late policy on the lateness left after any extension.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coursekit.review import written as written_answers
from coursekit.review.written import WrittenScore

if TYPE_CHECKING:
    from coursekit.review.reader import GradebookReader

EPS = 1e-9


def fmt(x: float) -> str:
    return f"{x:g}"


@dataclass
class Override:
    student: str
    kind: str
    target: str
    score: float
    reason: str
    by: str
    at: str
    basis: float | None
    basis_sha256: str | None = None  # the submission the override was made on
    current: float | None = None  # today's autograde score of the target (None: target gone)
    current_sha256: str | None = None

    @property
    def resubmitted(self) -> bool:
        return bool(self.basis_sha256 and self.current_sha256 and self.basis_sha256 != self.current_sha256)

    @property
    def stale(self) -> bool:
        """A re-grade changed (or removed) what this override replaced, or graded a new
        submission: a TA must look again."""
        if self.current is None or self.basis is None:
            return True
        return abs(self.current - self.basis) > EPS or self.resubmitted

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "score": self.score, "reason": self.reason,
                "by": self.by, "at": self.at, "basis": self.basis, "current": self.current, "stale": self.stale,
                "resubmitted": self.resubmitted}


@dataclass
class Grade:
    """One student's effective grade: autograde + overrides + late penalty."""

    student: str
    status: str
    error: str | None
    autograde: float
    max_score: float
    parts: dict[str, float]
    part_max: dict[str, float]
    total: float
    seconds_late: float
    extension_days: float
    penalty_fraction: float
    final: float
    overrides: list[Override] = field(default_factory=list)
    execution_time: float | None = None
    peak_memory_mb: float | None = None
    submission_error: str | None = None
    flags: list[str] = field(default_factory=list)  # grader's "look at this code" lines (staff only)
    # TA-graded written answers (question -> score) and whether students may see them yet
    written: dict[str, WrittenScore] = field(default_factory=dict)
    released: bool = False

    @property
    def ungraded_written(self) -> list[str]:
        return [q for q, w in self.written.items() if not w.graded]

    @property
    def student_total(self) -> float:
        """The total a student may see: written grades count only once released."""
        hidden = 0.0 if self.released else sum(w.score for w in self.written.values() if w.graded)
        return round(self.total - hidden, 6)

    @property
    def student_max(self) -> float:
        return self.max_score if self.released else round(self.max_score - sum(
            w.max_score for w in self.written.values()), 6)

    @property
    def needs_review(self) -> bool:
        return any(o.stale for o in self.overrides)

    @property
    def review_reason(self) -> str:
        reasons = []
        for o in self.overrides:
            if not o.stale:
                continue
            now = "removed" if o.current is None else fmt(o.current)
            what = "a new submission was graded since the override of" if o.resubmitted else "re-grade changed"
            reasons.append(f"{what} {o.kind} {o.target}: autograde {fmt(o.basis or 0)} -> {now}; "
                           f"override {fmt(o.score)} kept")
        return "; ".join(reasons)


def effective_grades(book: "GradebookReader") -> list[Grade]:
    """Every student's effective grade, sorted by student."""
    points = book.part_points
    policy = book.late_policy
    # Part sums with test overrides applied, aggregated by SQLite (30k rows: ~10x faster than Python).
    summed: dict[str, dict[str, float]] = {}
    for row in book.conn.execute(
            "SELECT t.student, t.part, SUM(COALESCE(o.score, t.score)) AS score FROM tests t "
            "LEFT JOIN overrides o ON o.student = t.student AND o.kind = 'test' AND o.target = t.name "
            "GROUP BY t.student, t.part"):
        summed.setdefault(row["student"], {})[row["part"]] = float(row["score"])
    parts: dict[str, dict[str, float]] = {}
    for row in book.conn.execute("SELECT student, part, score FROM parts"):
        parts.setdefault(row["student"], {})[row["part"]] = float(row["score"])
    overrides: dict[str, list[Override]] = {}
    for o in book.overrides():
        overrides.setdefault(o.student, []).append(o)
    extensions = {r["student"]: float(r["days"]) for r in book.conn.execute("SELECT student, days FROM extensions")}
    written = written_answers.scores(book)
    written_max = sum(written_answers.questions(book).values())
    released = written_answers.released_at(book) is not None
    out = []
    for sub in book.conn.execute("SELECT * FROM submissions ORDER BY student"):
        student = sub["student"]
        mine = overrides.get(student, [])
        part_over = {o.target: o.score for o in mine if o.kind == "part"}
        by_part = {name: 0.0 for name in points}
        # A submission whose grading errored before any test ran has part scores but no tests.
        source = summed.get(student) or parts.get(student, {})
        by_part.update({k: v for k, v in source.items() if k in by_part})
        by_part.update({k: v for k, v in part_over.items() if k in by_part})
        by_part = {k: round(v, 6) for k, v in by_part.items()}
        mine_written = written.get(student, {})
        total = round(sum(by_part.values()) + sum(w.score for w in mine_written.values() if w.graded), 6)
        days = extensions.get(student, 0.0)
        late = max(0.0, float(sub["seconds_late"]) - days * 86400)
        penalty = policy.penalty_fraction(late)
        out.append(Grade(
            student=student, status=sub["status"], error=sub["error"], autograde=float(sub["autograde"]),
            max_score=float(sum(points.values()) + written_max), parts=by_part, part_max=dict(points), total=total,
            seconds_late=late, extension_days=days, penalty_fraction=penalty,
            final=round(total * (1 - penalty), 4), overrides=mine, execution_time=sub["execution_time"],
            peak_memory_mb=sub["peak_memory_mb"], submission_error=sub["submission_error"],
            flags=json.loads(sub["flags"] or "[]"), written=mine_written, released=released))
    return out
