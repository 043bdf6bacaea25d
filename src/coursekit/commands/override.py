"""``course override DIR STUDENT (--test NAME | --part PART) --score X --reason "..."``."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review.cli import BY_OPTION, RESULTS_DIR, gradebook, who


@click.command(name="override")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.argument("student")
@click.option("--test", "test", metavar="NAME", help="Override this test's score.")
@click.option("--part", "part", metavar="PART", help="Override this part's total (wins over test overrides in it).")
@click.option("--score", type=float, help="The new score (0 up to the test's or part's points).")
@click.option("--reason", default="", help="Why (kept in the history and shown to the student).")
@click.option("--remove", is_flag=True, help="Remove the override instead, restoring the autograde.")
@BY_OPTION
def command(out_dir: Path, student: str, test: str | None, part: str | None, score: float | None, reason: str,
            remove: bool, by: str | None) -> None:
    """Override a test's or a part's score for STUDENT in the results folder DIR.

    Overrides are kept across re-grades; when a re-grade changes the autograde an override
    replaced, the student is flagged for review. Re-running the same override re-bases it on
    today's autograde and clears the flag.
    """
    if (test is None) == (part is None):
        raise click.UsageError("give exactly one of --test NAME or --part PART")
    kind, target = ("test", test) if test is not None else ("part", part)
    with gradebook(out_dir) as book:
        if remove:
            gone = book.remove_override(student, test=test, part=part, by=who(by))
            click.echo(f"{student}: {kind} {target}: override removed" if gone
                       else f"{student}: {kind} {target} had no override; nothing to remove")
            return
        if score is None:
            raise click.UsageError("pass --score X (or --remove)")
        override = book.set_override(student, test=test, part=part, score=score, reason=reason, by=who(by))
        grade = book.grade(student)
        click.echo(f"{student}: {kind} {target} = {override.score:g} (autograde {override.basis or 0:g}); "
                   f"total {grade.total:g}/{grade.max_score:g}, final {grade.final:g}")
