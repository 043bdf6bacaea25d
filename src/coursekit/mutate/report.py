"""The mutation report: kill rate per part, survivors as diffs, equivalents with their reasons.

The kill rate of a part is killed / (graded mutants of that part); mutants a person marked as
equivalent are listed but never graded nor counted, and mutants that do not compile are counted
apart (the grader would reject them for a reason that says nothing about the tests), and so are grader
errors (a failed measurement, not a kill; see runner.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from coursekit.mutate.equivalents import Equivalent
from coursekit.mutate.generate import GeneratedMutant
from coursekit.mutate.runner import ERROR, KILLED, SURVIVED, Outcome


def build_report(*, milestone_id: str, outcomes: list[Outcome], equivalents: list[tuple[GeneratedMutant, Equivalent]],
                 not_compiling: list[GeneratedMutant], generated: int, sample: int | None, seed: int,
                 stale_equivalents: list[Equivalent]) -> dict:
    parts: dict[str, dict] = {}

    def row(part: str) -> dict:
        return parts.setdefault(part, {"graded": 0, KILLED: 0, SURVIVED: 0, ERROR: 0, "equivalent": 0,
                                       "not_compiling": 0, "kill_rate": None})

    for outcome in outcomes:
        entry = row(outcome.mutant.part)
        entry["graded"] += 1
        entry[outcome.status] += 1
    for mutant, _ in equivalents:
        row(mutant.part)["equivalent"] += 1
    for mutant in not_compiling:
        row(mutant.part)["not_compiling"] += 1
    for entry in parts.values():
        measured = entry[KILLED] + entry[SURVIVED]
        if measured:
            entry["kill_rate"] = round(entry[KILLED] / measured, 4)
    graded = sum(o.status != ERROR for o in outcomes)
    killed = sum(o.status == KILLED for o in outcomes)
    return {
        "milestone": milestone_id, "generated": generated, "sample": sample, "seed": seed,
        "graded": graded, "killed": killed, "grader_errors": len(outcomes) - graded,
        "kill_rate": round(killed / graded, 4) if graded else None,
        "parts": dict(sorted(parts.items())),
        "mutants": [outcome_entry(o) for o in outcomes],
        "equivalent": [{"id": m.id, "part": m.part, "operator": m.operator, "reason": e.reason, "diff": m.diff}
                       for m, e in equivalents],
        "not_compiling": [{"id": m.id, "part": m.part, "operator": m.operator, "diff": m.diff} for m in not_compiling],
        "stale_equivalents": [asdict(e) for e in stale_equivalents],
    }


def outcome_entry(o: Outcome) -> dict:
    """One graded mutant as report.json lists it (and progress.jsonl, line by line, while a run goes)."""
    return {"id": o.mutant.id, "part": o.mutant.part, "operator": o.mutant.operator, "status": o.status,
            "score": o.score, "max_score": o.max_score, "seconds": round(o.seconds, 1),
            "detail": o.detail, "diff": o.mutant.diff}


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def render_markdown(report: dict) -> str:
    lines = [f"# Mutation report: {report['milestone']}", "",
             f"{report['generated']} mutants generated"
             + (f", a sample of {report['sample']} (seed {report['seed']}) graded" if report["sample"] else ", all graded")
             + f" through the sandboxed grader: {report['killed']}/{report['graded']} killed "
             f"({_rate(report['kill_rate'])})"
             + (f"; {report['grader_errors']} grader errors (not counted, see below)." if report["grader_errors"] else ".")
             + " Kill rate = killed / (killed + survived).", "",
             "| part | graded | killed | grader error | survived | kill rate | equivalent | not compiling |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for part, p in report["parts"].items():
        lines.append(f"| {part} | {p['graded']} | {p[KILLED]} | {p[ERROR]} | {p[SURVIVED]} | {_rate(p['kill_rate'])} "
                     f"| {p['equivalent']} | {p['not_compiling']} |")
    survivors = [m for m in report["mutants"] if m["status"] == SURVIVED]
    lines += ["", f"## Surviving mutants ({len(survivors)})", ""]
    for m in survivors:
        lines += [f"### {m['part']} `{m['id']}`: {m['operator']}", "", "```diff", m["diff"].rstrip(), "```", ""]
    errors = [m for m in report["mutants"] if m["status"] == ERROR]
    if errors:
        lines += [f"## Grader errors, not counted ({len(errors)})", ""]
        lines += [f"- {m['part']} `{m['id']}` ({m['operator']}): {m['detail']}" for m in errors] + [""]
    if report["equivalent"]:
        lines += [f"## Equivalent mutants, not counted ({len(report['equivalent'])})", ""]
        for m in report["equivalent"]:
            lines += [f"- {m['part']} `{m['id']}` ({m['operator']}): {m['reason']}"]
        lines.append("")
    if report["stale_equivalents"]:
        lines += ["## Stale equivalent entries (no such mutant any more: update the file)", ""]
        lines += [f"- `{e['id']}` ({e['part']}): {e['reason']}" for e in report["stale_equivalents"]] + [""]
    return "\n".join(lines)


def write_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
