"""``course comment DIR STUDENT "text"``."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review.cli import BY_OPTION, RESULTS_DIR, gradebook, who


@click.command(name="comment")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.argument("student")
@click.argument("text")
@BY_OPTION
def command(out_dir: Path, student: str, text: str, by: str | None) -> None:
    """Attach a comment for STUDENT (shown on their feedback page). The same comment twice is kept once."""
    with gradebook(out_dir) as book:
        added = book.add_comment(student, text, by=who(by))
        count = len(book.comments(student))
        click.echo(f"{student}: comment {'added' if added else 'already there'} ({count} in all)")
