"""Opening DIR/gradebook.sqlite and reading it: the milestone's settings, students, tests,
overrides, comments, extensions, and the effective grades computed from them.

The base of :class:`coursekit.review.store.Gradebook`; nothing here changes a staff decision.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Self

from coursekit.config.schema import LatePolicy
from coursekit.review import written as written_answers
from coursekit.review.grade import Grade, Override, effective_grades
from coursekit.review.results import ReviewError
from coursekit.review.schema import DB_NAME, SCHEMA, migrate
from coursekit.review.submission_times import TIMES_SCHEMA


class GradebookReader:
    """A results folder's gradebook.sqlite. Open with ``Gradebook.open(out_dir)``."""

    def __init__(self, out_dir: Path, conn: sqlite3.Connection) -> None:
        self.out_dir = out_dir
        self.conn = conn

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, out_dir: Path, *, create: bool = False) -> Self:
        out_dir = Path(out_dir)
        path = out_dir / DB_NAME
        if not path.is_file() and not create:
            raise ReviewError(f"{out_dir}: no {DB_NAME}; run `course grade` (or `course report {out_dir}`) first")
        if not out_dir.is_dir():
            raise ReviewError(f"{out_dir}: no such results folder; pass the --out folder of `course grade`")
        conn = sqlite3.connect(path, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.executescript(SCHEMA)
        written_answers.ensure_schema(conn)
        conn.executescript(TIMES_SCHEMA)
        migrate(conn)
        return cls(out_dir, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- milestone settings (copied from course.yaml at ingest so the CLI needs only DIR) --
    def meta(self, key: str) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise ReviewError(f"{self.out_dir / DB_NAME}: no '{key}' recorded; re-run `course report {self.out_dir}`")
        return row["value"]

    @property
    def milestone_id(self) -> str:
        return self.meta("milestone")

    @property
    def title(self) -> str:
        return self.meta("title")

    @property
    def part_points(self) -> dict[str, float]:
        return {k: float(v) for k, v in json.loads(self.meta("parts")).items()}

    @property
    def late_policy(self) -> LatePolicy:
        return LatePolicy.model_validate_json(self.meta("late_policy"))

    # -- queries -------------------------------------------------------------------------
    def students(self) -> list[str]:
        return [r["student"] for r in self.conn.execute("SELECT student FROM submissions ORDER BY student")]

    def require_student(self, student: str) -> None:
        if self.conn.execute("SELECT 1 FROM submissions WHERE student = ?", (student,)).fetchone():
            return
        known = self.students()
        sample = ", ".join(known[:5]) + (f", … ({len(known)} in all)" if len(known) > 5 else "")
        raise ReviewError(f"unknown student {student!r} in {self.out_dir}; graded students: {sample or 'none'}")

    def test_names(self, student: str) -> list[str]:
        return [r["name"] for r in self.conn.execute("SELECT name FROM tests WHERE student = ? ORDER BY name", (student,))]

    def _autograde_of(self, student: str, kind: str, target: str) -> float | None:
        if kind == "test":
            row = self.conn.execute("SELECT score FROM tests WHERE student = ? AND name = ?", (student, target)).fetchone()
        else:
            row = self.conn.execute("SELECT score FROM parts WHERE student = ? AND part = ?", (student, target)).fetchone()
        return None if row is None else float(row["score"])

    def _sha256_of(self, student: str) -> str | None:
        row = self.conn.execute("SELECT sha256 FROM submissions WHERE student = ?", (student,)).fetchone()
        return None if row is None else row["sha256"]

    def overrides(self, student: str | None = None) -> list[Override]:
        sql = "SELECT * FROM overrides" + (" WHERE student = ?" if student else "") + " ORDER BY student, kind, target"
        out = []
        for row in self.conn.execute(sql, (student,) if student else ()):
            o = Override(**{k: row[k] for k in row.keys()})
            o.current = self._autograde_of(o.student, o.kind, o.target)
            o.current_sha256 = self._sha256_of(o.student)
            out.append(o)
        return out

    def comments(self, student: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(
            "SELECT text, by, at FROM comments WHERE student = ? ORDER BY id", (student,))]

    def extension_days(self, student: str) -> float:
        row = self.conn.execute("SELECT days FROM extensions WHERE student = ?", (student,)).fetchone()
        return 0.0 if row is None else float(row["days"])

    # -- grades --------------------------------------------------------------------------
    def grades(self) -> list[Grade]:
        """Every student's effective grade, sorted by student."""
        return effective_grades(self)

    def grade(self, student: str) -> Grade:
        self.require_student(student)
        return next(g for g in self.grades() if g.student == student)
