"""``course review DIR``: serve the dashboard on 127.0.0.1 with override/comment/extension forms."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review.cli import BY_OPTION, RESULTS_DIR, review_errors, who
from coursekit.review.ingest import ingest_folder, open_or_build


@click.command(name="review")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Keep 127.0.0.1: the pages name hidden tests and there is no login.")
@BY_OPTION
@click.pass_context
def command(ctx: click.Context, out_dir: Path, port: int, host: str, by: str | None) -> None:
    """Serve the class dashboard of DIR locally; click a student to override, comment or extend.

    Changes go to DIR/gradebook.sqlite and DIR/gradebook.csv at once, as with the CLI verbs.
    Stop with Ctrl-C.
    """
    from coursekit.review.server import serve

    course_file = Path((ctx.obj or {}).get("course_file") or "course.yaml")
    with review_errors():
        book = open_or_build(out_dir, course_file)
        try:
            ingest_folder(book, out_dir, changed_only=True)
        finally:
            book.close()

    def ready(server, app) -> None:  # type: ignore[no-untyped-def]
        address, bound = server.server_address[:2]
        click.echo(f"reviewing {out_dir} at http://{address}:{bound}/  (Ctrl-C to stop)")

    try:
        with review_errors():
            serve(out_dir, host=host, port=port, by=who(by), ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}); pass --port 0 for a free port")
    except KeyboardInterrupt:
        click.echo("stopped")
