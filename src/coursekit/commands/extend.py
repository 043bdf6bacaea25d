"""``course extend DIR STUDENT --days N``."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review.cli import BY_OPTION, RESULTS_DIR, gradebook, who


@click.command(name="extend")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.argument("student")
@click.option("--days", type=float, required=True, help="Extra days after the due date (0 removes the extension).")
@click.option("--reason", default="", help="Why (kept in the history).")
@BY_OPTION
def command(out_dir: Path, student: str, days: float, reason: str, by: str | None) -> None:
    """Grant STUDENT an extension: lateness is counted from the due date plus N days."""
    with gradebook(out_dir) as book:
        book.set_extension(student, days, reason=reason, by=who(by))
        grade = book.grade(student)
        click.echo(f"{student}: extension {days:g} days; late penalty {grade.penalty_fraction:.0%}, "
                   f"final {grade.final:g}/{grade.max_score:g}")
