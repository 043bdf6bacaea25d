"""Where a milestone's suite stands after triage: ``course mutate <id> --summary [--survivors]``.

A suite is measured in several runs: a full run (often in chunks or per part), then re-checks of
its survivors with ``--mutant`` after a test was strengthened, and meanwhile some mutants are marked
equivalent. No single report.json tells the current kill rate, so this module reads them all:

- every ``report.json`` under the runs' folder, plus every ``progress.jsonl`` (one line per graded
  mutant) whose run has no report.json or was written after it: a run that was interrupted or is
  still going has graded mutants worth counting;
- for a mutant graded several times, the NEWEST file (mtime) wins: a re-check after a test was
  strengthened supersedes the full run that saw it survive (and an older sample's verdict);
- grader errors are ignored (a failed measurement is neither a kill nor a survival);
- mutants now listed in ``equivalent-mutants.yaml`` are counted as equivalent, not graded, even if
  a report graded them before they were marked.

Pure functions on files and dicts; nothing here grades or imports the grader.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Statuses as report.json writes them (runner.KILLED, runner.SURVIVED), spelt out so that reading
# reports does not import the grader; any other status (grader-error) is a failed measurement.
KILLED, SURVIVED = "killed", "survived"
GRADED = (KILLED, SURVIVED)
COLUMNS = ("graded", KILLED, SURVIVED, "equivalent")


@dataclass(frozen=True)
class Latest:
    """The newest verdict per mutant id (a report.json / progress.jsonl entry), the files read, and the
    mutants a run skipped because they were marked equivalent then (id -> part; never graded, so only a
    report's ``equivalent`` list knows their part)."""
    files: list[Path]
    outcomes: dict[str, dict] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def run_files(base: Path) -> list[Path]:
    """Every report.json under ``base`` and each progress.jsonl newer than its run's report.json
    (or without one), oldest first, so that a later file's verdict overrides an earlier one's."""
    reports = sorted(base.rglob("report.json"))
    progress = [p for p in sorted(base.rglob("progress.jsonl"))
                if not (p.parent / "report.json").exists()
                or p.stat().st_mtime > (p.parent / "report.json").stat().st_mtime]
    return sorted(reports + progress, key=lambda p: p.stat().st_mtime)  # stable: ties keep path order


def _read(path: Path) -> tuple[list[dict], list[dict]]:
    """(graded entries, entries a run skipped as equivalent) of one report.json or progress.jsonl."""
    if path.suffix == ".jsonl":
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # blank, or the last line of a run killed while writing it
        return entries, []
    report = json.loads(path.read_text(encoding="utf-8"))
    return list(report["mutants"]), list(report.get("equivalent", []))


def latest_outcomes(base: Path) -> Latest:
    """Newest killed/survived verdict per mutant id over every run under ``base``."""
    files = run_files(base)
    outcomes: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for path in files:
        entries, marked = _read(path)  # one read per file
        outcomes.update({e["id"]: e for e in entries if e.get("status") in GRADED})
        skipped.update({e["id"]: e["part"] for e in marked})
    return Latest(files=files, outcomes=outcomes, skipped=skipped)


def part_rows(outcomes: Iterable[dict], equivalent: Collection[str],
              skipped: dict[str, str] | None = None) -> dict[str, dict[str, int]]:
    """Per part (sorted): graded, killed, survived and equivalent counts; equivalents are not graded.
    ``skipped`` (id -> part): mutants a run left out as equivalent; those still marked are counted too."""
    parts: dict[str, dict[str, int]] = {}
    outcomes = list(outcomes)
    graded_ids = {entry["id"] for entry in outcomes}
    for mutant_id, part in (skipped or {}).items():
        if mutant_id in equivalent and mutant_id not in graded_ids:
            parts.setdefault(part, dict.fromkeys(COLUMNS, 0))["equivalent"] += 1
    for entry in outcomes:
        row = parts.setdefault(entry["part"], dict.fromkeys(COLUMNS, 0))
        if entry["id"] in equivalent:
            row["equivalent"] += 1
            continue
        row["graded"] += 1
        row[entry["status"]] += 1
    return dict(sorted(parts.items()))


def _rate(row: dict[str, int]) -> str:
    return f"{100 * row[KILLED] / row['graded']:.1f}%" if row["graded"] else "—"


def render_table(latest: Latest, equivalent: Collection[str]) -> str:
    """The markdown table per part, an ``**all**`` row, and how many files and mutants it rests on."""
    rows = part_rows(latest.outcomes.values(), equivalent, latest.skipped)
    total = {column: sum(row[column] for row in rows.values()) for column in COLUMNS}
    lines = ["| part | graded | killed | survived | equivalent | kill rate |", "|---|---:|---:|---:|---:|---:|"]
    for part, row in [*rows.items(), ("**all**", total)]:
        lines.append(f"| {part} | {row['graded']} | {row[KILLED]} | {row[SURVIVED]} | {row['equivalent']} "
                     f"| {_rate(row)} |")
    lines += ["", f"({len(latest.files)} report(s) read; {len(latest.outcomes)} distinct mutants graded)"]
    return "\n".join(lines)


def survivors(latest: Latest, equivalent: Collection[str]) -> list[dict]:
    """Mutants whose newest verdict is survived and that are not marked equivalent, by part then id."""
    return sorted((e for e in latest.outcomes.values() if e["status"] == SURVIVED and e["id"] not in equivalent),
                  key=lambda e: (e["part"], e["id"]))
