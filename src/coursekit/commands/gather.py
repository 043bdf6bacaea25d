"""``course gather DIR ID``: merge a cluster run's shards into one results folder."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.config.loader import CourseConfigError
from coursekit.infra.gather import GatherError, gather
from coursekit.review.results import ReviewError


@click.command(name="gather")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("milestone_id")
@click.pass_context
def command(ctx: click.Context, results_dir: Path, milestone_id: str) -> None:
    """Merge RESULTS_DIR/shards/<i>/ (one per pod) into RESULTS_DIR: summary.json and the gradebook."""
    try:
        done = gather(results_dir, milestone_id, Path(ctx.obj["course_file"]))
    except (GatherError, CourseConfigError, ReviewError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"gathered {done.submissions} submissions from {done.shards} shards into {results_dir} "
               f"({done.errors} with grader errors); see summary.json and gradebook.csv")
