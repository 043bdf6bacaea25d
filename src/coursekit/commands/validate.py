"""``course validate [ID...]``: reference scores full marks, blank release 0, points add up."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coursekit.config import CourseConfigError, load_course


def _table(report) -> Table:
    table = Table(title=f"{report.milestone}: {'OK' if report.ok else 'FAILED'}", title_justify="left",
                  show_lines=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        verdict = "[green]pass[/green]" if check.ok else "[red]FAIL[/red]"
        table.add_row(check.name, verdict, f"{check.seconds:.1f}", escape(check.detail))  # details hold [ids]
    return table


@click.command(name="validate")
@click.argument("ids", nargs=-1)
@click.option("--schema", is_flag=True, help="Print the course.yaml schema documentation and exit.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Device the grader uses for the reference and blank-release runs.")
@click.pass_context
def command(ctx: click.Context, ids: tuple[str, ...], schema: bool, device: str) -> None:
    """Prove milestones ID... (all if none) are sound; writes reference/<id>/validate.json.

    Checks: the source notebook scores full points (public + hidden); the untouched release
    scores 0 with only NotImplementedError failures; the release notebook runs top to bottom
    in a fresh kernel; every test maps to a part and points add up (GPU and CPU modes); the
    release is current and leak-free; the release notebook passes `course lint`.
    """
    if schema:
        from coursekit.validate.schema_docs import render_schema

        click.echo(render_schema())
        return
    from coursekit.validate import validate_milestone

    course_file = Path(ctx.obj["course_file"] if ctx.obj else "course.yaml")
    try:
        course = load_course(course_file, check_files=False)
        milestones = ([course.milestone(i, error=click.ClickException).id for i in ids] if ids
                      else [m.id for m in course.milestones])
    except CourseConfigError as exc:
        raise click.ClickException(str(exc)) from None
    console = Console(width=max(120, Console().width))
    failed = []
    for milestone_id in milestones:
        report = validate_milestone(course_file, milestone_id, device=device)
        console.print(_table(report))
        if not report.ok:
            failed.append(milestone_id)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(milestones)} milestone(s) failed validation: "
                                   f"{', '.join(failed)}")
    click.echo(f"all {len(milestones)} milestone(s) valid")
