"""``course image``: build the autograder container images and keep their lock current."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coursekit.config.loader import CourseConfigError
from coursekit.infra import image as images
from coursekit.infra import lock as locks


def _root(ctx: click.Context) -> Path:
    return Path(ctx.obj["course_file"]).resolve().parent


@click.group(name="image")
def command() -> None:
    """Build the autograder container images (CPU and CUDA)."""


@command.command(name="build")
@click.option("--gpu", is_flag=True, help="Build the CUDA image (infra/Dockerfile.cuda) instead of the CPU one.")
@click.option("--tag", default=None, help="Image tag (default: zero-to-llm-grader:<kit version>-cpu|cuda).")
@click.option("--dataset", "datasets", multiple=True,
              help="Bake this dataset into the image (repeatable); default: mount data read-only at run time.")
@click.option("--dry-run", is_flag=True, help="Print the docker build command instead of running it.")
@click.pass_context
def build(ctx: click.Context, gpu: bool, tag: str | None, datasets: tuple[str, ...], dry_run: bool) -> None:
    """Build an autograder image with docker (BuildKit), from the course repository root."""
    root = _root(ctx)
    try:
        plan = images.plan_build(root, gpu=gpu, tag=tag, datasets=list(datasets))
        if dry_run:
            click.echo(f"cd {root} && DOCKER_BUILDKIT=1 {plan.command()}")
            return
        code = images.build(root, plan)
    except (images.ImageError, locks.LockError, CourseConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    if code != 0:
        raise click.ClickException(f"docker build failed (exit {code}); see its output above")
    click.echo(f"built {plan.tag}")


@command.command(name="lock")
@click.option("--check", is_flag=True, help="Change nothing; fail if the locks differ from the environment.")
@click.option("--cuda", is_flag=True, help="Also resolve infra/requirements-cuda.lock (PyPI's CUDA torch; needs PyPI).")
@click.pass_context
def lock(ctx: click.Context, check: bool, cuda: bool) -> None:
    """Regenerate infra/requirements.lock from pyproject.toml and the installed versions."""
    root = _root(ctx)
    try:
        if check:
            problems = locks.stale_pins(root)
            if problems:
                click.echo("\n".join(problems), err=True)
                raise click.ClickException("infra/requirements.lock is stale; regenerate it with `course image lock`")
            problems = locks.cuda_lock_problems(root)
            if problems:
                click.echo("\n".join(problems), err=True)
                raise click.ClickException("infra/requirements-cuda.lock does not fit; run `course image lock --cuda`")
            click.echo("infra/requirements.lock and infra/requirements-cuda.lock are current")
            return
        paths = [locks.write_lock(root)]
        if cuda:
            paths.append(locks.write_cuda_lock(root))
    except locks.LockError as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths:
        count = len(locks.parse_lock(path.read_text(encoding="utf-8")))
        click.echo(f"wrote {path} ({count} pins, Python {sys.version_info.major}.{sys.version_info.minor})")
    if not cuda:
        click.echo("if torch changed, also run `course image lock --cuda` (needs PyPI) for the CUDA image")
