"""The tables of DIR/gradebook.sqlite and how an older file is brought up to date.

Kept apart from the Gradebook class so that light readers (submission times, written answers)
can name the file and stamp times without importing the whole store.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from coursekit.review.results import ReviewError

DB_NAME = "gradebook.sqlite"

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


def migrate(conn: sqlite3.Connection) -> None:
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


def now() -> str:
    """The time stamp every row of the store carries (UTC, to the second)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
