"""``course secret init [--force]``: the course secret that seeds hidden test inputs.

See coursekit.grading.secret: hidden inputs are HMAC(secret, submission digest, test), so keep the
file with the hidden suites (never in release/, gitignored) and back it up: a new secret changes
every hidden input, and a regrade of an old submission would no longer reproduce its score.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from coursekit.grading.secret import ENV, init_secret, secret_path


@click.group(name="secret")
def command() -> None:
    """The course secret that makes hidden test inputs differ per submission."""


@command.command(name="init")
@click.option("--force", is_flag=True, help="Replace an existing secret (every hidden input changes).")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Create autograder/secret (mode 0600) if the course has none."""
    root = Path(ctx.find_root().obj["course_file"]).resolve().parent
    path = secret_path(root)
    if path.exists() and force:
        path.unlink()
    if init_secret(path):
        click.echo(f"created {path} (mode 0600; gitignored: keep a copy with your hidden suites)")
    else:
        click.echo(f"{path} already exists; --force replaces it (every hidden input changes)")
    if os.environ.get(ENV):
        click.echo(f"note: {ENV} is set in this environment and takes precedence over the file")
