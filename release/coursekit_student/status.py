"""``course status``: the student's progress per milestone, from the release notebooks and check() results.

Reads only local files: every ``<id>/<id>.ipynb`` with public tests below the folder given, and
the ``<id>/.course/checks.json`` that ``check()`` keeps up to date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from coursekit_student.checker import CACHE_DIR, CACHE_FILE

DUE = re.compile(r"due\W*\s*(\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2})?)", re.I)
SKIP = {".ipynb_checkpoints", ".git", ".venv", "node_modules", "__pycache__", ".course"}


@dataclass
class MilestoneStatus:
    milestone: str
    folder: Path
    parts: list[str]
    due: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    edited_since_check: bool = False
    submission: Path | None = None

    @property
    def parts_passing(self) -> int:
        return sum(1 for p in self.parts if (row := self.checks.get(p)) and row["total"] and
                   row["passed"] == row["total"])

    @property
    def points(self) -> tuple[float, float]:
        rows = [self.checks[p] for p in self.parts if p in self.checks]
        return sum(r["points"] for r in rows), sum(r["max_points"] for r in rows)


def find_milestones(root: Path, depth: int = 3) -> list[Path]:
    """Folders ``<id>/`` holding ``<id>.ipynb`` and ``tests/test_*.py`` at most ``depth`` levels below root."""
    found, frontier = [], [root]
    for _ in range(depth + 1):
        nxt = []
        for folder in frontier:
            if (folder / f"{folder.name}.ipynb").is_file() and any((folder / "tests").glob("test_*.py")):
                found.append(folder)
            nxt += [d for d in sorted(folder.iterdir()) if d.is_dir() and d.name not in SKIP] if folder.is_dir() else []
        frontier = nxt
    return sorted(set(found), key=lambda p: p.name)


def milestone_status(folder: Path, cwd: Path | None = None) -> MilestoneStatus:
    notebook = folder / f"{folder.name}.ipynb"
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    parts: list[str] = []
    due = None
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        parts += [t[5:] for t in tags if t.startswith("part:") and t[5:] not in parts]
        if "header" in tags and (match := DUE.search("".join(cell.get("source", "")))):
            due = match.group(1)
    status = MilestoneStatus(folder.name, folder, parts, due)
    cache = folder / CACHE_DIR / CACHE_FILE
    try:
        status.checks = json.loads(cache.read_text(encoding="utf-8")).get("parts", {})
        status.edited_since_check = notebook.stat().st_mtime > cache.stat().st_mtime
    except (OSError, ValueError):
        pass
    for place in {cwd or Path.cwd(), folder, folder.parent}:
        zipped = place / f"{folder.name}-submission.zip"
        if zipped.is_file():
            status.submission = zipped
    return status


def due_note(due: str | None, now: datetime | None = None) -> str:
    """``2027-02-05 23:59 (in 3 days)`` / ``(overdue)``; header due dates are UTC."""
    if not due:
        return "?"
    try:
        when = datetime.fromisoformat(due.replace(" ", "T")).replace(tzinfo=timezone.utc)
    except ValueError:
        return due
    left = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if left < 0:
        return f"{due} (overdue)"
    return f"{due} (in {left / 86400:.0f} days)" if left >= 86400 else f"{due} (in {left / 3600:.0f} h)"


def format_status(statuses: list[MilestoneStatus], now: datetime | None = None) -> str:
    if not statuses:
        return "no milestones found here: run `course status` in the folder holding your release notebooks"
    header = f"{'milestone':<26} {'due (UTC)':<31} {'parts passing':>13} {'public points':>14}  {'last check':<20} submitted"
    lines = [header, "-" * len(header)]
    names = [s.milestone for s in statuses]
    for s in statuses:
        got, most = s.points
        label = s.milestone if names.count(s.milestone) == 1 else f"{s.milestone} ({s.folder.parent.name}/)"
        checked = [row["checked_at"] for row in s.checks.values() if "checked_at" in row]
        last = datetime.fromisoformat(max(checked)).strftime("%Y-%m-%d %H:%M") if checked else "never"
        if checked and s.edited_since_check:
            last += " (edited since)"
        points = f"{got:g}/{most:g}" if s.checks else "-"
        lines.append(f"{label:<26} {due_note(s.due, now):<31} {s.parts_passing:>6}/{len(s.parts):<6} {points:>14}  "
                     f"{last:<20} {'yes' if s.submission else 'no'}")
        missing = [p for p in s.parts if p not in s.checks]
        if s.checks and missing:
            lines.append(f"  not checked yet: {', '.join(missing)}")
    lines.append("Points are from public checks only; hidden tests also count toward your grade.")
    return "\n".join(lines)


def status(root: Path | None = None) -> str:
    root = (root or Path.cwd()).resolve()
    return format_status([milestone_status(f, root) for f in find_milestones(root)])
