"""``course report DIR [--out SITE]``: the class dashboard."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review.cli import RESULTS_DIR, review_errors
from coursekit.review.dashboard import build_site
from coursekit.review.ingest import ingest_folder, open_or_build
from coursekit.review.store import Gradebook


@click.command(name="report")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.option("--out", "site", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the site (default: DIR/site).")
@click.pass_context
def command(ctx: click.Context, out_dir: Path, site: Path | None) -> None:
    """Build the TA dashboard (SITE/index.html) and feedback pages (SITE/students/) from DIR.

    DIR is the --out folder of `course grade`. Its results are re-read into DIR/gradebook.sqlite
    first, so the report always matches the folder; overrides and comments are kept.
    """
    course_file = Path((ctx.obj or {}).get("course_file") or "course.yaml")
    with review_errors():
        fresh = not (out_dir / "gradebook.sqlite").is_file()
        book: Gradebook = open_or_build(out_dir, course_file)
        try:
            if not fresh:
                ingest_folder(book, out_dir, changed_only=True)  # pick up any re-grade not yet recorded
            grades = book.grades()
            book.write_gradebook_csv(grades)
            report = build_site(book, site or out_dir / "site", grades)
        finally:
            book.close()
    click.echo(f"wrote {report.index} and {report.pages} feedback pages in {report.seconds:.1f} s")
