"""``course data fetch|list|build-base``: fetch and verify the declared datasets; build the base GPT."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coursekit.config import CourseConfigError, load_course
from coursekit.data import DataError, default_mirror, fetch_all, status
from coursekit_student.data import cache_dir


def _course(ctx: click.Context):
    course_file = Path(ctx.obj["course_file"] if ctx.obj else "course.yaml")
    try:
        return course_file, load_course(course_file, check_files=False)
    except CourseConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="data")
def command() -> None:
    """Fetch and verify the course's datasets (declared under `datasets:` in course.yaml)."""


@command.command(name="fetch")
@click.argument("names", nargs=-1)
@click.option("--mirror", help="Folder laid out <dataset>/<file>, or a base URL; tried before each file's URL "
                               "[default: $COURSE_DATA_MIRROR, else ../shared/data next to the course].")
@click.option("--cache", type=click.Path(file_okay=False), help="Cache folder [default: $COURSE_DATA_CACHE or "
                                                                 "~/.cache/zero-to-llm].")
@click.pass_context
def fetch_command(ctx: click.Context, names: tuple[str, ...], mirror: str | None, cache: str | None) -> None:
    """Fetch NAMES (all datasets if none) into the cache, verifying size and sha256."""
    course_file, course = _course(ctx)
    mirror = mirror if mirror is not None else default_mirror(course_file.resolve().parent)
    try:
        fetched = fetch_all(course, list(names), cache=cache, mirror=mirror)
    except DataError as exc:
        raise click.ClickException(str(exc)) from None
    for name, paths in fetched.items():
        size = sum(p.stat().st_size for p in paths)
        click.echo(f"{name}: {len(paths)} file(s), {size / 1e6:.1f} MB verified in {paths[0].parent}")


@command.command(name="list")
@click.option("--cache", type=click.Path(file_okay=False), help="Cache folder to inspect.")
@click.pass_context
def list_command(ctx: click.Context, cache: str | None) -> None:
    """Show every declared file and whether the cache holds a verified copy."""
    _, course = _course(ctx)
    rows = status(course, cache)
    table = Table(title=f"datasets (cache: {cache_dir(cache)})")
    for column in ("dataset", "file", "size", "status"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for row in rows:
        colour = {"ok": "green", "missing": "yellow"}.get(row.state, "red")
        table.add_row(row.dataset, row.file.name, f"{row.file.size:,}", f"[{colour}]{escape(row.state)}[/{colour}]")
    Console(width=160).print(table)
    bad = [r for r in rows if r.state not in ("ok", "missing")]
    if bad:
        raise click.ClickException(f"{len(bad)} cached file(s) are corrupt; run `course data fetch` to replace them")


@command.command(name="build-base")
@click.argument("names", nargs=-1)
@click.option("--mirror", help="Where tiny shakespeare is fetched from first [default: as `course data fetch`].")
@click.option("--cache", type=click.Path(file_okay=False), help="Cache folder [default: $COURSE_DATA_CACHE or "
                                                                 "~/.cache/zero-to-llm].")
@click.option("--force", is_flag=True, help="Retrain even if an intact copy is cached.")
@click.pass_context
def build_base_command(ctx: click.Context, names: tuple[str, ...], mirror: str | None, cache: str | None,
                       force: bool) -> None:
    """Train and cache the course's base GPT sizes NAMES (default: all) once, for m15, m16, m18."""
    from coursekit_student.base_gpt import SIZES, BaseGPTError, build_base_gpt, cache_paths

    course_file, course = _course(ctx)
    mirror = mirror if mirror is not None else default_mirror(course_file.resolve().parent)
    try:
        text = fetch_all(course, ["tinyshakespeare"], cache=cache, mirror=mirror)["tinyshakespeare"][0]
        for name in names or tuple(SIZES):
            info = build_base_gpt(name, text=text.read_text(encoding="utf-8"), cache=cache, force=force)
            click.echo(f"{name}: val loss {info['val_loss']:.4f}, built in {info['seconds']:.0f} s, "
                       f"sha256 {info['sha256'][:16]}… in {cache_paths(name, cache)[0]}")
    except (DataError, BaseGPTError) as exc:
        raise click.ClickException(str(exc)) from None
