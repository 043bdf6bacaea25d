"""The shared worker-code stages under /tmp/coursekit-stage: held while in use, pruned a day after.

``bwrap.stage`` publishes one stage per version of the worker's code and every grader of that
version reuses it, but nothing ever removed an old version: a checkout that changes often (a
course team editing the kit, CI on a long-lived runner) gathers one folder per commit for good.

A stage is pruned only when no running grader uses it, without racing one that is about to:
- a grader *holds* its stage for as long as it lives: a shared ``flock`` on the stage's lock file,
  kept open (forked graders inherit it), and the file's mtime set to now (its last use);
- the pruner removes a stage whose lock file is older than :data:`MAX_AGE_SECONDS` and only while
  it holds an *exclusive* lock taken without waiting (so never one a grader holds): it renames the
  stage away first (a grader looking it up from then on builds a fresh one) and deletes it;
- a grader that looked a stage up just before the rename takes its lock after it, then finds the
  path no longer names the file it locked, and builds the stage again (``hold`` returns False).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

LOCK_NAME = "in-use"  # beside src/ and mnt/; only src/ and mnt/<i> are ever bound into a sandbox
MAX_AGE_SECONDS = 24 * 3600
LEFTOVER_PREFIXES = (".building-", ".pruning-")  # a build or a prune that died half-way
_held: dict[Path, int] = {}  # stage -> the open lock descriptor, for the life of the process


def _same_file(path: Path, fd: int) -> bool:
    try:
        here, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def hold(stage: Path) -> bool:
    """Hold ``stage`` for this process's life (idempotent); False when it was pruned meanwhile."""
    if stage in _held:
        return True
    lock = stage / LOCK_NAME
    try:  # O_CREAT: a stage published before stages had lock files gets one
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:  # the stage folder itself is gone
        return False
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a pruner holds it, then the path is checked again
    if not _same_file(lock, fd):
        os.close(fd)
        return False
    os.utime(fd)  # last use: the pruner's age counts from here
    _held[stage] = fd
    return True


def _remove(root: Path, entry: Path) -> None:
    gone = root / f".pruning-{entry.name}-{os.getpid()}"
    os.rename(entry, gone)  # atomic: from now on the stage's name is free for a fresh build
    shutil.rmtree(gone, ignore_errors=True)


def prune(root: Path, *, keep: Path, max_age: float = MAX_AGE_SECONDS, now: float | None = None) -> list[str]:
    """Remove the stages in ``root`` unused for ``max_age`` seconds and held by no grader; their names."""
    now = time.time() if now is None else now
    removed = []
    for entry in sorted(root.iterdir()):
        if entry == keep or entry.is_symlink() or not entry.is_dir():
            continue
        if entry.name.startswith(LEFTOVER_PREFIXES):  # no grader holds these: age alone decides
            if now - entry.lstat().st_mtime > max_age:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
            continue
        try:
            fd = os.open(entry / LOCK_NAME, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:  # vanished, or not a stage we can lock: leave it
            continue
        try:
            if now - os.fstat(fd).st_mtime <= max_age:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a running grader holds it
                continue
            if _same_file(entry / LOCK_NAME, fd):  # still the stage we locked, not one rebuilt since
                _remove(root, entry)
                removed.append(entry.name)
        finally:
            os.close(fd)
    return removed
