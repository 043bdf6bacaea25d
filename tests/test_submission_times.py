"""Submission times kept per (student, sha256): stored on ingest, reused only for the same file."""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import closing
from pathlib import Path

from coursekit.grading.batch import Submission
from coursekit.grading.lateness import submission_sha256, with_stored_times
from coursekit.grading.results_model import Late
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.submission_times import remember_time, stored_times
from coursekit.review.synthetic import DEFAULT_MILESTONE, synthetic_course, write_synthetic_class

WHEN = dt.datetime(2027, 2, 6, 1, 0, tzinfo=dt.timezone.utc)


def _store(out: Path, rows: list[tuple[str, str, str]]) -> None:
    with closing(Gradebook.open(out, create=True)) as book, book.conn:
        for student, sha, source in rows:
            remember_time(book.conn, student, sha, Late(submitted_at=WHEN.isoformat(), source=source))


def test_ingest_stores_each_graded_submissions_time(tmp_path: Path) -> None:
    students = write_synthetic_class(tmp_path, 5, seed=2)
    record_batch(out_dir=tmp_path, course=synthetic_course(), milestone=DEFAULT_MILESTONE)
    kept = stored_times(tmp_path)
    assert sorted(kept) == students and all(len(by_sha) == 1 for by_sha in kept.values())


def test_no_store_no_times_and_nothing_created(tmp_path: Path) -> None:
    assert stored_times(tmp_path) == {}
    assert not (tmp_path / "gradebook.sqlite").exists()


def test_a_time_needs_both_a_file_and_a_time(tmp_path: Path) -> None:
    with closing(Gradebook.open(tmp_path, create=True)) as book, book.conn:
        remember_time(book.conn, "ada", None, Late(submitted_at=WHEN.isoformat()))
        remember_time(book.conn, "ada", "ab" * 32, Late())
    assert stored_times(tmp_path) == {}


def test_same_file_reuses_the_time_a_changed_file_is_listed_a_given_time_wins(tmp_path: Path) -> None:
    same, changed, given = tmp_path / "ada.ipynb", tmp_path / "bo.ipynb", tmp_path / "cy.ipynb"
    for path in (same, changed, given):
        path.write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', encoding="utf-8")
    sha = hashlib.sha256(same.read_bytes()).hexdigest()
    assert submission_sha256(same) == sha and submission_sha256(tmp_path / "missing.ipynb") is None
    _store(tmp_path, [("ada", sha, "times"), ("bo", "00" * 32, "lms"), ("cy", sha, "times")])
    now = WHEN + dt.timedelta(days=3)
    batch = [Submission("ada", same, None), Submission("bo", changed, None),
             Submission("cy", given, now, None, "gradescope"), Submission("dee", same, None)]
    filled, unknown = with_stored_times(tmp_path, batch)
    by = {item.student: item for item in filled}
    assert (by["ada"].submitted_at, by["ada"].time_source) == (WHEN, "times")
    assert by["bo"].submitted_at is None and unknown == ["bo"]
    assert (by["cy"].submitted_at, by["cy"].time_source) == (now, "gradescope")
    assert by["dee"].submitted_at is None  # nothing stored for dee: not a re-submission, no warning


def test_a_batch_sent_to_pods_carries_stored_times_for_unchanged_files(tmp_path: Path) -> None:
    from coursekit.grading.lateness import remote_times

    same, changed, given = tmp_path / "ada.ipynb", tmp_path / "bo.ipynb", tmp_path / "cy.ipynb"
    for path in (same, changed, given):
        path.write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', encoding="utf-8")
    sha = hashlib.sha256(same.read_bytes()).hexdigest()
    _store(tmp_path, [("ada", sha, "times"), ("bo", "00" * 32, "lms"), ("cy", sha, "times")])
    now = WHEN + dt.timedelta(days=3)
    times, unknown = remote_times(tmp_path, [same, changed, given], {"cy": now})
    assert times == {"ada": WHEN, "cy": now} and unknown == ["bo"]
