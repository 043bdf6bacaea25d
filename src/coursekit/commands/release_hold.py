"""``course release-hold DIR STUDENT --part PART``: give a part held for review its computed score back.

The trusted-side static check (``coursekit.grading.static_check``) holds at 0 a part whose code
reaches around its "from scratch" ban; results.json keeps the reason and the computed score in
``extra_data.holds`` (staff only). A TA who reads the code and finds it honest releases the part:
the release is a part override to the computed score, kept in the TA store across re-grades.
"""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.review.cli import BY_OPTION, RESULTS_DIR, gradebook, who
from coursekit.grading.results_model import ResultsFileError, read_results
from coursekit.review.results import ReviewError

RELEASE_REASON = "reviewed by course staff"  # shown to the student: says nothing about the check


def holds_of(out_dir: Path, results_path: str) -> list[dict]:
    """The holds recorded in one student's results.json (empty when none or unreadable)."""
    try:
        results = read_results(out_dir / results_path)
    except ResultsFileError:
        return []
    return list(results.extra_data.holds)


@click.command(name="release-hold")
@click.argument("out_dir", metavar="DIR", type=RESULTS_DIR)
@click.argument("student")
@click.option("--part", "part", required=True, metavar="PART", help="The held part to release.")
@BY_OPTION
def command(out_dir: Path, student: str, part: str, by: str | None) -> None:
    """Release PART of STUDENT, held for review by the static check, at its computed score."""
    with gradebook(out_dir) as book:
        book.require_student(student)
        row = book.conn.execute("SELECT results_path FROM submissions WHERE student = ?", (student,)).fetchone()
        holds = {h.get("part"): h for h in holds_of(out_dir, row["results_path"] if row else "")}
        if part not in holds:
            held = ", ".join(sorted(str(p) for p in holds)) or "none"
            raise ReviewError(f"{student}'s part {part!r} is not held for review (held parts: {held})")
        hold = holds[part]
        score = float(hold.get("computed_score") or 0.0)
        book.set_override(student, part=part, score=score, reason=RELEASE_REASON, by=who(by))
        grade = book.grade(student)
        click.echo(f"{student}: part {part} released at {score:g} (held: {hold.get('reason')}); "
                   f"total {grade.total:g}/{grade.max_score:g}")
