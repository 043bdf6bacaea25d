"""Slot identities: one unprivileged uid per live worker (trusted side).

A slot is ``SLOT_UID_BASE + n``, claimed with a file lock so parallel graders never share one.
A dedicated uid makes the per-uid process limit per worker and lets us kill every process the
student started, even one that escaped its process group, with one ``kill(-1)`` as that uid.
A slot whose uid still owns a process is never handed out (a survivor of a crashed grader would
otherwise share an identity with the next student).
"""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
import time
from pathlib import Path

SLOT_UID_BASE = 61000
SLOT_COUNT = 512
SLOT_DIR = Path(tempfile.gettempdir()) / "coursekit-slots"


def _zombie(pid: str) -> bool:
    """A zombie has exited: it runs nothing and holds nothing but its pid until its parent reaps it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True  # gone already


def _pids_of_uid(uid: int) -> list[int]:
    """Live processes of ``uid`` (zombies are not counted: waiting for their parents to reap them cost
    about a second per submission, and they cannot run code)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and not _zombie(entry):
                    pids.append(int(entry))
            except FileNotFoundError:
                continue
    return pids


def kill_uid(uid: int) -> bool:
    """Kill every process owned by ``uid`` (forks included); True when none is left."""
    if os.geteuid() != 0:
        return not _pids_of_uid(uid)
    for _ in range(50):
        if not _pids_of_uid(uid):
            return True
        pid = os.fork()
        if pid == 0:  # child: as the student's uid, signal everything that uid owns
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)
    return not _pids_of_uid(uid)


IPC_RMID = 0


def remove_ipc(uid: int) -> int:
    """Remove the SysV shared memory, queues and semaphores ``uid`` owns; how many were removed.

    Without an IPC namespace (degraded mode) they would outlive the worker and reach the next one.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    # /proc/sysvipc/<kind>: the id is the second column; the owner uid's column differs per kind.
    kinds = {"shm": (7, lambda i: libc.shmctl(i, IPC_RMID, None)),
             "msg": (7, lambda i: libc.msgctl(i, IPC_RMID, None)),
             "sem": (4, lambda i: libc.semctl(i, 0, IPC_RMID))}
    removed = 0
    for kind, (uid_column, remove) in kinds.items():
        try:
            rows = [line.split() for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]]
        except OSError:
            continue
        for row in rows:
            if len(row) > uid_column and int(row[uid_column]) == uid and remove(int(row[1])) == 0:
                removed += 1
    return removed


def _open_slot_dir() -> None:
    SLOT_DIR.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(SLOT_DIR, 0o700)


class Slot:
    """An exclusive uid for one worker, held through a file lock."""

    def __init__(self) -> None:
        _open_slot_dir()
        for index in range(SLOT_COUNT):
            handle = open(SLOT_DIR / f"{index}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            # Free lock but live processes: leftovers of a grader that died; clear them or skip.
            if not kill_uid(SLOT_UID_BASE + index):
                handle.close()
                continue
            self.index, self.uid, self._handle = index, SLOT_UID_BASE + index, handle
            return
        raise RuntimeError(f"all {SLOT_COUNT} grading slots are busy")

    def release(self) -> None:
        kill_uid(self.uid)
        if os.geteuid() == 0:
            remove_ipc(self.uid)
        self._handle.close()


def _slot_uids_alive() -> set[int]:
    uids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except FileNotFoundError:
                continue
            if SLOT_UID_BASE <= uid < SLOT_UID_BASE + SLOT_COUNT:
                uids.add(uid)
    return uids


def _slot_uids_with_ipc() -> set[int]:
    uids = set()
    for kind, column in (("shm", 7), ("msg", 7), ("sem", 4)):
        try:
            rows = [line.split() for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]]
        except OSError:
            continue
        uids.update(int(row[column]) for row in rows if len(row) > column
                    and SLOT_UID_BASE <= int(row[column]) < SLOT_UID_BASE + SLOT_COUNT)
    return uids


def sweep_free_slots() -> int:
    """Kill processes of every slot nobody holds (leftovers of crashed graders); how many uids were cleared."""
    if os.geteuid() != 0:
        return 0
    _open_slot_dir()
    cleared = 0
    for uid in sorted(_slot_uids_alive() | _slot_uids_with_ipc()):
        with open(SLOT_DIR / f"{uid - SLOT_UID_BASE}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # held by a live grader: that is its own worker
            kill_uid(uid)
            remove_ipc(uid)
            cleared += 1
    return cleared
