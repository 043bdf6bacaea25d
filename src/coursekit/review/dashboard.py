"""The class dashboard: one static site built from a results folder and its gradebook store.

SITE/index.html is for the teaching staff (it names hidden tests and shows every student);
SITE/students/<student>.html are the student-safe feedback pages, with TA comments and
overrides applied, ready to hand back one by one. No CDN, no external assets: the site opens
from disk, offline.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from coursekit.review.feedback import environment, stylesheet, render_feedback_html
from coursekit.review.results import ReviewError, load_results
from coursekit.review.store import Grade, Gradebook
from coursekit.review.svg import histogram

PROBLEM_OUTCOMES = ("timeout", "crashed")


@dataclass
class SiteReport:
    index: Path
    pages: int
    seconds: float


def review_of(grade: Grade) -> dict[str, Any]:
    """The staff decisions the feedback page shows (see feedback.student_view).

    Written grades reach the student only once released: until then the page lists the questions
    as pending and its total and maximum leave them out.
    """
    total = grade.student_total
    return {"overrides": [o.as_dict() for o in grade.overrides], "parts": grade.parts, "total": total,
            "max_score": grade.student_max, "penalty_fraction": grade.penalty_fraction,
            "final": round(total * (1 - grade.penalty_fraction), 4),
            "extension_days": grade.extension_days, "seconds_late": grade.seconds_late,
            "written": [w.as_dict() for w in grade.written.values() if w.graded] if grade.released else [],
            "written_pending": [] if grade.released else list(grade.written)}


def test_failures(book: Gradebook) -> list[dict[str, Any]]:
    """Every test with how many students it failed and the message they most often saw, worst first."""
    stats = {r["name"]: dict(r) for r in book.conn.execute(
        "SELECT name, part, kind, COUNT(*) AS n, SUM(score < max_score - 1e-9) AS failed, AVG(duration) AS duration "
        "FROM tests GROUP BY name")}
    for r in book.conn.execute(
            "SELECT name, message, COUNT(*) AS c FROM tests WHERE score < max_score - 1e-9 AND message != '' "
            "GROUP BY name, message ORDER BY name, c DESC"):
        stats[r["name"]].setdefault("message", r["message"])
        stats[r["name"]].setdefault("message_count", r["c"])
    for r in book.conn.execute(
            "SELECT name, outcome, COUNT(*) AS c FROM tests WHERE outcome != 'passed' GROUP BY name, outcome "
            "ORDER BY name, c DESC"):
        stats[r["name"]].setdefault("outcomes", []).append(f"{r['outcome']} {r['c']}")
    rows = []
    for s in stats.values():
        s.setdefault("message", "")
        s.setdefault("message_count", 0)
        s.setdefault("outcomes", [])
        s["rate"] = (s["failed"] or 0) / s["n"] if s["n"] else 0.0
        rows.append(s)
    return sorted(rows, key=lambda s: (-s["rate"], s["name"]))


def problem_submissions(book: Gradebook, grades: list[Grade]) -> list[dict[str, Any]]:
    """Submissions whose grading errored, crashed or timed out: a TA must look at these."""
    counts = {r["student"]: dict(r) for r in book.conn.execute(
        "SELECT student, SUM(outcome = 'timeout') AS timeouts, SUM(outcome = 'crashed') AS crashes "
        "FROM tests GROUP BY student")}
    out = []
    for g in grades:
        c = counts.get(g.student, {"timeouts": 0, "crashes": 0})
        if g.status != "ok" or g.submission_error or c["timeouts"] or c["crashes"]:
            status = "invalid" if g.submission_error and g.status == "ok" else g.status
            out.append({"student": g.student, "status": status, "error": g.error or g.submission_error or "",
                        "timeouts": c["timeouts"] or 0, "crashes": c["crashes"] or 0})
    return out


def _summary(grades: list[Grade]) -> dict[str, Any]:
    finals = [g.final for g in grades]
    return {"n": len(grades), "mean": statistics.fmean(finals) if finals else 0.0,
            "median": statistics.median(finals) if finals else 0.0,
            "errors": sum(g.status != "ok" for g in grades), "review": sum(g.needs_review for g in grades),
            "late": sum(g.penalty_fraction > 0 for g in grades), "overridden": sum(bool(g.overrides) for g in grades),
            "flagged": sum(bool(g.flags) for g in grades)}


def _charts(grades: list[Grade], points: dict[str, float]) -> dict[str, Any]:
    total = sum(points.values())
    parts = [histogram([g.parts[p] for g in grades], title=f"{p} (out of {points[p]:g})", lo=0, hi=points[p],
                       bins=10) for p in points]
    return {
        "total": histogram([g.final for g in grades], title=f"Final score (out of {total:g})", lo=0, hi=total, bins=20),
        "parts": parts,
        "runtime": histogram([g.execution_time for g in grades if g.execution_time is not None],
                             title="Grading time per submission", unit=" s", color="#8250df"),
        "memory": histogram([g.peak_memory_mb for g in grades if g.peak_memory_mb is not None],
                            title="Peak memory per submission", unit=" MB", color="#bf8700"),
    }


def _page_name(student: str) -> str:
    """The link to a student's page (URL-quoted; the file on disk is students/<student>.html)."""
    return f"students/{quote(student, safe='')}.html"


def _page_path(site: Path, student: str) -> Path:
    # Student names are folder names of DIR, so they are valid file names as they are.
    return site / "students" / f"{student}.html"


def _write_feedback_pages(book: Gradebook, grades: list[Grade], site: Path) -> int:
    """students/<student>.html for every graded submission, with comments and overrides applied."""
    (site / "students").mkdir(parents=True, exist_ok=True)
    paths = {r["student"]: r["results_path"] for r in book.conn.execute("SELECT student, results_path FROM submissions")}
    comments: dict[str, list[dict[str, Any]]] = {}
    for r in book.conn.execute("SELECT student, text, by, at FROM comments ORDER BY id"):
        comments.setdefault(r["student"], []).append(dict(r))

    def one(grade: Grade) -> None:
        results = load_results(book.out_dir / paths[grade.student])
        html = render_feedback_html(results, comments.get(grade.student), review=review_of(grade))
        _page_path(site, grade.student).write_text(html, encoding="utf-8")

    # Reading JSON and writing files release the GIL often enough for a few threads to help.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(one, grades))
    return len(grades)


def write_student_page(book: Gradebook, site: Path, grade: Grade) -> Path:
    """Re-render one student's feedback page (after an override, comment or extension)."""
    row = book.conn.execute("SELECT results_path FROM submissions WHERE student = ?", (grade.student,)).fetchone()
    results = load_results(book.out_dir / row["results_path"])
    path = _page_path(site, grade.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback_html(results, book.comments(grade.student), review=review_of(grade)),
                    encoding="utf-8")
    return path


def write_index(book: Gradebook, site: Path, grades: list[Grade], *, review_links: bool = False) -> Path:
    """SITE/index.html. With ``review_links`` students link to the `course review` staff pages."""
    points = book.part_points
    href = (lambda s: f"review/{quote(s, safe='')}") if review_links else _page_name
    rows = [{"g": g, "href": href(g.student), "review": g.review_reason} for g in grades]
    problems = [{**p, "href": href(p["student"])} for p in problem_submissions(book, grades)]
    flagged = [{"student": g.student, "href": href(g.student), "flags": g.flags} for g in grades if g.flags]
    html = environment().get_template("dashboard.html.j2").render(
        css=stylesheet(), milestone=book.milestone_id, title=book.title, parts=list(points), points=points,
        summary=_summary(grades), charts=_charts(grades, points), failures=test_failures(book),
        problems=problems, flagged=flagged, rows=rows, review_links=review_links,
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    index = site / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def build_site(book: Gradebook, site: Path, grades: list[Grade] | None = None, *,
               review_links: bool = False) -> SiteReport:
    """Write SITE/index.html and SITE/students/*.html from the store and the results files."""
    started = dt.datetime.now()
    grades = book.grades() if grades is None else grades
    if not grades:
        raise ReviewError(f"{book.out_dir}: no graded submissions to report on; run `course grade` first")
    site.mkdir(parents=True, exist_ok=True)
    pages = _write_feedback_pages(book, grades, site)
    index = write_index(book, site, grades, review_links=review_links)
    return SiteReport(index=index, pages=pages, seconds=(dt.datetime.now() - started).total_seconds())
