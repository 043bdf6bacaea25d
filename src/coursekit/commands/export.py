"""``course export DIR --format csv|canvas [--out FILE]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coursekit.review.cli import RESULTS_DIR, gradebook
from coursekit.review.export import canvas_csv, read_roster


@click.command(name="export")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.option("--format", "fmt", type=click.Choice(["csv", "canvas"]), default="csv", show_default=True,
              help="csv: our gradebook (one column per part); canvas: Canvas's grade-import layout.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="Canvas only: CSV mapping our student names to Canvas ids (or Canvas's own gradebook export).")
@click.option("--assignment-id", help="Canvas only: the assignment's Canvas id (from its URL); without it Canvas "
                                      "creates a new assignment on import.")
@click.option("--assignment-name", help="Canvas only: the assignment's name (default: the milestone's title and id).")
@click.option("--skip-missing", is_flag=True, help="Canvas only: leave out graded students not in the roster.")
def command(out_dir: Path, fmt: str, out_file: Path | None, roster: Path | None, assignment_id: str | None,
            assignment_name: str | None, skip_missing: bool) -> None:
    """Export the gradebook of the results folder DIR (overrides, extensions and late penalties applied)."""
    if fmt == "csv" and (roster or assignment_id or assignment_name or skip_missing):
        raise click.UsageError("--roster, --assignment-id, --assignment-name and --skip-missing need --format canvas")
    with gradebook(out_dir) as book:
        if fmt == "csv":
            text = book.gradebook_csv()
        else:
            text = canvas_csv(book, roster=read_roster(roster) if roster else None, assignment_id=assignment_id,
                              assignment_name=assignment_name, skip_missing=skip_missing)
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out_file} ({text.count(chr(10)) - 1 - (fmt == 'canvas')} students)", err=True)
