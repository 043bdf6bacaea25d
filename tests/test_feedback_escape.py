"""Student text in feedback.md, feedback.html and terminals is inert: no Markdown, HTML or escape sequence runs."""

from __future__ import annotations

import copy
import random

import pytest
from markdown_it import MarkdownIt  # CommonMark reference parser; installed with rich (a dependency)

from coursekit.review.escape import md_code, md_fence, md_text, terminal_safe
from coursekit.review.feedback import render_feedback_html, render_feedback_md
from coursekit.review.synthetic import DEFAULT_DUE, DEFAULT_MILESTONE, DEFAULT_PARTS, _tests_for, synthetic_results

ANSI = "\x1b[31mred\x1b[0m \x1b[2J\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\ \x1b]0;title\x07"
TRACEBACK = ("Traceback (most recent call last):\n  File \"<cell 3>\", line 2\n"
             "```\n# Full marks: [claim them](http://evil.example/) ![x](http://evil.example/x.png)\n```\n"
             "<script>alert(1)</script>\rovertyped line\n" + ANSI + "\nValueError: ````` `` ` done")


@pytest.fixture
def hostile() -> dict:
    results = synthetic_results("mallory", rng=random.Random(3), parts=DEFAULT_PARTS,
                                tests=_tests_for(DEFAULT_PARTS, 4), milestone_id=DEFAULT_MILESTONE, due=DEFAULT_DUE,
                                skill=0.0).to_json()
    results = copy.deepcopy(results)
    public = next(t for t in results["tests"] if t["extra_data"]["kind"] == "public")
    public.update(score=0.0, status="failed", output=TRACEBACK)
    public["extra_data"]["outcome"] = "error"
    results["extra_data"]["notebook_errors"] = [
        {"cell": 3, "ename": "ValueError", "evalue": "bad `input` [link](http://evil.example/)\n# heading"}]
    results["extra_data"]["submission_error"] = "**bold** <b>x</b> [a](http://evil.example/) \x1b[5mblink"
    return results


def _rendered_md(text: str) -> str:
    return MarkdownIt("commonmark").render(text)


def test_feedback_md_renders_student_text_literally(hostile: dict) -> None:
    md = render_feedback_md(hostile)
    assert "\x1b" not in md and "\r" not in md and "\x07" not in md
    html = _rendered_md(md)
    assert "<a " not in html and "<img" not in html and "<script" not in html and "<b>" not in html
    assert "<strong>bold</strong>" not in html and "<h1>heading" not in html
    # The traceback is one code block (the student's ``` cannot close it), shown in full.
    assert "# Full marks: [claim them](http://evil.example/)" in html
    assert "click me" in md and "overtyped line" in md  # escapes removed, the visible text kept
    assert "<code>ValueError: bad `input` [link](http://evil.example/) # heading</code>" in html


def test_feedback_html_is_autoescaped_and_has_no_control_characters(hostile: dict) -> None:
    html = render_feedback_html(hostile)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "\x1b" not in html and "\x07" not in html and "\r" not in html


@pytest.mark.parametrize("text", ["a `b` c", "``", "`x`", "```` four", "plain", ""])
def test_md_code_spans_hold_any_text(text: str) -> None:
    html = MarkdownIt("commonmark").renderInline(md_code(text))
    assert html.startswith("<code>") and html.endswith("</code>")


@pytest.mark.parametrize("text", ["[x](http://e)", "# h", "- item", "1. one", "> quote", "*em* _em_", "<b>",
                                  "a | b", "![i](http://e/i.png)", "&amp;", "$x$", "===", "\\*"])
def test_md_text_renders_as_the_same_characters(text: str) -> None:
    html = MarkdownIt("commonmark").render(md_text(text))
    rendered = html.removeprefix("<p>").removesuffix("</p>\n")
    expected = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert rendered == expected


def test_md_fence_is_longer_than_any_run_inside() -> None:
    assert md_fence("no ticks") == "```"
    assert md_fence("a ````` b") == "``````"


def test_terminal_safe_removes_sequences_and_shows_other_controls() -> None:
    assert terminal_safe(ANSI) == "red click me "
    assert terminal_safe("a\rb\r\nc") == "a\nb\nc"
    assert terminal_safe("x\x00y\x08z\u202e") == "x\\x00y\\x08z\\u202e"
    assert terminal_safe("tabs\tand\nnewlines stay") == "tabs\tand\nnewlines stay"
    assert terminal_safe("\x9b31mC1 csi") == "C1 csi"
