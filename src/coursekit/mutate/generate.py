"""Generate mutants of every solution region (``### BEGIN SOLUTION`` ... ``### END SOLUTION``).

A mutant is one operator applied to one node that lies wholly inside a solution region of a cell
tagged ``part:<name>``. Its id is a hash of the part and the diff's changed and context lines (not
the hunk's line numbers), so editing text elsewhere in the notebook keeps the ids, and the
equivalent-mutants file, valid.
"""

from __future__ import annotations

import difflib
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import nbformat
from libcst.metadata import MetadataWrapper, PositionProvider

from coursekit.mutate.operators import OPERATORS

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"


@dataclass(frozen=True)
class GeneratedMutant:
    id: str
    part: str
    cell: int
    line: int  # 1-based line in the cell of the mutated node
    operator: str
    source: str  # the whole mutated cell
    diff: str


@dataclass
class Generation:
    mutants: list[GeneratedMutant]
    not_compiling: list[GeneratedMutant]
    unparsed_cells: list[int]  # solution cells libcst could not parse (IPython magics): not mutated


def solution_regions(source: str) -> list[tuple[int, int]]:
    """1-based (first, last) line numbers strictly between each BEGIN/END SOLUTION marker pair."""
    regions, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN in line and line.lstrip().startswith("#"):
            start = number
        elif END in line and line.lstrip().startswith("#") and start is not None:
            regions.append((start + 1, number - 1))
            start = None
    return regions


def cell_part(cell: nbformat.NotebookNode) -> str | None:
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag.startswith("part:"):
            return tag[len("part:"):]
    return None


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, regions: list[tuple[int, int]]) -> None:
        super().__init__()
        self.regions = regions
        self.found: list[tuple[cst.CSTNode, cst.CSTNode, str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        operators = OPERATORS.get(type(node))
        if operators:
            position = self.get_metadata(PositionProvider, node)
            if any(first <= position.start.line and position.end.line <= last for first, last in self.regions):
                for operator in operators:
                    for replacement, label in operator(node):
                        self.found.append((node, replacement, label, position.start.line))
        return True


def mutate_source(source: str, regions: list[tuple[int, int]]) -> Iterator[tuple[str, str, int]]:
    """Each distinct mutated version of ``source``: (new source, operator label, line). Raises cst.ParserSyntaxError."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    collector = _Collector(regions)
    wrapper.visit(collector)
    seen = {source}
    for original, replacement, label, line in collector.found:
        mutated = wrapper.module.deep_replace(original, replacement).code
        if mutated not in seen:  # two operators can write the same code (e.g. a dropped call statement)
            seen.add(mutated)
            yield mutated, label, line


def unified_diff(old: str, new: str, name: str, context: int = 2) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", n=context,
                                 lineterm="")
    return "\n".join(lines) + "\n"


def mutant_id(part: str, diff: str) -> str:
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]
    return hashlib.sha256("\n".join([part, *body]).encode()).hexdigest()[:10]


def _compiles(source: str) -> bool:
    try:
        compile(source, "<mutant>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def generate(notebook_path: Path, parts: list[str] | None = None) -> Generation:
    """Every mutant of the solution regions of ``notebook_path`` (optionally only in ``parts``)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    mutants: list[GeneratedMutant] = []
    broken: list[GeneratedMutant] = []
    unparsed: list[int] = []
    ids: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        part = cell_part(cell)
        regions = solution_regions(cell.source) if cell.cell_type == "code" else []
        if not part or not regions or (parts and part not in parts):
            continue
        try:
            variants = list(mutate_source(cell.source, regions))
        except cst.ParserSyntaxError:
            unparsed.append(index)
            continue
        for mutated, label, line in variants:
            diff = unified_diff(cell.source, mutated, f"{notebook_path.name} cell {index}")
            identity = mutant_id(part, diff)
            while identity in ids:  # the same edit with the same context twice in one part
                identity = mutant_id(part, diff + identity)
            ids.add(identity)
            mutant = GeneratedMutant(id=identity, part=part, cell=index, line=line, operator=label,
                                     source=mutated, diff=diff)
            (mutants if _compiles(mutated) else broken).append(mutant)
    return Generation(mutants=mutants, not_compiling=broken, unparsed_cells=unparsed)


def sample(mutants: list[GeneratedMutant], size: int | None, seed: int) -> list[GeneratedMutant]:
    """A reproducible sample: the same ids for the same notebook, size and seed."""
    ordered = sorted(mutants, key=lambda m: m.id)
    if size is None or size >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, size), key=lambda m: m.id)


def write_mutant(notebook_path: Path, mutant: GeneratedMutant, target: Path) -> Path:
    """``notebook_path`` with the mutant's cell replaced, written to ``target``."""
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.cells[mutant.cell].source = mutant.source
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target
