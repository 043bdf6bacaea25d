"""What the teaching staff decide: overrides, comments, extensions, each logged in the history.

Part of :class:`coursekit.review.store.Gradebook` (``book.set_override(...)``): every decision
checks the student exists, runs in one transaction and leaves a history row, and lives in tables
a re-grade never touches (it replaces only the autograde's), so a re-grade never loses it.
"""

from __future__ import annotations

import difflib

from coursekit.review.grade import EPS, Override, fmt
from coursekit.review.reader import GradebookReader
from coursekit.review.results import ReviewError
from coursekit.review.schema import now


class StaffDecisions(GradebookReader):
    """The staff's decisions on one gradebook, each logged."""

    def _log(self, by: str, student: str, action: str, detail: str) -> None:
        self.conn.execute("INSERT INTO history(at, by, student, action, detail) VALUES (?,?,?,?,?)",
                          (now(), by, student, action, detail))

    def set_override(self, student: str, *, test: str | None = None, part: str | None = None, score: float,
                     reason: str, by: str) -> Override:
        """Override one test's or one part's score. Re-applying re-bases it on today's autograde."""
        self.require_student(student)
        if (test is None) == (part is None):
            raise ReviewError("give exactly one of --test NAME or --part PART")
        if not reason.strip():
            raise ReviewError("an override needs a --reason (it is shown to the student and kept in the history)")
        kind, target = ("test", test) if test is not None else ("part", part)
        if kind == "test":
            row = self.conn.execute("SELECT max_score FROM tests WHERE student = ? AND name = ?",
                                    (student, target)).fetchone()
            if row is None:
                names = self.test_names(student)
                close = difflib.get_close_matches(target, names, n=5, cutoff=0.5) or names[:5]
                raise ReviewError(f"unknown test {target!r} for {student}; tests include: {', '.join(close)}")
            top = float(row["max_score"])
        else:
            points = self.part_points
            if target not in points:
                raise ReviewError(f"unknown part {target!r}; {self.milestone_id} has parts: {', '.join(points)}")
            top = points[target]
        if not 0 <= score <= top + EPS:
            raise ReviewError(f"score {fmt(score)} is outside 0..{fmt(top)} for {kind} {target!r}; pass a score in range")
        basis = self._autograde_of(student, kind, target)
        sha = self._sha256_of(student)
        with self.conn:
            self.conn.execute(
                "INSERT INTO overrides(student, kind, target, score, reason, by, at, basis, basis_sha256) "
                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(student, kind, target) DO UPDATE SET "
                "score = excluded.score, reason = excluded.reason, by = excluded.by, at = excluded.at, "
                "basis = excluded.basis, basis_sha256 = excluded.basis_sha256",
                (student, kind, target, float(score), reason.strip(), by, now(), basis, sha))
            self._log(by, student, "override", f"{kind} {target} = {fmt(score)} (autograde {fmt(basis or 0)}): {reason}")
        return next(o for o in self.overrides(student) if o.kind == kind and o.target == target)

    def remove_override(self, student: str, *, test: str | None = None, part: str | None = None, by: str) -> bool:
        self.require_student(student)
        kind, target = ("test", test) if test is not None else ("part", part)
        with self.conn:
            gone = self.conn.execute("DELETE FROM overrides WHERE student = ? AND kind = ? AND target = ?",
                                     (student, kind, target)).rowcount
            if gone:
                self._log(by, student, "remove-override", f"{kind} {target}")
        return bool(gone)

    def add_comment(self, student: str, text: str, *, by: str) -> bool:
        """Attach a comment; the same text by the same person is stored once. True if it was new."""
        self.require_student(student)
        text = text.strip()
        if not text:
            raise ReviewError("the comment is empty; pass the text to attach, e.g. course comment DIR alice \"Nice work\"")
        with self.conn:
            added = self.conn.execute("INSERT OR IGNORE INTO comments(student, text, by, at) VALUES (?,?,?,?)",
                                      (student, text, by, now())).rowcount
            if added:
                self._log(by, student, "comment", text)
        return bool(added)

    def set_extension(self, student: str, days: float, *, reason: str, by: str) -> None:
        """Grant ``days`` extra days (replacing any earlier extension); 0 removes it."""
        self.require_student(student)
        if days < 0:
            raise ReviewError(f"--days {days:g} is negative; pass the number of extra days (0 removes the extension)")
        with self.conn:
            if days == 0:
                self.conn.execute("DELETE FROM extensions WHERE student = ?", (student,))
            else:
                self.conn.execute("INSERT OR REPLACE INTO extensions VALUES (?,?,?,?,?)",
                                  (student, float(days), reason, by, now()))
            self._log(by, student, "extend", f"{days:g} days: {reason}")
