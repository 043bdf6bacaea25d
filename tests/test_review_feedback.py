"""Per-submission feedback pages: student-facing content only, self-contained, printable."""

from __future__ import annotations

import copy
import random
import re
from html.parser import HTMLParser

import pytest

from coursekit.review.feedback import render_feedback_html, render_feedback_md, student_view, trim_output
from coursekit.review.synthetic import DEFAULT_DUE, DEFAULT_MILESTONE, DEFAULT_PARTS, _tests_for, synthetic_results

SECRET = "EXPECTED_VALUE_0.73125_FROM_HIDDEN_SUITE"


@pytest.fixture
def results() -> dict:
    rng = random.Random(7)
    return synthetic_results("alice", rng=rng, parts=DEFAULT_PARTS, tests=_tests_for(DEFAULT_PARTS, 5),
                             milestone_id=DEFAULT_MILESTONE, due=DEFAULT_DUE, skill=0.5).to_json()


def _hidden(results: dict) -> list[dict]:
    return [t for t in results["tests"] if t["extra_data"]["kind"] == "hidden"]


class _Assets(HTMLParser):
    """Collects every URL the page would fetch (scripts, styles, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#") and tag != "a":
                self.urls.append(value)


def test_hidden_test_names_and_non_student_fields_never_rendered(results: dict) -> None:
    planted = copy.deepcopy(results)
    hidden = _hidden(planted)
    hidden[0]["name"] = f"test_solve_{SECRET}"
    hidden[0]["score"] = 0.0
    hidden[0]["output"] = "Swap in the row with the largest |pivot| before eliminating."
    # Fields a careless renderer might dump: the grader log, unknown extra_data keys, metric test names.
    planted["output"] = f"grader log: {SECRET}"
    hidden[1]["extra_data"]["expected"] = SECRET
    hidden[1]["extra_data"]["source"] = f"assert x == {SECRET}"
    planted["extra_data"]["metrics"] = {"accuracy": {"value": 0.9, "threshold": 0.8, "higher_is_better": True,
                                                     "test": f"test_acc_{SECRET}"}}
    html = render_feedback_html(planted, [{"text": "well done", "by": "ta", "at": "2027-02-07T10:00:00+00:00"}])
    md = render_feedback_md(planted)
    for page in (html, md):
        assert SECRET not in page
        assert "Swap in the row with the largest |pivot|" in page  # the hint itself is student-facing
        assert "hidden check 1" in page
    assert SECRET not in repr(student_view(planted))


def test_visibility_hidden_tests_are_counted_not_listed(results: dict) -> None:
    planted = copy.deepcopy(results)
    target = _hidden(planted)[0]
    target["visibility"] = "hidden"
    target["output"] = f"hint that must wait: {SECRET}"
    html = render_feedback_html(planted)
    assert SECRET not in html
    assert "1 more test will be shown when grades are published" in html


def test_page_is_self_contained_and_escapes_student_output(results: dict) -> None:
    hostile = copy.deepcopy(results)
    hostile["tests"][0].update(score=0.0, status="failed", output='<script>alert("x")</script><img src="http://evil/x">')
    hostile["tests"][0]["extra_data"]["outcome"] = "error"
    html = render_feedback_html(hostile)
    parser = _Assets()
    parser.feed(html)
    assert parser.urls == [], "the page must not fetch anything (offline, printable)"
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "&lt;script&gt;" in html
    assert "<style>" in html and "@media print" in html
    assert "&gt;" not in html.split("</style>")[0], "the inline CSS must not be HTML-escaped"


def test_scores_parts_late_memory_metrics_and_comments_shown(results: dict) -> None:
    r = copy.deepcopy(results)
    r["extra_data"]["late"].update(seconds_late=2 * 3600, penalty_fraction=0.1)
    r["extra_data"]["grader"]["peak_memory_mb"] = 1234.4
    r["execution_time"] = 42.25
    r["extra_data"]["metrics"] = {"val_accuracy": {"value": 0.91, "threshold": 0.97, "higher_is_better": True,
                                                   "test": "t"}}
    r["extra_data"]["notebook_errors"] = [{"cell": 12, "ename": "NameError", "evalue": "name 'np' is not defined"}]
    html = render_feedback_html(r, [{"text": "See me about <PCA>", "by": "Ana", "at": "2027-02-07T10:00:00+00:00"}])
    final = round(r["score"] * 0.9, 4)
    assert f"{final:.4g} / 65" in html
    assert "10%" in html and "2.0 h late" in html
    assert "1234 MB" in html and "42.2 s" in html
    assert "val_accuracy" in html and "≥ 0.97" in html and "not met" in html
    assert "NameError: name &#39;np&#39; is not defined" in html
    assert "See me about &lt;PCA&gt;" in html and "Ana" in html
    for part, p in r["extra_data"]["parts"].items():
        assert re.search(rf'href="#part-{part}">{part}</a>', html)
        assert f"{p['score']:.4g}" in html
    md = render_feedback_md(r)
    assert f"**Score: {final:.4g} / 65**" in md and "| **Total** |" in md


def test_review_overlay_shows_override_and_reason(results: dict) -> None:
    r = copy.deepcopy(results)
    test = _hidden(r)[0]
    review = {"overrides": [{"kind": "test", "target": test["name"], "score": test["max_score"],
                             "reason": "accepted regrade request", "by": "ana"}],
              "parts": {**{p: v["score"] for p, v in r["extra_data"]["parts"].items()}},
              "total": 64.0, "penalty_fraction": 0.0, "final": 64.0, "extension_days": 2.0}
    html = render_feedback_html(r, review=review)
    assert "adjusted by ana: accepted regrade request" in html
    assert "64 / 65" in html and test["name"] not in html


def test_long_tracebacks_are_trimmed_keeping_hint_and_last_frames() -> None:
    text = "Hint: check the pivot\n" + "\n".join(f"  frame {i}" for i in range(200)) + "\nValueError: singular"
    out = trim_output(text)
    lines = out.splitlines()
    assert lines[0] == "Hint: check the pivot" and lines[-1] == "ValueError: singular"
    assert len(lines) < 30 and "lines trimmed" in out
    assert trim_output("short\nmessage") == "short\nmessage"
