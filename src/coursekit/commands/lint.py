"""`course lint [ID...]`: check release notebooks follow the course conventions."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.config.loader import CourseConfigError, course_root, load_course
from coursekit.lint import lint_notebook


@click.command(name="lint")
@click.argument("milestone_ids", nargs=-1, metavar="[ID]...")
@click.option("--notebook", "notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Lint this notebook (against the one milestone ID given) instead of release/<ID>/<ID>.ipynb.")
@click.pass_context
def command(ctx: click.Context, milestone_ids: tuple[str, ...], notebook: Path | None) -> None:
    """Check release notebooks (all milestones with a release, or the IDs given) follow docs/AUTHORING.md."""
    course_file = Path(ctx.obj["course_file"])
    try:
        course = load_course(course_file, check_files=False)
        milestones = [course.milestone(i) for i in milestone_ids] if milestone_ids else list(course.milestones)
    except (CourseConfigError, KeyError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    if notebook is not None and len(milestones) != 1:
        raise click.ClickException("--notebook lints one notebook: name exactly one milestone ID with it")
    root = course_root(course_file)
    problems, linted = [], 0
    for milestone in milestones:
        path = notebook or root / "release" / milestone.id / f"{milestone.id}.ipynb"
        if not path.is_file():
            if milestone_ids:
                problems.append(f"{path}: no release notebook; run `course release {milestone.id}` first")
            continue  # unreleased milestones are skipped when linting the whole course
        linted += 1
        problems.extend(lint_notebook(path, milestone))
    for line in problems:
        click.echo(line)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {linted} notebook(s)")
    click.echo(f"lint: {linted} release notebook(s) follow the conventions" if linted
               else "lint: no release notebooks yet; run `course release` first")
