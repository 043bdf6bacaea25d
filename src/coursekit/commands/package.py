"""``course package gradescope <id>``: a Gradescope autograder zip for one milestone."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.config.loader import CourseConfigError
from coursekit.infra import gradescope


@click.group(name="package")
def command() -> None:
    """Package an autograder for a hosted platform."""


@command.command(name="gradescope")
@click.argument("milestone_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Zip to write (default: dist/gradescope/<id>.zip).")
@click.pass_context
def gradescope_command(ctx: click.Context, milestone_id: str, out: Path | None) -> None:
    """Write a reproducible Gradescope autograder zip (setup.sh, run_autograder, kit, hidden suite)."""
    course_file = Path(ctx.obj["course_file"]).resolve()
    try:
        path, digest = gradescope.package(course_file, milestone_id, out)
    except (gradescope.PackageError, CourseConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path} (sha256 {digest}); upload it as the assignment's autograder "
               f"(Configure Autograder > Zip file upload)")
    if gradescope.needs_gpu(course_file, milestone_id):
        click.echo(f"note: {milestone_id} needs a GPU; Gradescope has none, so its @cpu_smoke variants are graded")
