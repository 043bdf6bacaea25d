"""The gradebook store: DIR/gradebook.sqlite.

It keeps what the autograder said (submissions, tests, parts) next to what the teaching
staff decided (overrides, comments, extensions) so that a re-grade replaces the former and
never the latter. Each override remembers the autograde score it replaced (its *basis*);
when a re-grade changes that score the override is kept and the submission is flagged for
review until a TA re-applies (or removes) it.

Scores are computed, never stored: part = sum of its (possibly overridden) tests, unless
the part itself is overridden; total = sum of parts; the late penalty uses the milestone's
late policy on the lateness left after any extension.
"""

from __future__ import annotations

import csv
import difflib
import datetime as dt
import io
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coursekit.config.schema import Course, LatePolicy, Milestone
from coursekit.grading.results_model import Results
from coursekit.review.results import ReviewError, first_line, load_results, milestone_of, result_files
from coursekit.review.submission_times import TIMES_SCHEMA, remember_time
from coursekit.review.escape import csv_row
from coursekit.review import written as written_answers

DB_NAME = "gradebook.sqlite"
CSV_NAME = "gradebook.csv"
EPS = 1e-9

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions(
    student TEXT PRIMARY KEY, sha256 TEXT, autograde REAL NOT NULL, max_score REAL NOT NULL,
    status TEXT NOT NULL, error TEXT, submitted_at TEXT, seconds_late REAL NOT NULL DEFAULT 0,
    execution_time REAL, peak_memory_mb REAL, device TEXT, results_path TEXT NOT NULL, ingested_at TEXT NOT NULL,
    results_stamp TEXT, submission_error TEXT, flags TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS tests(
    student TEXT NOT NULL, name TEXT NOT NULL, part TEXT, kind TEXT, score REAL NOT NULL,
    max_score REAL NOT NULL, outcome TEXT, message TEXT, duration REAL, PRIMARY KEY(student, name));
CREATE TABLE IF NOT EXISTS parts(
    student TEXT NOT NULL, part TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    PRIMARY KEY(student, part));
CREATE TABLE IF NOT EXISTS overrides(
    student TEXT NOT NULL, kind TEXT NOT NULL CHECK(kind IN ('test', 'part')), target TEXT NOT NULL,
    score REAL NOT NULL, reason TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL, basis REAL, basis_sha256 TEXT,
    PRIMARY KEY(student, kind, target));
CREATE TABLE IF NOT EXISTS comments(
    id INTEGER PRIMARY KEY, student TEXT NOT NULL, text TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL,
    UNIQUE(student, text, by));
CREATE TABLE IF NOT EXISTS extensions(
    student TEXT PRIMARY KEY, days REAL NOT NULL, reason TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history(
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, by TEXT NOT NULL, student TEXT NOT NULL,
    action TEXT NOT NULL, detail TEXT NOT NULL);
"""


SCHEMA_VERSION = 4
# Columns added after a store may already exist on disk: (table, column, declaration).
ADDED_COLUMNS = [("submissions", "results_stamp", "TEXT"), ("submissions", "submission_error", "TEXT"),
                 ("submissions", "flags", "TEXT NOT NULL DEFAULT '[]'"), ("overrides", "basis_sha256", "TEXT")]


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older gradebook.sqlite up to this schema without losing staff decisions."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ReviewError(f"gradebook.sqlite was written by a newer kit (schema {version}); upgrade the kit")
    for table, column, decl in ADDED_COLUMNS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.commit()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _stamp(path: Path) -> str:
    """Identifies one version of a results file (a re-grade rewrites it: new mtime)."""
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


def _fmt(x: float) -> str:
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
    written: dict[str, "written_answers.WrittenScore"] = field(default_factory=dict)
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
            now = "removed" if o.current is None else _fmt(o.current)
            what = "a new submission was graded since the override of" if o.resubmitted else "re-grade changed"
            reasons.append(f"{what} {o.kind} {o.target}: autograde {_fmt(o.basis or 0)} -> {now}; "
                           f"override {_fmt(o.score)} kept")
        return "; ".join(reasons)


class Gradebook:
    """A results folder's gradebook.sqlite. Open with ``Gradebook.open(out_dir)``."""

    def __init__(self, out_dir: Path, conn: sqlite3.Connection) -> None:
        self.out_dir = out_dir
        self.conn = conn

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, out_dir: Path, *, create: bool = False) -> "Gradebook":
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
        _migrate(conn)
        return cls(out_dir, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- milestone settings (copied from course.yaml at ingest so the CLI needs only DIR) --
    def set_milestone(self, course: Course, milestone: Milestone) -> None:
        values = {"milestone": milestone.id, "title": milestone.title, "due": milestone.due.isoformat(),
                  "parts": json.dumps(milestone.parts), "written": json.dumps(milestone.written),
                  "late_policy": course.late_policy_for(milestone).model_dump_json()}
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

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

    # -- ingest --------------------------------------------------------------------------
    def ingest(self, student: str, results: Results, results_path: Path) -> None:
        """Replace one student's autograde with ``results``; overrides and comments are kept.

        Runs inside the caller's transaction (commit with ``with book.conn:``) so that a
        batch is one commit, not one fsync per student.
        """
        extra, grader, late = results.extra_data, results.grader, results.late
        self.conn.execute("DELETE FROM tests WHERE student = ?", (student,))
        self.conn.execute("DELETE FROM parts WHERE student = ?", (student,))
        self.conn.execute(
            "INSERT OR REPLACE INTO submissions(student, sha256, autograde, max_score, status, error, submitted_at, "
            "seconds_late, execution_time, peak_memory_mb, device, results_path, ingested_at, results_stamp, "
            "submission_error, flags) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (student, extra.submission_sha256, results.score, results.max_score,
             results.status.value, grader.error, late.submitted_at, late.seconds_late, results.execution_time,
             grader.peak_memory_mb, grader.device,
             str(results_path.relative_to(self.out_dir)), _now(), _stamp(results_path),
             extra.submission_error, json.dumps([str(f) for f in extra.flags] + [
                 f"HELD part {h.get('part')} (cell [{h.get('cell')}] line {h.get('line')}): {h.get('reason')}; "
                 f"computed {h.get('computed_score')}, release with `course release-hold`"
                 for h in extra.holds])))
        self.conn.executemany(
            "INSERT OR REPLACE INTO tests VALUES (?,?,?,?,?,?,?,?,?)",
            [(student, t.name, t.part, t.extra_data.kind, t.score, t.max_score, t.outcome.value,
              first_line(t.output), t.extra_data.duration) for t in results.tests])
        self.conn.executemany(
            "INSERT OR REPLACE INTO parts VALUES (?,?,?,?)",
            [(student, name, p.score, p.max_score) for name, p in results.parts.items()])
        remember_time(self.conn, student, extra.submission_sha256, late)

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

    # -- staff decisions -----------------------------------------------------------------
    def _log(self, by: str, student: str, action: str, detail: str) -> None:
        self.conn.execute("INSERT INTO history(at, by, student, action, detail) VALUES (?,?,?,?,?)",
                          (_now(), by, student, action, detail))

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
            raise ReviewError(f"score {_fmt(score)} is outside 0..{_fmt(top)} for {kind} {target!r}; pass a score in range")
        basis = self._autograde_of(student, kind, target)
        sha = self._sha256_of(student)
        with self.conn:
            self.conn.execute(
                "INSERT INTO overrides(student, kind, target, score, reason, by, at, basis, basis_sha256) "
                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(student, kind, target) DO UPDATE SET "
                "score = excluded.score, reason = excluded.reason, by = excluded.by, at = excluded.at, "
                "basis = excluded.basis, basis_sha256 = excluded.basis_sha256",
                (student, kind, target, float(score), reason.strip(), by, _now(), basis, sha))
            self._log(by, student, "override", f"{kind} {target} = {_fmt(score)} (autograde {_fmt(basis or 0)}): {reason}")
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
                                      (student, text, by, _now())).rowcount
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
                                  (student, float(days), reason, by, _now()))
            self._log(by, student, "extend", f"{days:g} days: {reason}")

    # -- grades --------------------------------------------------------------------------
    def grades(self) -> list[Grade]:
        """Every student's effective grade, sorted by student."""
        points = self.part_points
        policy = self.late_policy
        # Part sums with test overrides applied, aggregated by SQLite (30k rows: ~10x faster than Python).
        summed: dict[str, dict[str, float]] = {}
        for row in self.conn.execute(
                "SELECT t.student, t.part, SUM(COALESCE(o.score, t.score)) AS score FROM tests t "
                "LEFT JOIN overrides o ON o.student = t.student AND o.kind = 'test' AND o.target = t.name "
                "GROUP BY t.student, t.part"):
            summed.setdefault(row["student"], {})[row["part"]] = float(row["score"])
        parts: dict[str, dict[str, float]] = {}
        for row in self.conn.execute("SELECT student, part, score FROM parts"):
            parts.setdefault(row["student"], {})[row["part"]] = float(row["score"])
        overrides: dict[str, list[Override]] = {}
        for o in self.overrides():
            overrides.setdefault(o.student, []).append(o)
        extensions = {r["student"]: float(r["days"]) for r in self.conn.execute("SELECT student, days FROM extensions")}
        written = written_answers.scores(self)
        written_max = sum(written_answers.questions(self).values())
        released = written_answers.released_at(self) is not None
        out = []
        for sub in self.conn.execute("SELECT * FROM submissions ORDER BY student"):
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

    def grade(self, student: str) -> Grade:
        self.require_student(student)
        return next(g for g in self.grades() if g.student == student)

    # -- outputs -------------------------------------------------------------------------
    def gradebook_rows(self, grades: list[Grade] | None = None) -> tuple[list[str], list[list[Any]]]:
        parts = list(self.part_points)
        questions = list(written_answers.questions(self))
        header = ["student", *parts, *[f"written:{q}" for q in questions], "total", "max_score", "seconds_late",
                  "extension_days", "penalty_fraction", "final_score", "status", "overrides", "needs_review",
                  *(["written_released"] if questions else [])]
        rows = [[g.student, *[_fmt(g.parts[p]) for p in parts],
                 *[_fmt(g.written[q].score) if g.written[q].graded else "" for q in questions],
                 _fmt(g.total), _fmt(g.max_score),
                 f"{g.seconds_late:.0f}", _fmt(g.extension_days), _fmt(round(g.penalty_fraction, 4)),
                 _fmt(g.final), g.status, len(g.overrides), "yes" if g.needs_review else "",
                 *(["yes" if g.released else "no"] if questions else [])]
                for g in (self.grades() if grades is None else grades)]
        return header, rows

    def gradebook_csv(self, grades: list[Grade] | None = None) -> str:
        header, rows = self.gradebook_rows(grades)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(csv_row(header))
        writer.writerows(csv_row(row) for row in rows)  # a student id or status never runs as a formula
        return buffer.getvalue()

    def write_gradebook_csv(self, grades: list[Grade] | None = None) -> Path:
        path = self.out_dir / CSV_NAME
        tmp = path.with_suffix(".csv.tmp")
        tmp.write_text(self.gradebook_csv(grades), encoding="utf-8")
        tmp.replace(path)  # atomic: a spreadsheet open on the old file never sees half a file
        return path


def _milestone(course: Course, milestone: Milestone | str) -> Milestone:
    if isinstance(milestone, Milestone):
        return milestone
    try:
        return course.milestone(milestone)
    except KeyError as exc:
        raise ReviewError(str(exc.args[0])) from None


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
            book.ingest(student, load_results(path), path)
            students.append(student)
    return students


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
        book.set_milestone(course, m)
        students = ingest_folder(book, out_dir)
        book.write_gradebook_csv()
        from coursekit.review.feedback_files import write_feedback_files  # imported here: it imports this module

        write_feedback_files(book, students)  # OUT/<student>/feedback.* keep the staff's decisions too


def open_or_build(out_dir: Path, course_file: Path | None) -> Gradebook:
    """Open DIR's store, building it from the results (with course.yaml's policy) when absent."""
    out_dir = Path(out_dir)
    if (out_dir / DB_NAME).is_file():
        return Gradebook.open(out_dir)
    from coursekit.config import CourseConfigError, load_course

    milestone = milestone_of(out_dir)
    try:
        course = load_course(course_file or Path("course.yaml"), check_files=False)
    except CourseConfigError as exc:
        raise ReviewError(f"{out_dir} has no {DB_NAME} yet and the course file is needed to build it: {exc}") from None
    record_batch(out_dir=out_dir, course=course, milestone=milestone)
    return Gradebook.open(out_dir)

