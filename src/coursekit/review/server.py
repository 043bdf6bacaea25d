"""`course review DIR`: the dashboard served on 127.0.0.1 with forms for staff decisions.

Stdlib only (http.server): one process, one thread, one SQLite connection per request, so
there is nothing to configure and no concurrency to get wrong. Every POST must carry the
token printed in this run's pages, so another web page open in the TA's browser cannot
post grades to it (CSRF), and requests must name 127.0.0.1/localhost as their host (DNS
rebinding). Each change re-renders that student's feedback page and the
index, and rewrites DIR/gradebook.csv, exactly as the CLI verbs do.
"""

from __future__ import annotations

import mimetypes
import secrets
from contextlib import closing
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlsplit

from coursekit.review import submission_view, written
from coursekit.review.dashboard import build_site, write_index, write_student_page
from coursekit.review.feedback_files import write_feedback_files
from coursekit.review.feedback import environment, stylesheet
from coursekit.review.results import ReviewError
from coursekit.review.store import Gradebook

MAX_FORM_BYTES = 64 * 1024


class ReviewApp:
    """The state of one `course review` run: the results folder, its site and the CSRF token."""

    def __init__(self, out_dir: Path, site: Path, by: str) -> None:
        self.out_dir = out_dir
        self.site = site
        self.by = by
        self.token = secrets.token_urlsafe(24)

    def book(self) -> Gradebook:
        return Gradebook.open(self.out_dir)

    def build(self) -> None:
        with closing(self.book()) as book:
            grades = book.grades()
            book.write_gradebook_csv(grades)
            build_site(book, self.site, grades, review_links=True)

    def student_dir(self, book: Gradebook, student: str) -> Path:
        row = book.conn.execute("SELECT results_path FROM submissions WHERE student = ?", (student,)).fetchone()
        return (self.out_dir / row["results_path"]).parent

    def notebook_page(self, student: str) -> str:
        """The submitted notebook, sanitised (served with a sandbox CSP inside a sandboxed iframe)."""
        with closing(self.book()) as book:
            book.require_student(student)
            return submission_view.rendered(self.student_dir(book, student))

    def staff_page(self, student: str, message: str = "", error: str = "") -> str:
        with closing(self.book()) as book:
            grade = book.grade(student)
            tests = [dict(r) for r in book.conn.execute(
                "SELECT name, part, kind, score, max_score, outcome, message FROM tests WHERE student = ? "
                "ORDER BY rowid", (student,))]
            students = book.students()
            here = students.index(student)
            answers = submission_view.written_cells(self.student_dir(book, student))
            questions = [{"name": q, "score": w, "answer": answers.get(q, []), "rubric": written.rubric(book, q),
                          "applied": {i.id for i in w.items}} for q, w in grade.written.items()]
            return environment().get_template("review.html.j2").render(
                questions=questions, released=written.released_at(book),
                prev_url=f"/review/{quote(students[here - 1], safe='')}" if here > 0 else "",
                next_url=f"/review/{quote(students[here + 1], safe='')}" if here + 1 < len(students) else "",
                notebook_url=f"/review/{quote(student, safe='')}/notebook",
                css=stylesheet(), g=grade, tests=tests, comments=book.comments(student),
                overrides={(o.kind, o.target): o for o in grade.overrides}, milestone=book.milestone_id,
                token=self.token, by=self.by, message=message, error=error,
                feedback=f"/students/{quote(student, safe='')}.html", self_url=f"/review/{quote(student, safe='')}")

    def apply(self, student: str, action: str, form: dict[str, str]) -> str:
        """Apply one form; return the one-line confirmation. Raises ReviewError on bad input."""
        by = form.get("by") or self.by
        with closing(self.book()) as book:
            if action == "override":
                target = form.get("target", "")
                kind, _, name = target.partition(":")
                if kind not in ("test", "part") or not name:
                    raise ReviewError("choose the test or part to override")
                if form.get("remove"):
                    book.remove_override(student, **{kind: name}, by=by)
                    done = f"override of {kind} {name} removed"
                else:
                    score = _number(form.get("score", ""), "score")
                    book.set_override(student, **{kind: name}, score=score, reason=form.get("reason", ""), by=by)
                    done = f"{kind} {name} set to {score:g}"
            elif action == "comment":
                added = book.add_comment(student, form.get("text", ""), by=by)
                done = "comment added" if added else "that comment was already there"
            elif action == "extend":
                days = _number(form.get("days", ""), "days")
                book.set_extension(student, days, reason=form.get("reason", ""), by=by)
                done = f"extension set to {days:g} days"
            elif action == "rubric-add":
                question = form.get("question", "")
                item = written.add_item(book, question, form.get("text", ""), _number(form.get("points", ""), "points"),
                                        by=by)
                if form.get("apply"):
                    written.set_mark(book, student, question, item.id, True, by=by)
                done = f"rubric item added to {question}: {item.points:+g} {item.text}"
            elif action == "mark":
                question, applied = form.get("question", ""), form.get("applied") == "1"
                written.set_mark(book, student, question, int(_number(form.get("item", ""), "item")), applied, by=by)
                done = f"{question}: rubric item {'applied' if applied else 'removed'}"
            elif action == "written-comment":
                written.set_comment(book, student, form.get("question", ""), form.get("text", ""), by=by)
                done = f"comment on {form.get('question', '')} saved"
            elif action == "release":
                withdraw = form.get("withdraw") == "1"
                ungraded = written.release(book, by=by, withdraw=withdraw)
                grades = book.grades()
                book.write_gradebook_csv(grades)
                build_site(book, self.site, grades, review_links=True)  # every student page changes
                write_feedback_files(book)  # and so does every OUT/<student>/feedback.*
                if withdraw:
                    return "written feedback withdrawn: students no longer see it"
                return "written feedback released to students" + (
                    f" ({len(ungraded)} with ungraded answers: {', '.join(ungraded[:5])})" if ungraded else "")
            else:
                raise ReviewError(f"unknown action {action!r}")
            grades = book.grades()
            book.write_gradebook_csv(grades)
            write_student_page(book, self.site, next(g for g in grades if g.student == student))
            write_feedback_files(book, [student])  # OUT/<student>/feedback.* match the page
            write_index(book, self.site, grades, review_links=True)
        return done


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ReviewError(f"{what} must be a number, got {text!r}") from None


def make_handler(app: ReviewApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "coursekit-review"

        def log_message(self, format: str, *args: Any) -> None:  # keep the terminal for our own lines
            pass

        def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _student(self, path: str) -> str | None:
            parts = path.strip("/").split("/")
            return unquote(parts[1]) if len(parts) == 2 and parts[0] == "review" else None

        def _host_ok(self) -> bool:
            """Refuse requests for another host name: a web page that DNS-rebinds its name to
            127.0.0.1 could otherwise read the staff pages from the TA's browser."""
            port = self.server.server_address[1]
            bound = self.server.server_address[0]
            allowed = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{bound}:{port}"}
            if (self.headers.get("Host") or "") in allowed:
                return True
            self._send(HTTPStatus.MISDIRECTED_REQUEST, b"use http://127.0.0.1:<port>/", "text/plain; charset=utf-8")
            return False

        def do_GET(self) -> None:
            if not self._host_ok():
                return
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "review" and parts[2] == "notebook":
                self._notebook(unquote(parts[1]))
                return
            student = self._student(url.path)
            if student is not None:
                query = parse_qs(url.query)
                self._page(student, message=query.get("done", [""])[0])
                return
            if url.path == "/favicon.ico":  # browsers ask; the pages carry no icon
                self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
                return
            self._static(url.path)

        def _page(self, student: str, message: str = "", error: str = "", status: int = HTTPStatus.OK) -> None:
            try:
                body = app.staff_page(student, message=message, error=error)
            except ReviewError as exc:
                self._send(HTTPStatus.NOT_FOUND, str(exc).encode(), "text/plain; charset=utf-8")
                return
            self._send(status, body.encode())

        def _notebook(self, student: str) -> None:
            try:
                body = app.notebook_page(student)
            except ReviewError as exc:
                self._send(HTTPStatus.NOT_FOUND, str(exc).encode(), "text/plain; charset=utf-8")
                return
            # Student content: no script runs, nothing loads from elsewhere, no access to this origin.
            self._send(HTTPStatus.OK, body.encode(), headers={"Content-Security-Policy": submission_view.CSP})

        def _static(self, path: str) -> None:
            relative = unquote(path).lstrip("/") or "index.html"
            target = (app.site / relative).resolve()
            if not target.is_relative_to(app.site.resolve()) or not target.is_file():
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
                return
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self._send(HTTPStatus.OK, target.read_bytes(), kind + ("; charset=utf-8" if kind.startswith("text/") else ""))

        def do_POST(self) -> None:
            if not self._host_ok():
                return
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "review":
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
                return
            student, action = unquote(parts[1]), parts[2]
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_FORM_BYTES:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"form too large", "text/plain; charset=utf-8")
                return
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()}
            if not secrets.compare_digest(form.get("token", ""), app.token):
                self._send(HTTPStatus.FORBIDDEN, b"stale or missing form token; reload the page",
                           "text/plain; charset=utf-8")
                return
            try:
                done = app.apply(student, action, form)
            except ReviewError as exc:
                self._page(student, error=str(exc), status=HTTPStatus.BAD_REQUEST)
                return
            # Post/redirect/get: reloading the page never re-submits the form.
            self._send(HTTPStatus.SEE_OTHER, b"", headers={
                "Location": f"/review/{quote(student, safe='')}?done={quote(done)}"})

    return Handler


def serve(out_dir: Path, *, host: str = "127.0.0.1", port: int = 8000, by: str = "staff",
          ready: Callable[[HTTPServer, ReviewApp], None] | None = None) -> None:
    """Build the site into DIR/site and serve it until interrupted."""
    app = ReviewApp(out_dir, out_dir / "site", by)
    app.build()
    server = HTTPServer((host, port), make_handler(app))
    if ready:
        ready(server, app)
    with server:
        server.serve_forever()
