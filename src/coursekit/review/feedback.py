"""Per-submission feedback pages (HTML and Markdown) built from results.json.

Everything a student sees goes through :func:`student_view`, which copies an explicit
allow-list of student-facing fields out of results.json (plus TA comments and review
decisions) into a plain dict; the templates only ever see that dict. In particular:

- a test's ``output`` (already student-safe: the hint and the student's own traceback)
  is shown, trimmed; nothing else from a test's ``extra_data`` is;
- hidden tests are shown by part and number ("hidden check 2"), never by name, because a
  hidden test's name can describe the case it checks;
- tests whose ``visibility`` is ``hidden`` are counted but not listed;
- the top-level ``output`` (the grader's log) and the metrics' test names are never shown.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import jinja2

from coursekit.review.escape import md_code, md_fence, md_text, terminal_safe
from coursekit.grading.results_model import Results, TestResult

OUTCOME_LABELS = {
    "passed": "passed", "failed": "failed", "error": "error", "timeout": "timed out",
    "forbidden": "used a forbidden function", "not_implemented": "not implemented",
    "skipped": "skipped", "crashed": "grader crashed",
}
HEAD_LINES, TAIL_LINES = 6, 18  # keep the hint and the innermost frames of a long traceback


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The review templates (autoescaped HTML; Markdown templates are plain text)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("coursekit.review", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["pts"] = lambda x: f"{float(x):.4g}"
    env.filters["pct"] = lambda x: f"{100 * float(x):.0f}%"
    # feedback.md: student text as literal Markdown (HTML templates are autoescaped instead)
    env.filters["md"], env.filters["md_code"], env.filters["md_fence"] = md_text, md_code, md_fence
    return env


def trim_output(text: str) -> str:
    """Shorten a long message, keeping its first lines (the hint) and last lines (where it failed)."""
    lines = (text or "").rstrip().splitlines()
    if len(lines) <= HEAD_LINES + TAIL_LINES + 1:
        return "\n".join(lines)
    cut = len(lines) - HEAD_LINES - TAIL_LINES
    return "\n".join([*lines[:HEAD_LINES], f"… ({cut} lines trimmed) …", *lines[-TAIL_LINES:]])


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return str(value)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _test_labels(tests: list[TestResult]) -> list[str]:
    """What each test is called on the student's page: its name if public, else 'hidden check k'."""
    counters: dict[str, int] = {}
    labels = []
    for test in tests:
        if test.public:
            labels.append(test.name)
        else:
            part = str(test.part or "")
            counters[part] = counters.get(part, 0) + 1
            labels.append(f"hidden check {counters[part]}")
    return labels


def student_view(results: Results | dict[str, Any], comments: list[dict[str, Any]] | None = None,
                 review: dict[str, Any] | None = None) -> dict[str, Any]:
    """The student-facing content of a results.json, as plain data. The only input of the templates.

    ``review`` (from the gradebook store, optional) carries staff decisions:
    ``overrides`` (list of {kind, target, score, reason}), ``parts`` (effective part scores),
    ``total``, ``penalty_fraction``, ``final`` and ``extension_days``.
    """
    results = Results.from_json(results)  # a dict (a test's, an old caller's) is read by the one model
    extra, grader, late = results.extra_data, results.grader, results.late
    review = review or {}
    tests = results.tests
    labels = _test_labels(tests)
    test_over = {o["target"]: o for o in review.get("overrides", []) if o.get("kind") == "test"}
    part_over = {o["target"]: o for o in review.get("overrides", []) if o.get("kind") == "part"}

    parts: dict[str, dict[str, Any]] = {}
    for name, p in results.parts.items():
        score = review.get("parts", {}).get(name, p.score)
        parts[name] = {"name": str(name), "score": score, "max_score": p.max_score, "tests": [],
                       "hidden_count": 0, "override": _override_view(part_over.get(name))}
    for test, label in zip(tests, labels):
        part = str(test.part or "other")
        bucket = parts.setdefault(part, {"name": part, "score": 0.0, "max_score": 0.0, "tests": [],
                                         "hidden_count": 0, "override": None})
        if test.visibility == "hidden":
            bucket["hidden_count"] += 1
            continue
        outcome = test.outcome.value
        override = test_over.get(test.name)
        bucket["tests"].append({
            "label": label, "public": test.public,
            "outcome": outcome, "outcome_label": OUTCOME_LABELS.get(outcome, outcome),
            "score": override["score"] if override else test.score,
            "max_score": test.max_score,
            "output": "" if outcome == "passed" else trim_output(terminal_safe(test.output)),
            "duration": _num(test.extra_data.duration), "override": _override_view(override),
        })

    total = review.get("total", results.score)
    penalty = review.get("penalty_fraction", late.penalty_fraction)
    seconds_late = review.get("seconds_late", late.seconds_late)
    metrics = [{"name": str(name), "value": m.value, "threshold": m.threshold,
                "higher_is_better": m.higher_is_better, "met": m.met} for name, m in extra.metrics.items()]
    return {
        "milestone": str(extra.milestone or ""), "student": terminal_safe(extra.student or ""),
        "score": total, "max_score": review.get("max_score", results.max_score),
        # TA-graded written answers: shown only once released (the store decides; see review/written.py)
        "written": [{"question": str(w["question"]), "score": _num(w["score"]), "max_score": _num(w["max_score"]),
                     "comment": str(w.get("comment") or ""),
                     "items": [{"text": str(i["text"]), "points": _num(i["points"])} for i in w.get("items", [])]}
                    for w in review.get("written", [])],
        "written_pending": [str(q) for q in review.get("written_pending", [])],
        "final": review.get("final", round(total * (1 - penalty), 4)),
        "parts": list(parts.values()),
        "late": {"submitted_at": _when(late.submitted_at), "due": _when(late.due),
                 "seconds_late": seconds_late, "late_text": _duration(seconds_late) if seconds_late > 0 else "",
                 "penalty_fraction": penalty, "extension_days": _num(review.get("extension_days"))},
        "grader": {"status": results.status.value,
                   "execution_time": results.execution_time,
                   "peak_memory_mb": grader.peak_memory_mb, "device": str(grader.device or "cpu"),
                   "gpu_mode": grader.gpu_mode, "sandbox": grader.sandbox},
        "metrics": metrics,
        "submission_error": terminal_safe(extra.submission_error or ""),
        "notebook_errors": [{"cell": e.cell, "ename": terminal_safe(e.ename or ""),
                             "evalue": terminal_safe(e.evalue or "")} for e in extra.notebook_errors],
        "comments": [{"text": str(c.get("text", "")), "by": str(c.get("by", "")), "at": _when(c.get("at"))}
                     for c in (comments or [])],
    }


def _override_view(override: dict[str, Any] | None) -> dict[str, Any] | None:
    if not override:
        return None
    return {"score": _num(override.get("score")), "reason": str(override.get("reason", "")),
            "by": str(override.get("by", ""))}


def render_feedback_html(results: Results | dict[str, Any], comments: list[dict[str, Any]] | None = None, *,
                         review: dict[str, Any] | None = None) -> str:
    """A self-contained, printable HTML feedback page (inline CSS, no external assets)."""
    view = student_view(results, comments, review)
    return environment().get_template("feedback.html.j2").render(v=view, css=stylesheet())


def render_feedback_md(results: Results | dict[str, Any], comments: list[dict[str, Any]] | None = None, *,
                       review: dict[str, Any] | None = None) -> str:
    """The same feedback as Markdown (for LMS comment boxes and terminals)."""
    view = student_view(results, comments, review)
    return environment().get_template("feedback.md.j2").render(v=view)


@lru_cache(maxsize=1)
def stylesheet() -> str:
    return environment().loader.get_source(environment(), "style.css")[0]  # type: ignore[union-attr]
