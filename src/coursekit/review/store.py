"""The gradebook store: DIR/gradebook.sqlite, opened as ``Gradebook.open(out_dir)``.

It keeps what the autograder said (submissions, tests, parts) next to what the teaching
staff decided (overrides, comments, extensions) so that a re-grade replaces the former and
never the latter. Each override remembers the autograde score it replaced (its *basis*);
when a re-grade changes that score the override is kept and the submission is flagged for
review until a TA re-applies (or removes) it.

The pieces, one idea a module:
- ``schema``: the tables and their migration;      - ``reader``: opening and queries;
- ``grade``: the effective grade (computed, never stored); - ``decisions``: the staff's decisions;
- ``gradebook_csv``: DIR/gradebook.csv;             - ``ingest``: recording a graded batch.
"""

from __future__ import annotations

from coursekit.review.decisions import StaffDecisions
from coursekit.review.grade import Grade, Override
from coursekit.review.gradebook_csv import CSV_NAME, GradebookCsv
from coursekit.review.schema import DB_NAME

__all__ = ["CSV_NAME", "DB_NAME", "Grade", "Gradebook", "Override"]


class Gradebook(StaffDecisions, GradebookCsv):
    """A results folder's gradebook: its queries, the staff's decisions and its CSV."""
