"""`course status` (students): progress per milestone from release notebooks and cached check() results."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit_student.status import status


@click.command(name="status")
@click.argument("path", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
def command(path: Path) -> None:
    """Show progress per milestone for the release notebooks under PATH (default: here)."""
    click.echo(status(path))
