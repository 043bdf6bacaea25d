"""Shared plumbing for the review verbs (report, override, comment, extend, export, review)."""

from __future__ import annotations

import getpass
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from coursekit.review.results import ReviewError
from coursekit.review.store import Gradebook

RESULTS_DIR = click.Path(file_okay=False, path_type=Path)
BY_OPTION = click.option("--by", default=None, help="Who made the change (default: your login name).")


def who(by: str | None) -> str:
    """The staff member to record; the login name when not given."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry inside some containers
        return "staff"


@contextmanager
def review_errors() -> Iterator[None]:
    """Turn a ReviewError into click's one-line ``Error: ...`` and exit status 1."""
    try:
        yield
    except ReviewError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def gradebook(out_dir: Path) -> Iterator[Gradebook]:
    """Open DIR's store for a change, then rewrite DIR/gradebook.csv so it never lags the store..."""
    from coursekit.review.feedback_files import last_history_id, touched_since, write_feedback_files

    with review_errors():
        book = Gradebook.open(out_dir)
        try:
            before = last_history_id(book)
            yield book
            book.write_gradebook_csv()
            # ...and neither does OUT/<student>/feedback.* of a student whose grade a TA just changed
            write_feedback_files(book, touched_since(book, before))
        finally:
            book.close()
