"""`course review`: the local review server (forms, CSRF token, no path escapes), over HTTP and in chromium."""

from __future__ import annotations

import http.client
import re
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import pytest

from coursekit.review.server import ReviewApp, serve
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.synthetic import DEFAULT_MILESTONE, synthetic_course, write_synthetic_class
from tests.browser import ARTIFACTS, chromium_page


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int, ReviewApp, Path]]:
    out = tmp_path / "out"
    write_synthetic_class(out, 8, seed=5)
    record_batch(out_dir=out, course=synthetic_course(), milestone=DEFAULT_MILESTONE)
    yield from serving(out)


def serving(out: Path) -> Iterator[tuple[str, int, ReviewApp, Path]]:
    """`course review` on ``out`` in a thread, until the generator is closed."""
    started = threading.Event()
    box: dict = {}

    def ready(srv, app) -> None:  # type: ignore[no-untyped-def]
        box["server"], box["app"] = srv, app
        started.set()

    thread = threading.Thread(target=serve, args=(out,), kwargs={"port": 0, "by": "tester", "ready": ready},
                              daemon=True)
    thread.start()
    assert started.wait(60), "the review server did not start"
    host, port = box["server"].server_address[:2]
    try:
        yield host, port, box["app"], out
    finally:
        box["server"].shutdown()
        thread.join(10)


def request(host: str, port: int, method: str, path: str, form: dict | None = None,
            host_header: str | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = urlencode(form) if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    if host_header:
        headers["Host"] = host_header
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, dict(response.getheaders()), text


def test_forms_change_the_store_and_refuse_bad_tokens(server: tuple[str, int, ReviewApp, Path]) -> None:
    host, port, app, out = server
    status, _, page = request(host, port, "GET", "/review/student0002")
    assert status == 200 and 'id="override-form"' in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)

    status, _, _ = request(host, port, "POST", "/review/student0002/comment", {"token": "forged", "text": "x"})
    assert status == 403
    status, headers, _ = request(host, port, "POST", "/review/student0002/comment",
                                 {"token": token, "text": "Clear plots", "by": "ana"})
    assert status == 303 and headers["Location"].startswith("/review/student0002?done=")
    status, _, _ = request(host, port, "POST", "/review/student0002/override",
                           {"token": token, "target": "part:pca", "score": "14", "reason": "manual check"})
    assert status == 303
    status, _, page = request(host, port, "POST", "/review/student0002/override",
                              {"token": token, "target": "part:pca", "score": "99", "reason": "x"})
    assert status == 400 and "outside 0..15" in page

    with Gradebook.open(out) as book:
        assert [c["text"] for c in book.comments("student0002")] == ["Clear plots"]
        assert book.grade("student0002").parts["pca"] == 14
    row = next(line for line in (out / "gradebook.csv").read_text().splitlines() if line.startswith("student0002,"))
    assert row.split(",")[5] == "14"  # pca column, rewritten at once
    _, _, feedback = request(host, port, "GET", "/students/student0002.html")
    assert "Clear plots" in feedback and "adjusted by tester: manual check" in feedback
    # the student's own feedback file in OUT says the same (not the autograde it was graded with)
    assert (out / "student0002" / "feedback.html").read_text(encoding="utf-8") == feedback


def test_no_files_outside_the_site_and_unknown_student_is_404(server: tuple[str, int, ReviewApp, Path]) -> None:
    host, port, _, out = server
    status, _, _ = request(host, port, "GET", "/../gradebook.sqlite")
    assert status == 404
    status, _, _ = request(host, port, "GET", "/%2e%2e/gradebook.sqlite")
    assert status == 404
    status, _, text = request(host, port, "GET", "/review/ghost")
    assert status == 404 and "unknown student 'ghost'" in text
    status, _, _ = request(host, port, "GET", "/index.html", host_header=f"evil.example:{port}")
    assert status == 421  # a rebound foreign host name cannot read the staff pages


@pytest.mark.slow
@pytest.mark.browser
def test_review_forms_in_headless_chromium(server: tuple[str, int, ReviewApp, Path]) -> None:
    host, port, _, out = server
    errors: list[str] = []
    with chromium_page(1300, 1000, errors) as page:
        page.goto(f"http://{host}:{port}/")
        page.click("#students a:text-is('student0003')")
        page.wait_for_selector("#override-form")
        page.select_option("#override-form select[name=target]", "part:solve")
        page.fill("#override-form input[name=score]", "9.5")
        page.fill("#override-form input[name=reason]", "partial credit for the pivoting idea")
        page.click("#override-form button")
        page.wait_for_selector("#flash")
        assert "part solve set to 9.5" in page.inner_text("#flash")
        page.fill("#comment-form textarea", "Good structure; see the override note.")
        page.click("#comment-form button")
        page.wait_for_selector("#flash")
        assert "Good structure" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "review.png"))
    assert errors == []
    with Gradebook.open(out) as book:
        assert book.grade("student0003").parts["solve"] == 9.5
        assert book.comments("student0003")[0]["text"] == "Good structure; see the override note."
