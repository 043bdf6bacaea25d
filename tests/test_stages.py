"""Pruning the shared worker-code stages (grading/stages.py): old unused ones go, held ones never do."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from coursekit.grading import bwrap, stages

DAY = 24 * 3600


@pytest.fixture(autouse=True)
def released() -> Iterator[None]:
    """Each test starts and ends holding nothing (a real grader holds its stage until it exits)."""
    yield
    for fd in stages._held.values():
        os.close(fd)
    stages._held.clear()
    bwrap.stage.cache_clear()


def _stage(root: Path, name: str, *, last_used: float) -> Path:
    folder = root / name
    (folder / "src").mkdir(parents=True)
    (folder / stages.LOCK_NAME).touch()
    os.utime(folder / stages.LOCK_NAME, (last_used, last_used))
    return folder


def test_prunes_only_stages_unused_for_a_day_and_held_by_nobody(tmp_path: Path) -> None:
    now = time.time()
    current = _stage(tmp_path, "current", last_used=now - 3 * DAY)  # ours: never, whatever its age
    old = _stage(tmp_path, "old", last_used=now - 2 * DAY)
    recent = _stage(tmp_path, "recent", last_used=now - 3600)
    busy = _stage(tmp_path, "busy", last_used=now - 2 * DAY)
    dead_build = tmp_path / ".building-x"
    dead_build.mkdir()
    os.utime(dead_build, (now - 2 * DAY, now - 2 * DAY))
    grader = os.open(busy / stages.LOCK_NAME, os.O_RDONLY)  # another grader's hold (its own open file)
    fcntl.flock(grader, fcntl.LOCK_SH)
    try:
        assert stages.prune(tmp_path, keep=current, now=now) == [".building-x", "old"]
    finally:
        os.close(grader)
    assert current.is_dir() and recent.is_dir() and busy.is_dir()
    assert not old.exists() and not dead_build.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "current", "recent"]  # no .pruning- left
    assert stages.prune(tmp_path, keep=current, now=now) == ["busy"]  # released: now it goes


def test_holding_marks_the_stage_used_and_keeps_it(tmp_path: Path) -> None:
    now = time.time()
    stage = _stage(tmp_path, "stage", last_used=now - 2 * DAY)
    assert stages.hold(stage)
    assert os.stat(stage / stages.LOCK_NAME).st_mtime > now - 60  # last use is now
    assert stages.prune(tmp_path, keep=tmp_path / "other", now=now + 2 * DAY) == []  # held: kept even when old


def test_a_stage_pruned_while_a_grader_looks_it_up_is_not_held(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: the grader found the stage, then the pruner removed it before the grader's lock."""
    stage = _stage(tmp_path, "stage", last_used=time.time() - 2 * DAY)
    real_flock = fcntl.flock

    def pruned_first(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_SH:
            monkeypatch.setattr(stages.fcntl, "flock", real_flock)
            assert stages.prune(tmp_path, keep=tmp_path / "other") == ["stage"]
        real_flock(fd, operation)

    monkeypatch.setattr(stages.fcntl, "flock", pruned_first)
    assert not stages.hold(stage)  # the caller builds it again
    assert not stage.exists() and stages._held == {}


def test_stage_builds_holds_and_prunes_old_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap, "STAGE_ROOT", tmp_path / "stage-root")
    first = bwrap.stage()
    assert (first / "src" / "coursekit" / "grading" / "worker.py").is_file() and first in stages._held
    old = _stage(first.parent, "0" * 20, last_used=time.time() - 2 * DAY)
    # a later grader process: the old version goes, the current one (held) is reused as it is
    bwrap.stage.cache_clear()
    assert bwrap.stage() == first and not old.exists()
    # a grader that finds its stage pruned (it was unused for a day) builds it again
    for fd in stages._held.values():
        os.close(fd)
    stages._held.clear()
    os.utime(first / stages.LOCK_NAME, (time.time() - 2 * DAY,) * 2)
    assert stages.prune(first.parent, keep=first.parent / "none") == [first.name]
    bwrap.stage.cache_clear()
    assert bwrap.stage() == first and (first / "src").is_dir()
