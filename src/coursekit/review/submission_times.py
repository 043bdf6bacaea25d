"""Submission times kept with the submission, in the gradebook store (DIR/gradebook.sqlite).

Lateness used to come only from a per-run input (``--times`` CSV, LMS folder metadata,
Gradescope's metadata): re-grading one student without it silently dropped their lateness.
Each ingest now remembers ``submitted_at`` per (student, sha256 of the notebook bytes) with
where it came from, and ``course grade`` reuses it for the same student and the *same file*.
A changed file (a re-submission) never inherits an old time: its lateness is unknown until
the operator gives one, and the batch says so.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from coursekit.grading.results_model import Late
from coursekit.review.schema import DB_NAME

TIMES_SCHEMA = """
CREATE TABLE IF NOT EXISTS submission_times(
    student TEXT NOT NULL, sha256 TEXT NOT NULL, submitted_at TEXT NOT NULL, source TEXT,
    recorded_at TEXT NOT NULL, PRIMARY KEY(student, sha256));
"""


@dataclass(frozen=True)
class StoredTime:
    submitted_at: dt.datetime
    source: str | None


def remember_time(conn: sqlite3.Connection, student: str, sha256: str | None, late: Late) -> None:
    """Keep this submission's time (inside the caller's transaction); nothing to keep without both."""
    if not sha256 or not late.submitted_at:
        return
    conn.execute("INSERT OR REPLACE INTO submission_times VALUES (?,?,?,?,?)",
                 (student, sha256, late.submitted_at, late.source,
                  dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))


def stored_times(out_dir: Path) -> dict[str, dict[str, StoredTime]]:
    """{student: {sha256: time}} from OUT's store; empty when there is no store (a first batch).

    Opened read-only: looking up times must never create or migrate a store.
    """
    path = Path(out_dir) / DB_NAME
    if not path.is_file():
        return {}
    found: dict[str, dict[str, StoredTime]] = {}
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            rows = conn.execute("SELECT student, sha256, submitted_at, source FROM submission_times").fetchall()
    except sqlite3.OperationalError:  # a store from before this table: no times kept yet
        return {}
    for student, sha256, submitted_at, source in rows:
        try:
            found.setdefault(student, {})[sha256] = StoredTime(dt.datetime.fromisoformat(submitted_at), source)
        except ValueError:  # a hand-edited row: ignored rather than guessed
            continue
    return found
