"""Release-notebook lint: does a student notebook follow the course conventions (docs/AUTHORING.md)?

``lint_notebook(path, milestone)`` returns one line per problem, each naming the notebook, the
cell index and what to fix. An empty list means the notebook teaches the way the course expects:
a header, a setup cell, for every graded part an explanation with math, a documented stub and a
check cell, and a submit section.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import nbformat

MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\n]+?\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)
OBJECTIVES = re.compile(r"learning objectives?|objectives|you will learn|by the end", re.I)
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.M)
SUBMIT_WORDS = re.compile(r"\bsubmit|upload\b", re.I)


class MilestoneLike(Protocol):
    id: str
    title: str
    parts: dict[str, int]
    due: Any


@dataclass
class Cell:
    index: int
    kind: str
    source: str
    tags: list[str]

    def part(self) -> str | None:
        return next((t[5:] for t in self.tags if t.startswith("part:")), None)


class Problems(list):
    """One-line problems for one notebook, each prefixed with the notebook's name and the cell."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def add(self, cell: int | str, message: str) -> None:
        self.append(f"{self.name}: cell {cell}: {message}")


def _cells(path: Path) -> list[Cell]:
    notebook = nbformat.read(path, as_version=4)
    return [Cell(i, c.cell_type, c.source, list(c.get("metadata", {}).get("tags", [])))
            for i, c in enumerate(notebook.cells)]


def lint_notebook(path: Path, milestone: MilestoneLike) -> list[str]:
    """Every convention problem of the release notebook at ``path`` for ``milestone`` (course.yaml entry)."""
    path = Path(path)
    problems = Problems(path.name)
    try:
        cells = _cells(path)
    except (OSError, ValueError, nbformat.ValidationError) as exc:
        return [f"{path.name}: cell -: not a readable notebook ({exc}); re-run `course release {milestone.id}`"]
    if not cells:
        return [f"{path.name}: cell -: the notebook is empty; add the header, setup, parts and submit cells"]
    _lint_header(cells, milestone, problems)
    _lint_setup(cells, problems)
    _lint_unknown_parts(cells, milestone, problems)
    _lint_written(cells, milestone, problems)
    for name in milestone.parts:
        _lint_part(cells, name, problems)
    _lint_submit(cells, problems)
    return list(problems)


def _lint_header(cells: list[Cell], milestone: MilestoneLike, problems: Problems) -> None:
    header = next((c for c in cells if "header" in c.tags), None)
    if header is None:
        problems.add(0, "no header cell: the first cell must be markdown tagged `header` with the milestone "
                        "title, learning objectives, points table, due date and how to submit")
        return
    if header.index != 0 or header.kind != "markdown":
        problems.add(header.index, "the `header` cell must be the first cell and markdown")
    text = header.source
    if milestone.title.lower() not in text.lower():
        problems.add(header.index, f"header does not name the milestone title {milestone.title!r}; add it to the heading")
    if not OBJECTIVES.search(text):
        problems.add(header.index, "header has no learning objectives; add a 'Learning objectives' list")
    rows = TABLE_ROW.findall(text)
    missing = [p for p in milestone.parts if not any(re.search(rf"\b{re.escape(p)}\b", r) for r in rows)]
    if not rows:
        problems.add(header.index, "header has no points table; add a markdown table | part | points | for every part")
    elif missing:
        problems.add(header.index, f"header points table lacks part(s) {', '.join(missing)}; add a row for each")
    due = milestone.due
    due_text = due.date().isoformat() if hasattr(due, "date") else str(due)
    if due_text not in text:
        problems.add(header.index, f"header does not state the due date {due_text}; write it as {due_text} HH:MM UTC")
    if not SUBMIT_WORDS.search(text):
        problems.add(header.index, "header does not say how to submit; add a 'How to submit' line")


def _lint_setup(cells: list[Cell], problems: Problems) -> None:
    code = [c for c in cells if c.kind == "code"]
    setup = next((c for c in code if "setup" in c.tags), None)
    if setup is None:
        problems.add(code[0].index if code else "-", "no setup cell: the first code cell must be tagged `setup` and "
                                                        "run `from coursekit_student import check, check_all`")
        return
    if setup is not code[0]:
        problems.add(setup.index, "the `setup` cell must be the first code cell")
    if "ungraded" in setup.tags:
        problems.add(setup.index, "the `setup` cell must not be `ungraded` (the grader needs its imports)")
    tree = _parse(setup, problems)
    if tree is None:
        return
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "coursekit_student" for alias in node.names}
    if "check" not in imported:
        problems.add(setup.index, "setup cell does not import check; add `from coursekit_student import check, check_all`")


def _lint_unknown_parts(cells: list[Cell], milestone: MilestoneLike, problems: Problems) -> None:
    for cell in cells:
        name = cell.part()
        if name is not None and name not in milestone.parts:
            problems.add(cell.index, f"tag part:{name} names no part of {milestone.id} in course.yaml "
                                     f"(parts: {', '.join(milestone.parts)}); fix the tag or course.yaml")


def _lint_written(cells: list[Cell], milestone: MilestoneLike, problems: Problems) -> None:
    """Each written question of course.yaml has an answer cell tagged written:<q> (and no tag names none)."""
    questions = getattr(milestone, "written", {}) or {}
    tagged = {t[8:]: c.index for c in cells for t in c.tags if t.startswith("written:")}
    for name, index in tagged.items():
        if name not in questions:
            problems.add(index, f"tag written:{name} names no written question of {milestone.id} in course.yaml "
                                f"(written: {', '.join(questions) or 'none'}); fix the tag or add `written: "
                                f"{{{name}: POINTS}}` to the milestone")
    for name in questions:
        if name not in tagged:
            problems.add("-", f"written question {name!r} has no answer cell; add a markdown cell tagged "
                              f"written:{name} where students write their answer")


def _parse(cell: Cell, problems: Problems) -> ast.Module | None:
    # IPython magics and shell escapes are not Python; the grader neutralises them, so do we.
    source = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        problems.add(cell.index, f"code does not parse (line {exc.lineno}: {exc.msg}); fix the syntax")
        return None


def _raises_not_implemented(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                return True
    return False


def _calls_check(tree: ast.AST, part: str) -> bool:
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == part):
            return True
    return False


def _undocumented(tree: ast.Module) -> list[str]:
    """Functions/classes/methods without a docstring (``Class.method`` for methods), dunders excepted."""
    missing: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                dunder = child.name.startswith("__") and child.name.endswith("__")  # the class docstring covers these
                if not dunder and not ast.get_docstring(child):
                    missing.append(name)
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return missing


def _lint_part(cells: list[Cell], part: str, problems: Problems) -> None:
    mine = [c for c in cells if c.part() == part]
    if not mine:
        problems.add("-", f"part {part!r} has no cells; tag its explanation, stub and check cells `part:{part}`")
        return
    first = mine[0].index
    explanations = [c for c in mine if c.kind == "markdown"]
    if not explanations:
        problems.add(first, f"part {part!r} has no explanation; add a markdown cell tagged part:{part} before the stub")
    elif not any(MATH.search(c.source) for c in explanations):
        problems.add(explanations[0].index, f"part {part!r}'s explanation has no LaTeX math; state the idea "
                                             f"as a formula ($...$)")
    stubs, check_cells = [], []
    for cell in (c for c in mine if c.kind == "code"):
        tree = _parse(cell, problems)
        if tree is None:
            continue
        if _calls_check(tree, part):
            check_cells.append(cell)
            if "check" not in cell.tags:
                problems.add(cell.index, f"check cell of part {part!r} is not tagged `check`; add the tag")
        if _raises_not_implemented(tree):
            stubs.append(cell)
            for name in _undocumented(tree):
                problems.add(cell.index, f"`{name}` in the stub of part {part!r} has no docstring; document "
                                         f"inputs, shapes, return and errors (outside the solution markers)")
            if "ungraded" in cell.tags:
                problems.add(cell.index, f"the stub of part {part!r} is tagged `ungraded`, so the grader would "
                                         f"never run it; remove the tag")
    if not stubs:
        problems.add(first, f"part {part!r} has no code stub raising NotImplementedError; add one "
                            f"(solution inside ### BEGIN/END SOLUTION)")
    if not check_cells:
        problems.add(first, f"part {part!r} has no check cell; add a code cell `check(\"{part}\")` tagged "
                            f"check and part:{part} after the stub")
    elif stubs and check_cells[-1].index < stubs[0].index:
        problems.add(check_cells[-1].index, f"the check cell of part {part!r} comes before its stub; move it after")


def _lint_submit(cells: list[Cell], problems: Problems) -> None:
    submit = [c for c in cells if "submit" in c.tags]
    text = [c for c in submit if c.kind == "markdown"]
    if not text:
        where = submit[0].index if submit else len(cells) - 1
        problems.add(where, "no submit section: end with a markdown cell tagged `submit` saying which file to upload")
        return
    if not any(re.search(r"\.ipynb|\.zip|course submit", c.source) for c in text):
        problems.add(text[0].index, "the submit section does not name the file to upload (the .ipynb or "
                                    "<id>-submission.zip from `course submit`)")
    later_parts = [c.index for c in cells if c.index > text[0].index and c.part()]
    if later_parts:
        problems.add(text[0].index, f"the submit section must come after every part (cell {later_parts[0]} is later)")
