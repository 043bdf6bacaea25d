"""``course release-feedback DIR [--withdraw]``: let students see their written-answer grades."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review import written
from coursekit.review.cli import BY_OPTION, RESULTS_DIR, gradebook, who
from coursekit.review.dashboard import build_site


@click.command(name="release-feedback")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.option("--withdraw", is_flag=True, help="Hide the written grades from students again.")
@BY_OPTION
def command(out_dir: Path, withdraw: bool, by: str | None) -> None:
    """Release the TA-graded written answers of DIR to students (their pages in DIR/site/students/)."""
    with gradebook(out_dir) as book:
        if not written.questions(book):
            raise click.ClickException(f"{book.milestone_id} has no written questions; nothing to release "
                                       "(add `written: {name: points}` to the milestone in course.yaml)")
        ungraded = written.release(book, by=who(by), withdraw=withdraw)
        report = build_site(book, out_dir / "site")
    if withdraw:
        click.echo(f"written feedback withdrawn; {report.pages} student pages rewritten")
        return
    click.echo(f"written feedback released; {report.pages} student pages rewritten in {out_dir / 'site' / 'students'}")
    if ungraded:
        click.echo(f"warning: {len(ungraded)} students have ungraded written answers (they count 0): "
                   f"{', '.join(ungraded[:10])}{' …' if len(ungraded) > 10 else ''}", err=True)
