"""Canvas's grade-import CSV, matched to a roster.

Canvas imports the layout its own gradebook export uses (Grades → Export → Export Entire
Gradebook): the columns ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then
one column per assignment headed ``<Assignment name> (<assignment id>)``; a second row whose first
cell is ``Points Possible`` gives each assignment's points. Canvas matches students by ``ID`` (its
user id), else ``SIS User ID``, else ``SIS Login ID``; a header without ``(<id>)`` makes Canvas
create a new assignment on import; ``EX`` in a cell excuses the student.

So Canvas needs a roster: that export itself (its assignment ids are read from its header), or a
CSV with a ``student`` column (our student ids, the stems of DIR/<student>) plus any of ``name``,
``id``, ``sis_user_id``, ``sis_login_id``, ``section``. A student id matches a Canvas export's row
by SIS Login ID (or its part before ``@``), SIS User ID, ID, or the Canvas user id in the file
names of Canvas's bulk submission download (``doejane_12345_67890_m01.ipynb``). Roster students
with no submission get 0 or ``EX`` (``missing``), with a warning naming them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.review.escape import csv_row
from coursekit.review.results import ReviewError
from coursekit.review.store import Grade, Gradebook

CANVAS_ID_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it in its own exports (leading spaces included)
CANVAS_TEST_STUDENT = "Student, Test"      # Canvas's "student view" user, in every export
ROSTER_ALIASES = {
    "student": "student", "name": "name", "student name": "name", "id": "id", "canvas id": "id",
    "sis_user_id": "sis_user_id", "sis user id": "sis_user_id", "sis_login_id": "sis_login_id",
    "sis login id": "sis_login_id", "login": "sis_login_id", "section": "section",
}
ASSIGNMENT_HEADER = re.compile(r"^(?P<name>.*\S)\s*\((?P<id>\d+)\)$")
CANVAS_DOWNLOAD = re.compile(r"^[^_]+_(?:late_)?(?P<id>\d+)_\d+_", re.IGNORECASE)
GET_ROSTER = ("in Canvas open Grades → Export → Export Entire Gradebook and pass that CSV with --roster "
              "(or a CSV with 'student' and 'id' columns)")
MISSING = ("zero", "excused")


@dataclass(frozen=True)
class RosterEntry:
    name: str = ""
    id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    student: str = ""  # our student id, from a 'student' column (our own roster format)

    @property
    def label(self) -> str:
        return f"{self.name or '?'} [{self.sis_login_id or self.sis_user_id or self.id or self.student}]"


@dataclass
class Roster:
    entries: list[RosterEntry]
    assignments: dict[str, str] = field(default_factory=dict)  # "name (id)" header columns: id -> name
    path: Path | None = None


@dataclass
class CanvasExport:
    text: str
    warnings: list[str]
    column: str
    rows: int


def read_roster(path: Path) -> Roster:
    """Canvas identities (and assignment columns) from a roster CSV or a Canvas gradebook export."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # Excel adds a BOM
    except FileNotFoundError:
        raise ReviewError(f"{path}: no such roster file; {GET_ROSTER}") from None
    except UnicodeDecodeError:
        raise ReviewError(f"{path}: the roster is not UTF-8 text; save it as 'CSV UTF-8' and try again") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = fields
    assignments: dict[str, str] = {}
    if set(CANVAS_ID_COLUMNS) <= set(fields):  # Canvas's own export: "Student" is a display name
        columns = {"name": "Student", "id": "ID", "sis_user_id": "SIS User ID", "sis_login_id": "SIS Login ID",
                   "section": "Section"}
        for header in fields:
            found = ASSIGNMENT_HEADER.match(header)
            if found and header not in CANVAS_ID_COLUMNS:
                assignments[found["id"]] = found["name"]
    else:
        columns = {ROSTER_ALIASES[c.lower()]: c for c in fields if c.lower() in ROSTER_ALIASES}
    if not {"student", "id", "sis_user_id", "sis_login_id"} & set(columns):
        raise ReviewError(f"{path}: the roster needs a 'student' column (our student ids) or Canvas's ID / SIS "
                          f"columns; found: {', '.join(fields) or 'no header'}; {GET_ROSTER}")
    entries = []
    for row in reader:
        first = (next(iter(row.values()), "") or "").strip()
        entry = RosterEntry(**{key: (row.get(column) or "").strip() for key, column in columns.items()})
        if first == "Points Possible" or entry.name == CANVAS_TEST_STUDENT:
            continue
        if entry.student or entry.id or entry.sis_user_id or entry.sis_login_id:  # not Canvas's posting-policy rows
            entries.append(entry)
    return Roster(entries, assignments, Path(path))


def _keys(entry: RosterEntry) -> list[tuple[str, str]]:
    """(kind, value) pairs a student id may equal, in the order they are trusted."""
    login = entry.sis_login_id.casefold()
    return [(kind, value) for kind, value in (
        ("student", entry.student.casefold()), ("login", login), ("login", login.split("@")[0] if "@" in login else ""),
        ("sis", entry.sis_user_id.casefold()), ("id", entry.id)) if value]


def match_students(roster: Roster, students: list[str]) -> tuple[dict[str, RosterEntry], list[str]]:
    """(student id -> roster entry, students with no entry); an ambiguous or shared entry is an error."""
    index: dict[tuple[str, str], list[RosterEntry]] = {}
    for entry in roster.entries:
        for key in _keys(entry):
            if entry not in index.setdefault(key, []):
                index[key].append(entry)
    matched: dict[str, RosterEntry] = {}
    unmatched = []
    for student in students:
        wanted = [("student", student.casefold()), ("login", student.casefold()), ("sis", student.casefold()),
                  ("id", student)]
        download = CANVAS_DOWNLOAD.match(student)
        if download:
            wanted.append(("id", download["id"]))
        for key in wanted:
            hits = index.get(key, [])
            if len(hits) > 1:
                raise ReviewError(f"student {student!r} matches {len(hits)} roster rows "
                                  f"({'; '.join(h.label for h in hits[:3])}); fix the roster so ids are unique")
            if hits:
                matched[student] = hits[0]
                break
        else:
            unmatched.append(student)
    owners: dict[RosterEntry, list[str]] = {}
    for student, entry in matched.items():
        owners.setdefault(entry, []).append(student)
    shared = [f"{entry.label}: {', '.join(names)}" for entry, names in owners.items() if len(names) > 1]
    if shared:
        raise ReviewError(f"several graded submissions match one roster student ({'; '.join(shared[:3])}); "
                          "grade only one submission per student")
    return matched, unmatched


def _listed(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (f", … ({len(items)} in all)" if len(items) > limit else "")


def _assignment(book: Gradebook, roster: Roster, assignment_id: str | None,
                assignment_name: str | None, warnings: list[str]) -> str:
    """The header of the grade column: the roster export's own "Name (id)" when it can be found."""
    default = assignment_name or f"{book.title} [{book.milestone_id}]"
    if assignment_id:
        return f"{assignment_name or roster.assignments.get(assignment_id) or default} ({assignment_id})"
    if not roster.assignments:
        warnings.append(f"no assignment id: Canvas will create a new assignment {default!r} on import; pass "
                        "--assignment-id (the number in the assignment's URL) or use a Canvas export as --roster")
        return default
    wanted = [w.casefold() for w in ([assignment_name] if assignment_name else [book.title, book.milestone_id])]
    hits = [(i, n) for i, n in roster.assignments.items() if any(w == n.casefold() or w in n.casefold()
                                                                 for w in wanted)]
    if len(hits) == 1:
        return f"{hits[0][1]} ({hits[0][0]})"
    found = _listed([f"{n} ({i})" for i, n in (hits or roster.assignments.items())], 5)
    if hits:
        raise ReviewError(f"several assignments of the roster match {book.milestone_id} ({found}); "
                          "pass --assignment-id to pick one")
    warnings.append(f"the roster export has no column for {book.milestone_id} (found: {found}); Canvas will create "
                    f"a new assignment {default!r}; pass --assignment-id to grade an existing one")
    return default


def canvas_csv(book: Gradebook, *, roster: Roster | None, assignment_id: str | None = None,
               assignment_name: str | None = None, skip_unmatched: bool = False,
               missing: str = "zero") -> CanvasExport:
    """The Canvas grade-import CSV for this milestone: final scores (overrides and late penalty applied)."""
    if roster is None:
        raise ReviewError(f"Canvas matches students by its own ids, so --format canvas needs --roster; {GET_ROSTER}")
    if missing not in MISSING:
        raise ReviewError(f"--missing must be one of {', '.join(MISSING)} (got {missing!r})")
    warnings: list[str] = []
    grades = book.grades()
    matched, unmatched = match_students(roster, [g.student for g in grades])
    if unmatched and not skip_unmatched:
        raise ReviewError(f"{len(unmatched)} graded students are not in the roster ({_listed(unmatched, 5)}); "
                          "add them to it or pass --skip-unmatched")
    if unmatched:
        warnings.append(f"left out {len(unmatched)} graded students not in the roster: {_listed(unmatched)}")
    grades = [g for g in grades if g.student in matched]
    troubled = [f"{g.student} ({g.status})" for g in grades if g.status != "ok"]
    if troubled:
        warnings.append(f"{len(troubled)} exported grades come from submissions the grader could not grade: "
                        f"{_listed(troubled)}; check them on the dashboard before importing")
    graded_entries = set(matched.values())
    absent = [e for e in roster.entries if e not in graded_entries]
    cell = "EX" if missing == "excused" else "0"
    if absent:
        other = "zero" if missing == "excused" else "excused"
        warnings.append(f"{len(absent)} roster students have no submission and get {cell}: "
                        f"{_listed([e.label for e in absent])} (pass --missing {other} to change that)")
    column = _assignment(book, roster, assignment_id, assignment_name, warnings)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_row([*CANVAS_ID_COLUMNS, column]))
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", f"{sum(book.part_points.values()):g}"])
    rows = [(matched[g.student], _score(g)) for g in grades] + [(e, cell) for e in absent]
    for who, score in rows:  # names and sections come from the roster, typed by people: neutralised
        writer.writerow(csv_row([who.name or who.student, who.id, who.sis_user_id, who.sis_login_id, who.section,
                                 score]))
    return CanvasExport(buffer.getvalue(), warnings, column, len(rows))


def _score(grade: Grade) -> str:
    return f"{round(grade.final, 2):g}"
