"""`course doctor`: what this host gives the grading sandbox and what it lacks."""

from __future__ import annotations

import sys

import click


@click.command(name="doctor")
def command() -> None:
    """Check bubblewrap, user namespaces, cgroups and privileges for the full grading sandbox."""
    from coursekit.grading.doctor import report

    text, ok = report()
    click.echo(text)
    sys.exit(0 if ok else 1)
