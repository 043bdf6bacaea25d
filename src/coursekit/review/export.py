"""Gradebook exports: our CSV and Canvas's grade-import CSV.

Canvas imports the layout its own gradebook export uses: the columns ``Student``, ``ID``,
``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment headed
``<Assignment name> (<assignment id>)``; a second row whose first cell is
``Points Possible`` gives each assignment's points. Canvas matches students by ``ID``
(its user id), else ``SIS User ID``, else ``SIS Login ID``. A header without ``(<id>)``
makes Canvas create a new assignment on import.

The roster maps our student names (the stems of DIR/<student>) to Canvas identities. It is
either a CSV with a ``student`` column plus any of ``name``, ``id``, ``sis_user_id``,
``sis_login_id``, ``section``, or Canvas's own gradebook export, matched on ``SIS Login ID``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from coursekit.review.results import ReviewError
from coursekit.review.store import Gradebook

CANVAS_ID_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it in its own exports (leading spaces included)
ROSTER_ALIASES = {
    "student": "student", "name": "name", "student name": "name", "id": "id", "canvas id": "id",
    "sis_user_id": "sis_user_id", "sis user id": "sis_user_id", "sis_login_id": "sis_login_id",
    "sis login id": "sis_login_id", "login": "sis_login_id", "section": "section",
}


@dataclass(frozen=True)
class RosterEntry:
    name: str = ""
    id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


def read_roster(path: Path) -> dict[str, RosterEntry]:
    """student stem -> Canvas identity, from a roster CSV or a Canvas gradebook export."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel adds a BOM
    except FileNotFoundError:
        raise ReviewError(f"{path}: no such roster file; pass a CSV with a 'student' column (or Canvas's export)") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = fields
    if set(CANVAS_ID_COLUMNS) <= set(fields):  # Canvas's own export: "Student" is a display name
        columns = {"name": "Student", "id": "ID", "sis_user_id": "SIS User ID", "sis_login_id": "SIS Login ID",
                   "section": "Section"}
    else:
        columns = {ROSTER_ALIASES[c.lower()]: c for c in fields if c.lower() in ROSTER_ALIASES}
    key = columns.get("student") or columns.get("sis_login_id")
    if key is None:
        raise ReviewError(f"{path}: the roster needs a 'student' column (our student names) or an 'SIS Login ID' "
                          f"column; found: {', '.join(reader.fieldnames or []) or 'no header'}")
    roster: dict[str, RosterEntry] = {}
    for row in reader:
        stem = (row.get(key) or "").strip()
        first = next(iter(row.values()), "") or ""
        if not stem or first.strip() == "Points Possible":
            continue
        roster[stem] = RosterEntry(**{field: (row.get(column) or "").strip()
                                      for field, column in columns.items() if field != "student"})
    return roster


def canvas_csv(book: Gradebook, *, roster: dict[str, RosterEntry] | None = None, assignment_id: str | None = None,
               assignment_name: str | None = None, skip_missing: bool = False) -> str:
    """The Canvas grade-import CSV for this milestone: final scores (overrides and late penalty applied)."""
    grades = book.grades()
    if roster is not None:
        missing = [g.student for g in grades if g.student not in roster]
        if missing and not skip_missing:
            shown = ", ".join(missing[:5]) + (f", … ({len(missing)} in all)" if len(missing) > 5 else "")
            raise ReviewError(f"{len(missing)} graded students are not in the roster ({shown}); "
                              f"add them to it or pass --skip-missing")
        grades = [g for g in grades if g.student in roster]
    name = assignment_name or f"{book.title} [{book.milestone_id}]"
    column = f"{name} ({assignment_id})" if assignment_id else name
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_ID_COLUMNS, column])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", f"{sum(book.part_points.values()):g}"])
    for g in grades:
        # Without a roster our student names go in SIS Login ID, which Canvas can match on.
        who = roster[g.student] if roster is not None else RosterEntry(name=g.student, sis_login_id=g.student)
        writer.writerow([who.name or g.student, who.id, who.sis_user_id, who.sis_login_id, who.section,
                         f"{round(g.final, 2):g}"])
    return buffer.getvalue()
