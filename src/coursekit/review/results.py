"""Reading a results folder (DIR/<student>/results.json, DIR/summary.json) safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from coursekit.grading.results_model import Results, ResultsExtra, ResultsFileError, read_results


class ReviewError(Exception):
    """Bad input for a review command; the message is one line saying what is wrong and how to fix it."""


def load_results(path: Path) -> Results:
    """Read one results.json with the one results model (grading/results_model.py)."""
    try:
        return read_results(path)
    except ResultsFileError as exc:
        raise ReviewError(str(exc)) from None


def result_files(out_dir: Path) -> Iterator[tuple[str, Path]]:
    """(student, DIR/<student>/results.json) for every graded submission, sorted by student."""
    if not out_dir.is_dir():
        raise ReviewError(f"{out_dir}: no such results folder; pass the --out folder of `course grade`")
    for child in sorted(out_dir.iterdir()):
        path = child / "results.json"
        if child.is_dir() and path.is_file():
            yield child.name, path


def milestone_of(out_dir: Path) -> str:
    """The milestone a results folder belongs to (summary.json, else the first results.json)."""
    summary = out_dir / "summary.json"
    if summary.is_file():
        try:
            milestone = json.loads(summary.read_text(encoding="utf-8")).get("milestone")
        except json.JSONDecodeError:
            milestone = None
        if milestone:
            return str(milestone)
    for _, path in result_files(out_dir):
        milestone = load_results(path).extra_data.milestone
        if milestone:
            return str(milestone)
    raise ReviewError(f"{out_dir}: no summary.json or results.json says which milestone this is; "
                      f"pass the --out folder of `course grade`")


STATUSES = ("ok", "invalid", "error")  # graded; not a gradable notebook; the grader failed


def status_of(extra: ResultsExtra | dict[str, Any]) -> str:
    """A results.json's status: "error" and "invalid" both count as grading errors on every page.

    Files written before the "invalid" status existed said "ok" next to a submission_error.
    """
    if isinstance(extra, ResultsExtra):  # the model already applied the rule above when it read the file
        return extra.grader.status.value
    status = str((extra.get("grader") or {}).get("status") or "error")
    if status == "ok" and extra.get("submission_error"):
        return "invalid"
    return status if status in STATUSES else "error"


def first_line(text: str, limit: int = 160) -> str:
    """The first non-empty line of a student-facing message, shortened, for grouping and tables."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
