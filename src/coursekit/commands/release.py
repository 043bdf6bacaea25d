"""``course release [ID...] [--check]``: build student releases and guard them against leaks."""

from __future__ import annotations

import time
from pathlib import Path

import click

from coursekit.compiler import MarkerError, NotebookError, ReleaseError, build_release
from coursekit.config import CourseConfigError, load_course

MAX_LEAKS_SHOWN = 20


@click.command(name="release")
@click.argument("ids", nargs=-1)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if release/ is stale or leaks.")
@click.option("--no-guard", is_flag=True, help="Skip the leak guard (never in CI).")
@click.pass_context
def command(ctx: click.Context, ids: tuple[str, ...], check: bool, no_guard: bool) -> None:
    """Build release/<id>/ from source/<id>/ for each milestone ID (all if none given).

    Solutions become `raise NotImplementedError()`, outputs and solution-only metadata are
    removed, public tests and helper files are copied; the student package, pyproject.toml,
    datasets.json and README.md are written next to them. Afterwards the leak guard scans
    release/ for solution lines and hidden-test secrets.
    """
    course_file = Path(ctx.obj["course_file"] if ctx.obj else "course.yaml")
    started = time.perf_counter()
    try:
        course = load_course(course_file, check_files=False)
        result = build_release(course, course_file.resolve().parent, ids, check=check, guard=not no_guard)
    except (CourseConfigError, ReleaseError, MarkerError, NotebookError) as exc:
        raise click.ClickException(str(exc)) from None
    diff, seconds = result.diff, time.perf_counter() - started
    failed = False
    if check and not diff.clean:
        click.echo(f"release/ is stale ({len(diff.changed)} changed, {len(diff.missing)} missing, "
                   f"{len(diff.extra)} extra):", err=True)
        click.echo(diff.summary(), err=True)
        click.echo("fix: run `course release` and commit release/", err=True)
        failed = True
    elif check:
        click.echo(f"release/ is current ({len(result.plan.files)} files, {seconds:.1f} s)")
    else:
        changed = len(diff.changed) + len(diff.missing) + len(diff.extra)
        click.echo(f"release/: {len(result.plan.files)} files, {changed} written or removed ({seconds:.1f} s)")
    if result.leaks:
        for leak in result.leaks[:MAX_LEAKS_SHOWN]:
            click.echo(f"leak: {leak}", err=True)
        more = len(result.leaks) - MAX_LEAKS_SHOWN
        click.echo((f"... and {more} more\n" if more > 0 else "") +
                   f"leak guard: {len(result.leaks)} secret(s) found in release/; remove them from the public "
                   f"files (or move the solution inside BEGIN/END SOLUTION) and re-run", err=True)
        failed = True
    if failed:
        ctx.exit(1)
