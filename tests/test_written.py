"""Written answers graded by TAs with a rubric: store, student pages, release, the kept notebook, the server."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Iterator

import nbformat
import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.config.schema import Course
from coursekit.review import submission_view, written
from coursekit.review.dashboard import build_site
from coursekit.review.results import ReviewError
from coursekit.review.server import ReviewApp
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.synthetic import DEFAULT_MILESTONE, synthetic_course, write_synthetic_class
from tests.browser import chromium_page
from tests.test_review_server import request, serving

QUESTIONS = {"analysis": 5, "ethics": 3}
ANSWER = "The CNN shares weights across positions, so it needs fewer parameters than the MLP."


def submission_notebook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("def cnn_accuracy():\n    return 0.991\n"),
        nbformat.v4.new_markdown_cell(ANSWER, metadata={"tags": ["written:analysis"]}),
        nbformat.v4.new_markdown_cell("Bias in <script>alert('x')</script> data.", metadata={"tags": ["written:ethics"]}),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<p>plot</p><script>steal(document.cookie)</script>"})]),
    ]
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    write_synthetic_class(out, 4, seed=3)
    record_batch(out_dir=out, course=synthetic_course(written=QUESTIONS), milestone=DEFAULT_MILESTONE)
    submission_view.keep_copy(submission_notebook(tmp_path / "s.ipynb"), out / "student0001")
    return out


def test_course_yaml_written_questions_are_checked() -> None:
    with pytest.raises(ValueError, match="both an autograded part and a written question"):
        synthetic_course(parts={"analysis": 5}, written={"analysis": 5})
    with pytest.raises(ValueError, match="positive number of points"):
        synthetic_course(written={"analysis": 0})
    assert isinstance(synthetic_course(written=QUESTIONS), Course)


def test_rubric_items_add_up_clamped_and_count_once_released(out: Path) -> None:
    with Gradebook.open(out) as book:
        before = book.grade("student0001")
        assert before.max_score == 65 + 8 and before.ungraded_written == ["analysis", "ethics"]
        good = written.add_item(book, "analysis", "explains weight sharing", 4, by="ana")
        numbers = written.add_item(book, "analysis", "cites the measured accuracies", 2, by="ana")
        vague = written.add_item(book, "ethics", "too vague", -1, by="ana")
        written.set_mark(book, "student0001", "analysis", good.id, True, by="ana")
        written.set_mark(book, "student0001", "analysis", numbers.id, True, by="ana")
        written.set_mark(book, "student0001", "ethics", vague.id, True, by="ana")
        written.set_comment(book, "student0001", "analysis", "Nice link to parameter counts.", by="ana")
        grade = book.grade("student0001")
        assert grade.written["analysis"].score == 5      # 4 + 2 clamped to the question's 5 points
        assert grade.written["ethics"].score == 0        # -1 clamped at 0, but graded
        assert grade.total == pytest.approx(before.total + 5)
        assert grade.student_total == pytest.approx(before.total)  # not released: students see no written grade
        with pytest.raises(ReviewError, match="unknown written question 'essay'"):
            written.add_item(book, "essay", "x", 1, by="ana")
        with pytest.raises(ReviewError, match="outside -3..3"):
            written.add_item(book, "ethics", "x", 7, by="ana")
        written.set_mark(book, "student0001", "analysis", numbers.id, False, by="ana")
        assert book.grade("student0001").written["analysis"].score == 4
        book.write_gradebook_csv()
    rows = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))
    row = next(r for r in rows if r["student"] == "student0001")
    assert row["written:analysis"] == "4" and row["written:ethics"] == "0" and row["written_released"] == "no"
    assert next(r for r in rows if r["student"] == "student0002")["written:analysis"] == ""  # ungraded

    # a re-grade replaces the autograde, never the TA's rubric decisions
    record_batch(out_dir=out, course=synthetic_course(written=QUESTIONS), milestone=DEFAULT_MILESTONE)
    with Gradebook.open(out) as book:
        assert book.grade("student0001").written["analysis"].score == 4


def test_students_see_written_grades_only_after_release(out: Path) -> None:
    with Gradebook.open(out) as book:
        item = written.add_item(book, "analysis", "explains weight sharing", 4, by="ana")
        written.set_mark(book, "student0001", "analysis", item.id, True, by="ana")
        written.set_comment(book, "student0001", "analysis", "Nice link to parameter counts.", by="ana")
        build_site(book, out / "site")
        page = (out / "site/students/student0001.html").read_text()
        assert 'id="written-pending"' in page and "explains weight sharing" not in page
        assert f"/ {65:g}</b>" in page  # the maximum leaves the unreleased questions out

    result = CliRunner().invoke(cli, ["release-feedback", str(out), "--by", "ana"])
    assert result.exit_code == 0, result.output
    assert "released" in result.output and "ungraded written answers" in result.output  # others are ungraded
    page = (out / "site/students/student0001.html").read_text()
    assert "written-pending" not in page and "+4: explains weight sharing" in page
    assert "Nice link to parameter counts." in page and f"/ {73:g}</b>" in page
    assert (out / "student0001" / "feedback.html").read_text() == page  # the file sent to the student agrees
    with Gradebook.open(out) as book:
        assert book.grade("student0001").student_total == book.grade("student0001").total

    result = CliRunner().invoke(cli, ["release-feedback", str(out), "--withdraw"])
    assert result.exit_code == 0 and "explains weight sharing" not in (out / "site/students/student0001.html").read_text()


def test_the_graded_notebook_is_kept_from_a_zip_and_never_through_a_link(tmp_path: Path) -> None:
    notebook = submission_notebook(tmp_path / "m.ipynb")
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(notebook, "m01/m.ipynb")
    kept = submission_view.keep_copy(archive, tmp_path / "alice")
    assert kept and "".join(json.loads(kept.read_text())["cells"][1]["source"]) == ANSWER
    assert submission_view.written_cells(tmp_path / "alice")["analysis"] == [ANSWER]
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "m.ipynb").symlink_to(notebook)
    assert submission_view.keep_copy(folder, tmp_path / "mallory-out") is None
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert submission_view.keep_copy(tmp_path / "bad.ipynb", tmp_path / "bad-out") is None


def test_rendered_notebook_runs_no_student_script(out: Path) -> None:
    html = submission_view.rendered(out / "student0001")
    assert "shares weights" in html and "cnn_accuracy" in html
    assert not re.search(r"<script", html, re.I), "no <script> element may survive (student or template)"
    assert "steal(document.cookie)" not in html.replace("&lt;script&gt;steal(document.cookie)", "")


@pytest.fixture
def server(out: Path) -> Iterator[tuple[str, int, ReviewApp, Path]]:
    yield from serving(out)


def test_server_grades_with_a_rubric_and_releases(server: tuple[str, int, ReviewApp, Path]) -> None:
    host, port, _, out = server
    status, _, page = request(host, port, "GET", "/review/student0001")
    assert status == 200 and 'id="question-analysis"' in page and ANSWER in page
    assert 'sandbox src="/review/student0001/notebook"' in page and 'id="next"' in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)

    status, headers, notebook = request(host, port, "GET", "/review/student0001/notebook")
    assert status == 200 and headers["Content-Security-Policy"].startswith("sandbox")
    assert "cnn_accuracy" in notebook and "<script" not in notebook

    status, _, _ = request(host, port, "POST", "/review/student0001/rubric-add",
                           {"token": token, "question": "analysis", "text": "explains weight sharing", "points": "4",
                            "apply": "1"})
    assert status == 303
    _, _, page = request(host, port, "GET", "/review/student0001")  # the panel says who graded, for the team
    assert re.search(r'id="question-analysis".*?graded by tester</span>', page, re.S)
    status, _, page = request(host, port, "POST", "/review/student0001/rubric-add",
                              {"token": token, "question": "analysis", "text": "x", "points": "nine"})
    assert status == 400 and "points must be a number" in page
    status, _, _ = request(host, port, "POST", "/review/student0001/release", {"token": "forged"})
    assert status == 403
    status, _, _ = request(host, port, "POST", "/review/student0001/release", {"token": token})
    assert status == 303
    _, _, student_page = request(host, port, "GET", "/students/student0001.html")
    assert "+4: explains weight sharing" in student_page
    with Gradebook.open(out) as book:
        assert book.grade("student0001").written["analysis"].score == 4


@pytest.mark.slow
@pytest.mark.browser
def test_ta_grades_a_written_answer_in_chromium(server: tuple[str, int, ReviewApp, Path]) -> None:
    """Open a submission, read its code, grade a written answer with a rubric key, release, student sees it."""
    host, port, _, out = server
    errors: list[str] = []
    with chromium_page(1400, 1000, errors, console_errors=False) as page:
        page.goto(f"http://{host}:{port}/review/student0001")
        # the submitted code, rendered in the sandboxed frame
        page.frame_locator("#notebook").locator("text=cnn_accuracy").wait_for(timeout=60_000)
        question = page.locator("#question-analysis")
        assert ANSWER in question.inner_text()
        question.locator("input[name=text]").fill("explains weight sharing")
        question.locator("input[name=points]").fill("4")
        question.locator("input[name=apply]").uncheck()
        question.locator(".rubric-add button").click()
        page.wait_for_selector("#flash")
        assert "ungraded" in page.locator("#question-analysis .written-score").inner_text()
        page.locator("body").click(position={"x": 5, "y": 5})
        page.keyboard.press("1")  # apply the first rubric item of the active question
        page.wait_for_selector("#flash:has-text('rubric item applied')")
        assert page.locator("#question-analysis .written-score").inner_text() == "4"
        page.keyboard.press("]")  # the next question becomes active
        assert "active" in (page.locator("#question-ethics").get_attribute("class") or "")
        page.click("#release-form button")
        page.wait_for_selector("#flash:has-text('released')")
        page.goto(f"http://{host}:{port}/students/student0001.html")
        assert "+4: explains weight sharing" in page.inner_text("body")
    assert errors == []
