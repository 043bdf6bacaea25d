"""Per-submission control groups: memory, process count and a CPU share (trusted side).

A worker runs in ``coursekit/g<grader pid>-<start time>/s<slot>`` under the cgroup root, created
before it starts and joined by the launcher before any student code exists, so everything the
student forks is counted, limited and killed together. Both hierarchies are supported:

- v2 (``/sys/fs/cgroup/cgroup.controllers`` exists): one tree, ``memory.max``, ``pids.max``,
  ``cpu.max``, ``cgroup.kill``;
- v1 (one tree per controller): ``memory.limit_in_bytes``, ``pids.max``, ``cpu.cfs_quota_us``;
  killing freezes the group (freezer controller, when mounted), SIGKILLs every member and thaws.

The grader's pid and start time in the group's name let any later batch tell a dead grader's
leftovers from a live one's groups (``sweep``).
"""

from __future__ import annotations

import os
import signal
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
KIT = "coursekit"
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
CPU_PERIOD_US = 100_000
OPTIONAL = ("memory.swap.max", "memory.memsw.limit_in_bytes")  # absent where swap is not accounted


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def grader_name(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"g{pid}-{_start_time(pid)}"


def _grader_alive(name: str) -> bool:
    try:
        pid_text, start = name[1:].split("-", 1)
        return _start_time(int(pid_text)) == start
    except ValueError:
        return False


@lru_cache(maxsize=1)
def version() -> str | None:
    """"v2", "v1" or None (no cgroup filesystem we could use)."""
    if (ROOT / "cgroup.controllers").is_file():
        return "v2"
    if (ROOT / "memory").is_dir() or (ROOT / "pids").is_dir():
        return "v1"
    return None


def _v1_roots() -> dict[str, Path]:
    return {c: ROOT / c for c in V1_CONTROLLERS if (ROOT / c).is_dir()}


def writable_controllers() -> list[str]:
    """Controllers under which this process may create the kit's groups."""
    kind = version()
    if kind == "v2":
        available = (ROOT / "cgroup.controllers").read_text().split()
        if not os.access(ROOT / "cgroup.subtree_control", os.W_OK):
            return []
        return [c for c in ("memory", "pids", "cpu") if c in available]
    if kind == "v1":
        return [c for c, path in _v1_roots().items() if os.access(path, os.W_OK)]
    return []


def missing_controllers() -> list[str]:
    """What the full sandbox needs and this host cannot give (empty when cgroups are complete)."""
    have = set(writable_controllers())
    return [c for c in ("memory", "pids", "cpu") if c not in have]


def _write(path: Path, value: str) -> None:
    with open(path, "w") as stream:
        stream.write(value)


class Group:
    """One per-submission group across the controllers (v1) or in the one tree (v2)."""

    def __init__(self, relative: str, *, memory_mb: int, processes: int, cpu_cores: float) -> None:
        self.kind = version()
        self.relative = relative
        if self.kind == "v2":
            self.dirs = {"unified": ROOT / relative}
            self._create_v2()
        else:
            self.dirs = {c: root / relative for c, root in _v1_roots().items()}
            for path in self.dirs.values():
                path.mkdir(parents=True, exist_ok=True)
        try:
            self._limit(memory_mb, processes, cpu_cores)
        except OSError:
            self.remove()
            raise

    def _create_v2(self) -> None:
        enable = " ".join(f"+{c}" for c in ("memory", "pids", "cpu"))
        current = ROOT
        for part in Path(self.relative).parts:  # controllers must be enabled on every ancestor
            try:
                _write(current / "cgroup.subtree_control", enable)
            except OSError:
                pass  # already enabled, or given by the host: the limits below say if not
            current = current / part
            current.mkdir(exist_ok=True)

    def _file(self, controller: str, name: str) -> Path | None:
        directory = self.dirs.get("unified" if self.kind == "v2" else controller)
        return directory / name if directory else None

    def _limit(self, memory_mb: int, processes: int, cpu_cores: float) -> None:
        quota = max(1000, int(CPU_PERIOD_US * cpu_cores))
        if self.kind == "v2":
            values = {("memory", "memory.max"): str(memory_mb * 1024 * 1024),
                      ("memory", "memory.swap.max"): "0",
                      ("pids", "pids.max"): str(processes),
                      ("cpu", "cpu.max"): f"{quota} {CPU_PERIOD_US}"}
        else:
            values = {("memory", "memory.limit_in_bytes"): str(memory_mb * 1024 * 1024),
                      ("memory", "memory.memsw.limit_in_bytes"): str(memory_mb * 1024 * 1024),  # no swap beyond
                      ("pids", "pids.max"): str(processes),
                      ("cpu", "cpu.cfs_period_us"): str(CPU_PERIOD_US),
                      ("cpu", "cpu.cfs_quota_us"): str(quota)}
        for (controller, name), value in values.items():
            path = self._file(controller, name)
            if name in OPTIONAL and (path is None or not path.exists()):
                continue  # no swap accounting on this host: nothing to forbid
            if path is None or not path.exists():
                # e.g. v2 controllers not enabled on an ancestor: a group without its limits is no group
                raise OSError(f"cgroup {self.relative}: {name} is missing")
            _write(path, value)

    def procs_files(self) -> list[str]:
        """Where the launcher writes its own pid to join (every hierarchy)."""
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            try:
                found.update(int(line) for line in (path / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return sorted(found)

    def peak_memory_mb(self) -> float | None:
        path = self._file("memory", "memory.peak" if self.kind == "v2" else "memory.max_usage_in_bytes")
        try:
            return int(path.read_text()) / (1024 * 1024) if path else None
        except (OSError, ValueError):
            return None

    def reset_peak(self) -> None:
        path = self._file("memory", "memory.peak" if self.kind == "v2" else "memory.max_usage_in_bytes")
        try:
            if path:
                _write(path, "0")  # v1 always; v2 only on kernels >= 6.12
        except OSError:
            pass

    def kill(self) -> None:
        """Kill every member, forks included; returns once the group is empty (or after ~5 s)."""
        kill_group(self.dirs)

    def remove(self) -> None:
        self.kill()
        for path in self.dirs.values():
            for folder in (path, path.parent):  # the grader's folder goes with its last slot
                try:
                    folder.rmdir()
                except OSError:
                    break


def kill_group(dirs: dict[str, Path]) -> None:
    unified = dirs.get("unified")
    if unified is not None and (unified / "cgroup.kill").exists():
        try:
            _write(unified / "cgroup.kill", "1")
        except OSError:
            pass
    freezer = dirs.get("freezer")
    for _ in range(250):
        members: set[int] = set()
        for path in dirs.values():
            try:
                members.update(int(line) for line in (path / "cgroup.procs").read_text().split())
            except OSError:
                continue
        if not members:
            return
        # Frozen members cannot fork between our reading the list and killing it.
        _freeze(freezer, "FROZEN")
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _freeze(freezer, "THAWED")  # SIGKILL is delivered once the task runs again
        time.sleep(0.02)


def _freeze(freezer: Path | None, state: str) -> None:
    if freezer is None:
        return
    try:
        _write(freezer / "freezer.state", state)
    except OSError:
        pass


def _kit_roots() -> list[Path]:
    if version() == "v2":
        return [ROOT / KIT]
    return [root / KIT for root in _v1_roots().values()]


def sweep(*, everything: bool = False) -> int:
    """Kill and remove the groups of graders that are gone (or all groups); how many were removed."""
    removed = 0
    names: set[str] = set()
    for root in _kit_roots():
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("g"))
    for name in sorted(names):
        if not everything and _grader_alive(name):
            continue
        grader_dirs = [root / name for root in _kit_roots() if (root / name).is_dir()]
        slots = {p.name for d in grader_dirs for p in d.iterdir() if p.is_dir()}
        for slot in slots:
            dirs = {("unified" if version() == "v2" else d.parent.parent.name): d / slot
                    for d in grader_dirs if (d / slot).is_dir()}
            kill_group(dirs)
            for path in dirs.values():
                try:
                    path.rmdir()
                except OSError:
                    pass
        for path in grader_dirs:
            try:
                path.rmdir()
                removed += 1
            except OSError:
                pass
    return removed


@lru_cache(maxsize=1)
def usable() -> bool:
    """Whether a group with all three limits can really be made here (probed once per process)."""
    if missing_controllers():
        return False
    try:
        probe = Group(f"{KIT}/{grader_name()}/probe", memory_mb=64, processes=4, cpu_cores=1)
    except OSError:
        return False
    probe.remove()
    return True


def create(slot: int, *, memory_mb: int, processes: int, cpu_cores: float) -> Group | None:
    """This grader's group for ``slot``, or None where cgroups cannot be used here."""
    if missing_controllers():
        return None
    try:
        return Group(f"{KIT}/{grader_name()}/s{slot}", memory_mb=memory_mb, processes=processes,
                     cpu_cores=cpu_cores)
    except OSError:
        return None
