"""``course export DIR --format csv|canvas [--out FILE]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from coursekit.review.cli import RESULTS_DIR, gradebook
from coursekit.review.export import MISSING, canvas_csv, read_roster

CANVAS_ONLY = ("roster", "assignment_id", "assignment_name", "skip_unmatched", "missing")


@click.command(name="export")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.option("--format", "fmt", type=click.Choice(["csv", "canvas"]), default="csv", show_default=True,
              help="csv: our gradebook (one column per part); canvas: Canvas's grade-import layout.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="Canvas (required): Canvas's gradebook export (Grades → Export → Export Entire Gradebook), "
                   "or a CSV with a 'student' column and Canvas ids.")
@click.option("--assignment-id", help="Canvas only: the assignment's Canvas id (default: the roster export's column "
                                      "for this milestone; without one Canvas creates a new assignment).")
@click.option("--assignment-name", help="Canvas only: the assignment's name (default: the milestone's title and id).")
@click.option("--skip-unmatched", "--skip-missing", "skip_unmatched", is_flag=True,
              help="Canvas only: leave out graded students not in the roster (listed in a warning).")
@click.option("--missing", type=click.Choice(MISSING), default=None,
              help="Canvas only: what roster students with no submission get: 0 (zero, the default) or EX "
                   "(excused). They are listed in a warning either way.")
def command(out_dir: Path, fmt: str, out_file: Path | None, roster: Path | None, assignment_id: str | None,
            assignment_name: str | None, skip_unmatched: bool, missing: str | None) -> None:
    """Export the gradebook of the results folder DIR (overrides, extensions and late penalties applied)."""
    given = dict(roster=roster, assignment_id=assignment_id, assignment_name=assignment_name,
                 skip_unmatched=skip_unmatched, missing=missing)
    if fmt == "csv" and any(given[name] for name in CANVAS_ONLY):
        raise click.UsageError("--roster, --assignment-id, --assignment-name, --skip-unmatched and --missing "
                               "need --format canvas")
    with gradebook(out_dir) as book:
        if fmt == "csv":
            text, rows = book.gradebook_csv(), None
        else:
            export = canvas_csv(book, roster=read_roster(roster) if roster else None, assignment_id=assignment_id,
                                assignment_name=assignment_name, skip_unmatched=skip_unmatched,
                                missing=missing or "zero")
            for warning in export.warnings:
                click.echo(f"warning: {warning}", err=True)
            text, rows = export.text, export.rows
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out_file} ({rows if rows is not None else text.count(chr(10)) - 1} students)", err=True)
