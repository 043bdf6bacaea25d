"""``course gather``: merge the shards of a cluster run into one results folder.

Each pod of the Indexed Job wrote ``DIR/shards/<index>/`` with ``course grade --out``:
``<student>/results.json`` (+ feedback) and a ``summary.json`` for its share. Gathering moves
every ``<student>/`` up to ``DIR/<student>/``, writes ``DIR/summary.json`` for the whole batch
with the engine's summary writer (nothing is re-scored here), and records the batch in the
review store (``DIR/gradebook.sqlite`` + ``DIR/gradebook.csv``), so
DIR looks exactly like the output of one local ``course grade --out DIR``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

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


def _check_finished(shard: Path, milestone_id: str) -> None:
    """A pod writes summary.json last: without it (and with results) the shard is incomplete."""
    path = shard / "summary.json"
    if not path.is_file():
        if any(shard.iterdir()):
            raise GatherError(f"{path} is missing; shard {shard.name} did not finish: re-run its pod "
                              f"(kubectl delete the failed pod, or re-apply the Job)")
        return  # an empty share writes nothing
    summary = json.loads(path.read_text(encoding="utf-8"))
    if summary.get("milestone") != milestone_id:
        raise GatherError(f"{path} is for {summary.get('milestone')!r}, not {milestone_id!r}; "
                          f"gather each milestone's results separately")


def _move_students(shard: Path, out_dir: Path) -> int:
    """Move every graded ``<student>/`` of a shard up to ``out_dir``; returns how many moved."""
    moved = 0
    for source in sorted(p for p in shard.iterdir() if (p / "results.json").is_file()):
        target = out_dir / source.name
        if target.exists():
            raise GatherError(f"{source.name} was graded twice ({target} and {source}); every submission "
                              f"must be in exactly one shard: re-run the batch as one Job")
        shutil.move(str(source), str(target))
        moved += 1
    return moved


def gather(out_dir: Path, milestone_id: str, course_file: Path) -> Gathered:
    """Merge ``out_dir/shards/*`` into ``out_dir`` and record the batch; idempotent.

    The summary comes from the engine's own writer over the merged folder and the gradebook
    from the review store, exactly as after a local ``course grade``.
    """
    from coursekit.grading.batch import write_summary
    from coursekit.review.ingest import record_batch

    course = load_course(course_file, check_files=False)
    milestone = course.milestone(milestone_id, error=GatherError)
    shards = _shard_dirs(out_dir)
    for shard in shards:
        _check_finished(shard, milestone_id)
    for shard in shards:
        _move_students(shard, out_dir)
    summary = write_summary(out_dir, milestone_id)
    record_batch(out_dir=out_dir, course=course, milestone=milestone)
    errors = sum(1 for entry in summary["submissions"] if entry.get("status") != "ok")
    return Gathered(submissions=len(summary["submissions"]), shards=len(shards), errors=errors)
