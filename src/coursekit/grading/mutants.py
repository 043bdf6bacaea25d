"""Mutants: copies of a reference notebook with one part broken in a plausible way.

``tests/mutants/<id>.yaml`` lists them (see docs/AUTHORING.md). The kit's tests require each to
lose points on its part; ``make demo`` grades them as the partially-correct students of a class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml


class MutantError(Exception):
    """A mutant cannot be applied (its ``find`` text is missing or ambiguous)."""


@dataclass(frozen=True)
class Mutant:
    name: str
    part: str
    why: str
    replace: tuple[tuple[str, str], ...]


def load_mutants(path: Path) -> list[Mutant]:
    if not path.is_file():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    mutants = []
    for entry in entries:
        try:
            mutants.append(Mutant(name=entry["name"], part=entry["part"], why=entry.get("why", ""),
                                  replace=tuple((r["find"], r["with"]) for r in entry["replace"])))
        except (KeyError, TypeError) as exc:
            raise MutantError(f"{path}: each mutant needs name, part and replace[find, with] ({exc})") from None
    return mutants


def apply_mutant(source: Path, mutant: Mutant, target: Path) -> Path:
    """Write ``target``: ``source`` with each find/with substitution made exactly once."""
    notebook = nbformat.read(source, as_version=4)
    for find, replacement in mutant.replace:
        hits = [cell for cell in notebook.cells if cell.cell_type == "code" and find in cell.source]
        count = sum(cell.source.count(find) for cell in hits)
        if count != 1:
            raise MutantError(f"mutant {mutant.name}: {find!r} occurs {count} times in {source.name}'s code "
                              "cells; it must occur exactly once")
        hits[0].source = hits[0].source.replace(find, replacement)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target
