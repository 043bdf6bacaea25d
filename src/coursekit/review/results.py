"""Reading a results folder (DIR/<student>/results.json, DIR/summary.json) safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


class ReviewError(Exception):
    """Bad input for a review command; the message is one line saying what is wrong and how to fix it."""


def load_results(path: Path) -> dict[str, Any]:
    """Parse one results.json and check the fields the review tools rely on."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReviewError(f"{path}: no such file; grade the submission first (`course grade`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{path}: not valid JSON ({exc}); re-grade the submission to rewrite it") from None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        raise ReviewError(f"{path}: not a results.json (no 'tests' list); re-grade the submission to rewrite it")
    extra = data.get("extra_data")
    if not isinstance(extra, dict) or not isinstance(extra.get("parts"), dict):
        raise ReviewError(f"{path}: results.json lacks extra_data.parts; re-grade with this kit's `course grade`")
    for test in data["tests"]:
        if not isinstance(test, dict) or "name" not in test or "max_score" not in test:
            raise ReviewError(f"{path}: a test entry lacks 'name' or 'max_score'; re-grade the submission")
    return data


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
        milestone = load_results(path)["extra_data"].get("milestone")
        if milestone:
            return str(milestone)
    raise ReviewError(f"{out_dir}: no summary.json or results.json says which milestone this is; "
                      f"pass the --out folder of `course grade`")


STATUSES = ("ok", "invalid", "error")  # graded; not a gradable notebook; the grader failed


def status_of(extra: dict[str, Any]) -> str:
    """A results.json's status: "error" and "invalid" both count as grading errors on every page.

    Files written before the "invalid" status existed said "ok" next to a submission_error.
    """
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
