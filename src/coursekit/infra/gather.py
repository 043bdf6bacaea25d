"""``course gather``: merge the shards of a cluster run into one results folder.

Each pod of the Indexed Job wrote ``DIR/shards/<index>/`` with ``course grade --out``:
``<student>/results.json`` (+ feedback) and a ``summary.json`` for its share. Gathering moves
every ``<student>/`` up to ``DIR/<student>/``, writes ``DIR/summary.json`` for the whole batch
from the shards' summaries (the engine computed every entry; nothing is re-scored here), and
records the batch in the review store (``DIR/gradebook.sqlite`` + ``DIR/gradebook.csv``), so
DIR looks exactly like the output of one local ``course grade --out DIR``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursekit.config.loader import load_course


class GatherError(Exception):
    """The shards cannot be merged; one line saying what to fix."""


@dataclass(frozen=True)
class Gathered:
    submissions: int
    shards: int
    errors: int


def _shard_dirs(out_dir: Path) -> list[Path]:
    root = out_dir / "shards"
    if not root.is_dir():
        raise GatherError(f"{out_dir}: no shards/ folder; pass the results folder copied back from the cluster "
                          f"(it holds shards/<index>/)")
    shards = sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not shards:
        raise GatherError(f"{root}: no shard folders (0, 1, ...); did the Job's pods run?")
    return shards


def _summary(shard: Path, milestone_id: str) -> dict[str, Any]:
    path = shard / "summary.json"
    if not path.is_file():
        if any(shard.iterdir()):
            raise GatherError(f"{path} is missing; shard {shard.name} did not finish: re-run its pod "
                              f"(kubectl delete the failed pod, or re-apply the Job)")
        return {"milestone": milestone_id, "submissions": []}  # an empty share writes nothing
    summary = json.loads(path.read_text(encoding="utf-8"))
    if summary.get("milestone") != milestone_id:
        raise GatherError(f"{path} is for {summary.get('milestone')!r}, not {milestone_id!r}; "
                          f"gather each milestone's results separately")
    return summary


def _move_students(shard: Path, out_dir: Path, summary: dict[str, Any]) -> None:
    for entry in summary.get("submissions", []):
        student = entry["student"]
        source, target = shard / student, out_dir / student
        if source.is_dir():
            if target.exists():
                raise GatherError(f"{student} appears twice ({target} and {source}); "
                                  f"every submission must be in exactly one shard")
            shutil.move(str(source), str(target))
        elif not (target / "results.json").is_file():
            raise GatherError(f"{source} is missing although shard {shard.name}'s summary lists {student}")


def merge_summaries(summaries: list[dict[str, Any]], milestone_id: str) -> dict[str, Any]:
    """One summary for the batch: the shards' entries, sorted by student, checked for duplicates."""
    entries = [entry for summary in summaries for entry in summary.get("submissions", [])]
    students = [entry["student"] for entry in entries]
    duplicates = sorted({s for s in students if students.count(s) > 1})
    if duplicates:
        raise GatherError(f"{duplicates[0]} was graded in two shards; re-run the batch with one Job")
    max_scores = {summary["max_score"] for summary in summaries if "max_score" in summary}
    if len(max_scores) > 1:
        raise GatherError(f"shards disagree on the maximum score ({sorted(max_scores)}); they ran different "
                          f"versions of course.yaml: rebuild the image and re-run")
    stamps = [summary["graded_at"] for summary in summaries if summary.get("graded_at")]
    merged: dict[str, Any] = {"milestone": milestone_id, "graded_at": max(stamps) if stamps else None,
                              "max_score": max_scores.pop() if max_scores else None,
                              "submissions": sorted(entries, key=lambda entry: entry["student"])}
    extra_keys = {k for s in summaries for k in s} - set(merged)
    for key in sorted(extra_keys):  # engine fields this module does not know: keep the first shard's
        merged[key] = next(s[key] for s in summaries if key in s)
    return merged


def gather(out_dir: Path, milestone_id: str, course_file: Path) -> Gathered:
    """Merge ``out_dir/shards/*`` into ``out_dir`` and record the batch; idempotent."""
    course = load_course(course_file, check_files=False)
    try:
        milestone = course.milestone(milestone_id)
    except KeyError as exc:
        raise GatherError(exc.args[0]) from None
    shards = _shard_dirs(out_dir)
    summaries = [_summary(shard, milestone_id) for shard in shards]
    merged = merge_summaries(summaries, milestone_id)
    for shard, summary in zip(shards, summaries):
        _move_students(shard, out_dir, summary)
    tmp = out_dir / "summary.json.tmp"
    tmp.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out_dir / "summary.json")

    from coursekit.review.store import record_batch

    record_batch(out_dir=out_dir, course=course, milestone=milestone)
    errors = sum(1 for entry in merged["submissions"] if entry.get("status") != "ok")
    return Gathered(submissions=len(merged["submissions"]), shards=len(shards), errors=errors)
