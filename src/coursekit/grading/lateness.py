"""Submission times that stick: a batch without a time for a submission reuses the stored one.

A time given in this run (``--times`` CSV, LMS or Gradescope folder metadata) always wins. A
submission without one gets the time the gradebook store (OUT/gradebook.sqlite) kept for the same
student and the same file: same sha256 of the notebook bytes, read exactly as grading reads them
(``read_notebook_bytes``). A changed file never inherits an old time; those students are listed so
the operator can pass ``--times`` instead of silently losing their lateness.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from coursekit.grading.submission_files import SubmissionError, read_notebook_bytes
from coursekit.review.submission_times import stored_times

if TYPE_CHECKING:
    from coursekit.grading.batch import Submission


def submission_sha256(path: Path) -> str | None:
    """The sha256 grading will record for this submission; None when it cannot be read (graded as invalid)."""
    try:
        return hashlib.sha256(read_notebook_bytes(path)).hexdigest()
    except (SubmissionError, OSError):
        return None


def with_stored_times(out_dir: Path, batch: list[Submission]) -> tuple[list[Submission], list[str]]:
    """(the batch with stored times filled in, students whose changed file has no time)."""
    known = stored_times(out_dir)
    filled, unknown = [], []
    for item in batch:
        kept = known.get(item.student)
        if item.submitted_at is not None or item.refused or not kept:
            filled.append(item)
            continue
        stored = kept.get(submission_sha256(item.path) or "")
        if stored is None:  # a re-submission (or an unreadable file): its lateness is not the old file's
            unknown.append(item.student)
            filled.append(item)
        else:
            filled.append(dataclasses.replace(item, submitted_at=stored.submitted_at, time_source=stored.source))
    return filled, sorted(unknown)


def remote_times(out_dir: Path, submissions: list[Path], times: dict[str, dt.datetime]
                 ) -> tuple[dict[str, dt.datetime], list[str]]:
    """--times for a batch graded elsewhere (Kubernetes pods have no store): this run's times plus the
    stored ones for unchanged files; and the students whose changed file has no time.

    Folder metadata is left to the pods (they read it as a local batch does), so a stored time never
    overrides it.
    """
    from coursekit.grading.batch import discover  # batch imports this module

    batch = discover(submissions, times)
    filled, unknown = with_stored_times(out_dir, batch)
    had = {item.student for item in batch if item.submitted_at is not None}
    stored = {item.student: item.submitted_at for item in filled
              if item.student not in had and item.submitted_at is not None}
    return {**times, **stored}, unknown
