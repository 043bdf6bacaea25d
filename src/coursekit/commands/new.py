"""``course new <id>``: scaffold a milestone (course.yaml entry, tagged notebook, tests, mutants)."""

from __future__ import annotations

import datetime as dt

import click

from coursekit.config import CourseConfigError
from coursekit.scaffold import ScaffoldError, create


@click.command(name="new")
@click.argument("milestone_id", metavar="ID")
@click.option("--title", help="Milestone title (default: from the id).")
@click.option("--due", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
              help="Due date in UTC (default: a week after the last milestone's).")
@click.option("--phase", type=int, help="Course phase (default: the last milestone's).")
@click.pass_context
def command(ctx: click.Context, milestone_id: str, title: str | None, due: dt.datetime | None,
            phase: int | None) -> None:
    """Create milestone ID with one worked example part and a written question, ready for `course validate`."""
    from pathlib import Path

    course_file = Path(ctx.obj["course_file"])
    when = due.replace(tzinfo=dt.timezone.utc) if due else None
    try:
        written = create(course_file, milestone_id, title=title, due=when, phase=phase)
    except (ScaffoldError, CourseConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    root = course_file.resolve().parent
    for path in written:
        click.echo(f"wrote {path.resolve().relative_to(root) if path.resolve().is_relative_to(root) else path}")
    click.echo(f"next: replace the example part, then `course release {milestone_id}` and "
               f"`course validate {milestone_id}` (docs/AUTHORING.md)")
