"""Start, watch and kill a student's worker process (trusted side).

Full sandbox: a slot uid of its own (``slots``), a per-submission cgroup (``cgroups``) joined
before any student code exists, and bubblewrap's allow-listed empty root in new namespaces
(``bwrap``), all entered by the launcher ``sandbox_enter``. Where the host cannot give one of
these, grading still runs on what is left (today's deny-list namespaces, rlimits, the slot uid)
and ``protections()`` names what was missing, which every results.json reports.
``COURSEKIT_SANDBOX=degraded`` forces that path (tests, or a host where bubblewrap misbehaves).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from coursekit.grading import bwrap, cgroups
from coursekit.grading.slots import SLOT_DIR, SLOT_UID_BASE, Slot, _pids_of_uid, kill_uid, sweep_free_slots

__all__ = ["SLOT_DIR", "SLOT_UID_BASE", "SandboxSpec", "Slot", "WorkerProcess", "_pids_of_uid", "kill_uid",
           "namespaces_available", "protections", "python_paths", "sweep_leftovers"]
WORKER = ["-I", "-m", "coursekit.grading.worker"]
PROBE_ENV = "COURSEKIT_SANDBOX_PROBED"


@dataclass
class SandboxSpec:
    """What the worker may use and must not see."""

    memory_mb: int = 4096
    cpu_seconds: float = 600
    processes: int = 64
    file_mb: int = 64
    output_kb: int = 256
    device: str = "cpu"
    hide: list[str] = field(default_factory=list)   # degraded mode: folders replaced by an empty tmpfs
    keep: list[str] = field(default_factory=list)   # degraded mode: paths bind-mounted back read-only


def _forced_degraded() -> bool:
    return os.environ.get("COURSEKIT_SANDBOX", "").strip().lower() == "degraded"


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
    """Paths the degraded worker's interpreter needs bound back: prefixes, site-packages, the kit."""
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


def cpu_share() -> float:
    """Cores per submission: the batch's cores over its parallel jobs (COURSEKIT_CORES/JOBS override)."""
    cores = float(os.environ.get("COURSEKIT_CORES") or len(os.sched_getaffinity(0)))
    jobs = max(1, int(os.environ.get("COURSEKIT_JOBS") or 1))
    return max(0.05, cores / jobs)


def _bwrap_works() -> bool:
    """Start a real launcher + bubblewrap once, importing what the worker imports."""
    if os.geteuid() != 0 or not bwrap.bwrap_path():
        return False
    try:
        worker = WorkerProcess(SandboxSpec(memory_mb=1024, processes=16), _use_bwrap=True,
                               _command=["-I", "-c", "import coursekit.grading.protocol, coursekit_student.forbid"])
    except (OSError, RuntimeError):
        return False
    try:
        worker.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    ok = worker.process.poll() == 0
    worker.kill()
    return ok


@lru_cache(maxsize=1)
def protections() -> tuple[str, tuple[str, ...]]:
    """("full" | "degraded", protections missing on this host), probed once per batch."""
    if os.environ.get(PROBE_ENV):
        mode, _, missing = os.environ[PROBE_ENV].partition(":")
        return mode, tuple(m for m in missing.split(",") if m)
    missing = []
    if os.geteuid() != 0:
        missing.append("slot-uid")
    if _forced_degraded():
        missing += ["bubblewrap", "cgroups"]
    else:
        if not _bwrap_works():
            missing.append("bubblewrap")
        if os.geteuid() != 0 or not cgroups.usable():
            missing.append("cgroups")
    if "bubblewrap" in missing and not namespaces_available():
        missing.append("namespaces")
    return ("degraded" if missing else "full"), tuple(missing)


def probe_env() -> dict[str, str]:
    """Environment that hands this process's probe results down to the graders it starts."""
    mode, missing = protections()
    env = {PROBE_ENV: f"{mode}:{','.join(missing)}"}
    if "bubblewrap" in missing:  # only a worker without bubblewrap uses bare namespaces (a 0.3 s probe)
        env["COURSEKIT_NAMESPACES"] = "1" if namespaces_available() else "0"
    return env


def sweep_leftovers() -> None:
    """Kill what crashed or killed graders left behind: their cgroups and their slots' processes."""
    if os.geteuid() != 0:
        return
    if cgroups.version() and not cgroups.missing_controllers():
        cgroups.sweep()
    sweep_free_slots()


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


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class _Spawner:
    """Starts workers from one thread that lives as long as this process.

    The parent-death signal (bubblewrap's --die-with-parent, the launcher's prctl) fires when the
    *thread* that forked the worker ends, not the process: a worker started from a short-lived
    thread (a notebook load begun in the background) would die with that thread.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.Queue = queue.Queue()
        threading.Thread(target=self._serve, name="worker-spawner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            function, kwargs, reply = self.jobs.get()
            try:
                reply.put((True, function(**kwargs)))
            except BaseException as exc:  # handed back to the caller's thread
                reply.put((False, exc))

    def run(self, function, **kwargs):
        reply: queue.Queue = queue.Queue(maxsize=1)
        self.jobs.put((function, kwargs, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _popen(**kwargs) -> subprocess.Popen:
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(**kwargs)  # the main thread lives as long as the process
    with _spawner_lock:
        if _spawner is None or _spawner.pid != os.getpid():  # a forked grader gets its own thread
            _spawner = _Spawner()
    return _spawner.run(subprocess.Popen, **kwargs)


SIGNAL_WHY = {"SIGKILL": "killed (memory, time or process limit)", "SIGXCPU": "CPU time limit reached",
              "SIGXFSZ": "file size limit reached", "SIGSEGV": "crashed (segmentation fault)"}


class WorkerProcess:
    """One running worker: its pipes, its output, its resource readings."""

    def __init__(self, spec: SandboxSpec, *, _use_bwrap: bool | None = None, _command: list[str] | None = None):
        self.spec = spec
        probing = _use_bwrap is not None
        missing = () if probing else protections()[1]
        use_bwrap = _use_bwrap if probing else "bubblewrap" not in missing
        self.mode = "bwrap" if use_bwrap else ("namespaces" if namespaces_available() else "plain")
        root = os.geteuid() == 0
        # Root without namespaces (e.g. a container without CAP_SYS_ADMIN) still moves student code
        # to its own uid, so root-only files (the hidden suite) stay unreadable.
        can_drop = root and (self.mode != "plain" or all(bwrap.world_traversable(p) for p in python_paths()))
        self.slot = Slot() if can_drop else None
        tmp_mb = max(64, spec.file_mb * 4)
        self.group = None
        if self.slot and not probing and "cgroups" not in missing:
            # tmpfs pages are charged to the group too, hence the headroom; +4 pids: launcher, bwrap.
            self.group = cgroups.create(self.slot.index, memory_mb=spec.memory_mb + tmp_mb,
                                        processes=spec.processes + 4, cpu_cores=cpu_share())
            if self.group is None:
                self.slot.release()
                raise RuntimeError("the submission's cgroup could not be created (run `course doctor`)")
        self._tmp = tempfile.TemporaryDirectory(prefix="coursekit-worker-") if self.mode == "plain" else None
        if self._tmp and self.slot:
            os.chown(self._tmp.name, self.slot.uid, self.slot.uid)
        request_r, self.request_w = os.pipe()
        self.response_r, response_w = os.pipe()
        output_r, output_w = os.pipe()
        config = {
            "mode": self.mode, "uid": self.slot.uid if self.slot else None,
            "hide": spec.hide, "keep": spec.keep, "tmp_mb": tmp_mb,
            "memory_mb": spec.memory_mb, "cpu_seconds": spec.cpu_seconds, "processes": spec.processes,
            "file_mb": spec.file_mb, "device": spec.device, "workdir": self._tmp.name if self._tmp else None,
            "cgroup_procs": self.group.procs_files() if self.group else [],
        }
        if self.mode == "bwrap":
            binds, config["staged"] = bwrap.launcher_binds(bwrap.python_binds())
            config["argv"] = bwrap.argv(bwrap=bwrap.bwrap_path() or "bwrap",
                                        uid=self.slot.uid if self.slot else os.getuid(), binds=binds,
                                        tmp_mb=tmp_mb, command=[sys.executable, *(_command or WORKER)],
                                        device=spec.device)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": config["workdir"] or "/tmp/work",
            "COURSEKIT_GRADING": "1", "COURSEKIT_DEVICE": spec.device, "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "COURSEKIT_FD_IN": str(request_r), "COURSEKIT_FD_OUT": str(response_w),
            "COURSEKIT_SANDBOX_CONFIG": json.dumps(config),
        }
        if spec.device == "cpu":  # grading on one core: fair, and parallel batches don't oversubscribe
            env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        elif "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        self.process = _popen(
            args=[sys.executable, "-I", "-m", "coursekit.grading.sandbox_enter"],
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
        if self.mode == "bwrap" and 128 < code < 128 + signal.NSIG:
            code = 128 - code  # bubblewrap reports a signal death of the worker as 128 + signal
        if code < 0:
            name = signal.Signals(-code).name
            return SIGNAL_WHY.get(name, name)
        return f"exited with status {code}"

    def _pids(self) -> list[int]:
        if self.mode == "bwrap" and self.slot:  # the worker is bubblewrap's grandchild: find it by uid
            return _pids_of_uid(self.slot.uid)
        return [self.pid]

    def peak_rss_mb(self) -> float | None:
        if self.group:
            return self.group.peak_memory_mb()
        readings = [r for r in map(_vm_hwm_mb, self._pids()) if r is not None]
        return max(readings) if readings else None

    def reset_peak_rss(self) -> None:
        if self.group:
            self.group.reset_peak()
            return
        for pid in self._pids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass

    def kill(self) -> None:
        if self.group:
            self.group.kill()  # every process of the submission, wherever it moved or forked to
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
        if self.group:
            self.group.remove()
            self.group = None
        if self.slot:
            self.slot.release()
            self.slot = None
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None
        self.output.join(timeout=2)
