"""`course submit <id>` (students): run the saved notebook in a fresh kernel, report, say what to upload."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit_student.submit import SubmitError, format_report, submit


@click.command(name="submit")
@click.argument("milestone")
@click.option("--notebook", type=click.Path(dir_okay=False, path_type=Path),
              help="The notebook to submit (default: <id>.ipynb here, in <id>/ or release/<id>/).")
@click.option("--out", "out_dir", default=".", type=click.Path(file_okay=False, path_type=Path),
              show_default=True, help="Folder for <id>-submission.zip (with --format zip).")
@click.option("--format", "fmt", type=click.Choice(["ipynb", "zip"]), default="ipynb", show_default=True,
              help="ipynb: check the notebook you upload as it is (the course's one instruction: upload <id>.ipynb); "
                   "zip: also write <id>-submission.zip with a manifest, for an LMS that asks for an archive.")
@click.option("--timeout", "cell_timeout", type=float, default=300.0, show_default=True,
              help="Seconds one cell may run.")
@click.option("--slow", "slow_seconds", type=float, default=10.0, show_default=True,
              help="Warn about cells slower than this many seconds.")
def command(milestone: str, notebook: Path | None, out_dir: Path, fmt: str, cell_timeout: float,
            slow_seconds: float) -> None:
    """Check MILESTONE's saved notebook in a fresh kernel (like the grader) and package it for upload."""
    try:
        report = submit(milestone, notebook=notebook, out_dir=out_dir, fmt=fmt, cell_timeout=cell_timeout,
                        slow_seconds=slow_seconds)
    except SubmitError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_report(report))
