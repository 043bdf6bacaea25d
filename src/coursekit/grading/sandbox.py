"""Start, watch and kill a student's worker process (trusted side).

Each live worker gets a *slot*: a uid of its own (``SLOT_UID_BASE + n``), claimed with a file
lock so parallel graders never share one. A dedicated uid makes the process limit per worker
and lets us kill every process the student started with one ``kill(-1)`` as that uid.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SLOT_UID_BASE = 61000
SLOT_COUNT = 512
SLOT_DIR = Path(tempfile.gettempdir()) / "coursekit-slots"


@dataclass
class SandboxSpec:
    """What the worker may use and must not see."""

    memory_mb: int = 4096
    cpu_seconds: float = 600
    processes: int = 64
    file_mb: int = 64
    output_kb: int = 256
    device: str = "cpu"
    hide: list[str] = field(default_factory=list)   # folders replaced by an empty tmpfs
    keep: list[str] = field(default_factory=list)   # paths bind-mounted back read-only


@lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """Whether this process can create mount+network namespaces (root with CAP_SYS_ADMIN).

    Probed once per batch: the batch process passes its answer down in COURSEKIT_NAMESPACES.
    """
    if os.geteuid() != 0:
        return False
    if os.environ.get("COURSEKIT_NAMESPACES") in ("0", "1"):
        return os.environ["COURSEKIT_NAMESPACES"] == "1"
    # unshare alone is not enough: Docker's default AppArmor profile allows it but refuses mount().
    probe = ("import ctypes,sys,tempfile; l=ctypes.CDLL(None,use_errno=True); "
             "ok=l.unshare(0x00020000|0x40000000)==0 and l.mount(None,b'/',None,16384|(1<<18),None)==0; "
             "d=tempfile.mkdtemp(); "
             "ok=ok and l.mount(b'tmpfs',d.encode(),b'tmpfs',6,b'size=1m')==0; sys.exit(0 if ok else 1)")
    try:
        return subprocess.run([sys.executable, "-I", "-c", probe], timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def python_paths() -> list[str]:
    """Paths the worker's interpreter needs: prefixes, sys.path entries, the kit's packages."""
    import coursekit
    import coursekit_student

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(coursekit.__file__).resolve().parent.parent),
             str(Path(coursekit_student.__file__).resolve().parent.parent),
             str(Path(sys.executable).resolve().parent.parent)}
    # Installed packages only: a script's own folder (sys.path[0]) is not something to expose.
    paths.update(p for p in sys.path if p and os.path.isabs(p) and os.path.exists(p)
                 and ("site-packages" in p or "dist-packages" in p))
    tmp = tempfile.gettempdir()
    return sorted(p for p in paths if p != tmp and p != "/")


def _world_reachable(path: str) -> bool:
    """Whether any uid can walk to ``path`` (needed to run Python as a slot uid without namespaces)."""
    current = os.path.realpath(path)
    while current not in ("", "/"):
        current = os.path.dirname(current)
        if not os.stat(current).st_mode & 0o001:
            return False
    return True


class Slot:
    """An exclusive uid for one worker, held through a file lock."""

    def __init__(self) -> None:
        SLOT_DIR.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chmod(SLOT_DIR, 0o700)
        for index in range(SLOT_COUNT):
            handle = open(SLOT_DIR / f"{index}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.index, self.uid, self._handle = index, SLOT_UID_BASE + index, handle
            return
        raise RuntimeError(f"all {SLOT_COUNT} grading slots are busy")

    def release(self) -> None:
        kill_uid(self.uid)
        self._handle.close()


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                continue
    return pids


def kill_uid(uid: int) -> None:
    """Kill every process owned by ``uid`` (forks included), from a child that becomes that uid."""
    if os.geteuid() != 0:
        return
    for _ in range(50):
        if not _pids_of_uid(uid):
            return
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


class OutputSink(threading.Thread):
    """Drains the worker's stdout/stderr so it can never block, keeping the first ``limit`` bytes."""

    def __init__(self, fd: int, limit: int):
        super().__init__(daemon=True)
        self.fd, self.limit = fd, limit
        self.kept = bytearray()
        self.total = 0

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.total += len(chunk)
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
        os.close(self.fd)

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.total > self.limit:
            text += f"\n[... {self.total - self.limit} more bytes of output cut ...]"
        return text


class WorkerProcess:
    """One running worker: its pipes, its output, its resource readings."""

    def __init__(self, spec: SandboxSpec):
        self.spec = spec
        self.full = namespaces_available()
        # Root without namespaces (e.g. a container without CAP_SYS_ADMIN) still moves student code
        # to its own uid, so root-only files (the hidden suite) stay unreadable.
        can_drop = self.full or all(_world_reachable(p) for p in python_paths())
        self.slot = Slot() if os.geteuid() == 0 and can_drop else None
        self._tmp = None if self.full else tempfile.TemporaryDirectory(prefix="coursekit-worker-")
        if self._tmp and self.slot:
            os.chown(self._tmp.name, self.slot.uid, self.slot.uid)
        request_r, self.request_w = os.pipe()
        self.response_r, response_w = os.pipe()
        output_r, output_w = os.pipe()
        config = {
            "mode": "full" if self.full else "degraded",
            "uid": self.slot.uid if self.slot else None,
            "hide": spec.hide, "keep": spec.keep, "tmp_mb": max(64, spec.file_mb * 4),
            "memory_mb": spec.memory_mb, "cpu_seconds": spec.cpu_seconds, "processes": spec.processes,
            "file_mb": spec.file_mb, "device": spec.device, "workdir": self._tmp.name if self._tmp else None,
        }
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": config["workdir"] or "/tmp/work",
            "COURSEKIT_GRADING": "1", "COURSEKIT_DEVICE": spec.device, "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "COURSEKIT_FD_IN": str(request_r), "COURSEKIT_FD_OUT": str(response_w),
            "COURSEKIT_SANDBOX": json.dumps(config),
        }
        if spec.device == "cpu":  # grading on one core: fair, and parallel batches don't oversubscribe
            env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        elif "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "coursekit.grading.sandbox_enter"],
            stdin=subprocess.DEVNULL, stdout=output_w, stderr=output_w, env=env,
            pass_fds=(request_r, response_w), close_fds=True, start_new_session=True)
        for fd in (request_r, response_w, output_w):
            os.close(fd)
        self.output = OutputSink(output_r, spec.output_kb * 1024)
        self.output.start()
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_description(self) -> str:
        code = self.process.poll()
        if code is None:
            return "still running"
        if code < 0:
            name = signal.Signals(-code).name
            why = {"SIGKILL": "killed (memory, time or process limit)", "SIGXCPU": "CPU time limit reached",
                   "SIGXFSZ": "file size limit reached", "SIGSEGV": "crashed (segmentation fault)"}.get(name, name)
            return why
        return f"exited with status {code}"

    def peak_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def reset_peak_rss(self) -> None:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.request_w, self.response_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.slot:
            self.slot.release()
            self.slot = None
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None
        self.output.join(timeout=2)
