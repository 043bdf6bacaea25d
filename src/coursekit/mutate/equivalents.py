"""Equivalent mutants a person marked: ``reference/<id>/equivalent-mutants.yaml``.

A mutant that behaves exactly like the reference (``x.copy()`` -> ``x`` where nothing writes to
``x``) cannot be killed by any test; it is listed with the reason and left out of the kill rate's
denominator. Each entry: ``id`` (as ``course mutate`` prints it), ``part``, ``diff`` (so a reader
sees the change without re-running) and ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

FILE_NAME = "equivalent-mutants.yaml"


class EquivalentsError(Exception):
    """The equivalent-mutants file is malformed."""


@dataclass(frozen=True)
class Equivalent:
    id: str
    part: str
    reason: str
    diff: str


def load_equivalents(path: Path) -> dict[str, Equivalent]:
    """Entries by mutant id; an absent file means none were marked."""
    if not path.is_file():
        return {}
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise EquivalentsError(f"{path}: not valid YAML ({exc}); fix the file or delete it") from None
    if not isinstance(entries, list):
        raise EquivalentsError(f"{path}: must be a list of entries with id, part, diff and reason")
    marked: dict[str, Equivalent] = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not all(str(entry.get(key) or "").strip() for key in ("id", "part", "reason")):
            raise EquivalentsError(f"{path}: entry {number} needs id, part and a non-empty reason "
                                   "(why no correct test can tell it from the reference)")
        marked[str(entry["id"])] = Equivalent(id=str(entry["id"]), part=str(entry["part"]),
                                              reason=str(entry["reason"]).strip(), diff=str(entry.get("diff", "")))
    return marked
