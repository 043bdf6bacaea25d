"""The sandbox's parts on their own: the bubblewrap allow-list, cgroups, slots, degraded mode, doctor."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coursekit.grading import bwrap, cgroups, sandbox, slots

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = os.geteuid() == 0


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan waits for whoever reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _full() -> bool:
    return sandbox.protections()[0] == "full"


def test_worker_modules_are_what_the_worker_imports_and_no_more():
    names = {str(p.relative_to(SRC)) for p in bwrap.worker_modules(SRC)}
    assert {"coursekit/__init__.py", "coursekit/grading/__init__.py", "coursekit/grading/worker.py",
            "coursekit/grading/protocol.py"} <= names
    # The trusted side (hidden suites' runner, results, the course config) never enters the sandbox.
    assert not names & {"coursekit/grading/run_one.py", "coursekit/grading/plugin.py", "coursekit/grading/api.py",
                        "coursekit/grading/results.py", "coursekit/config/__init__.py"}


def test_bwrap_argv_binds_only_the_allow_list():
    argv = bwrap.argv(bwrap="/usr/bin/bwrap", uid=61000, binds=[("/opt/py", "/opt/py")], tmp_mb=64,
                      command=["/opt/py/bin/python", "-I", "-m", "coursekit.grading.worker"])
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--uid") + 1] == "61000" and argv[argv.index("--gid") + 1] == "61000"
    sources = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--ro-bind-try", "--bind")]
    assert "--bind" not in argv  # nothing of the host is writable inside
    font_lists = [str(p) for p in bwrap.matplotlib_font_cache()]
    assert sorted(sources) == sorted(["/usr", "/opt/py", *bwrap.ETC_FILES, *font_lists]
                                     + [f"/{n}" for n in bwrap.ROOT_LINKS
                                        if os.path.isdir(f"/{n}") and not os.path.islink(f"/{n}")])
    assert argv[-4:] == ["/opt/py/bin/python", "-I", "-m", "coursekit.grading.worker"]


def test_matplotlib_font_list_is_built_once_and_bound_read_only_where_matplotlib_looks():
    font_lists = bwrap.matplotlib_font_cache()
    assert font_lists and all(p.name.startswith("fontlist-") for p in font_lists)  # matplotlib is a kit dependency
    for path in [font_lists[0].parent, *font_lists]:
        assert not path.stat().st_mode & 0o022, path  # other uids cannot rewrite what every worker reads
    bwrap.matplotlib_font_cache.cache_clear()  # as a new grader process would: the same file is reused
    assert bwrap.matplotlib_font_cache() == font_lists
    argv = bwrap.argv(bwrap="/usr/bin/bwrap", uid=61000, binds=[], tmp_mb=64, command=["python"])
    bound = {argv[i + 2]: argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"}
    assert bound[f"{bwrap.MATPLOTLIB_CACHE}/{font_lists[0].name}"] == str(font_lists[0])
    assert bwrap.MATPLOTLIB_CACHE.startswith("/tmp/work/")  # HOME inside the sandbox


def test_python_binds_expose_no_checkout():
    for source, dest in bwrap.python_binds():
        assert not Path(dest).is_relative_to(SRC.parent) or Path(dest) in (SRC, Path(sys.prefix)) or \
            "site-packages" in dest, (source, dest)
        if Path(dest) == SRC:  # the kit's code is a staged copy of the worker's modules only
            assert sorted(p.name for p in Path(source).iterdir()) == ["coursekit", "coursekit_student"]


def test_stage_is_one_per_code_version_and_not_writable_by_others():
    first = bwrap.stage()
    bwrap.stage.cache_clear()  # as a new grader process would
    assert bwrap.stage() == first  # reused, not one more copy per submission
    for path in [first, *first.rglob("*")]:
        assert not path.stat().st_mode & 0o022, path


def test_cpu_share_is_cores_over_jobs(monkeypatch):
    monkeypatch.setenv("COURSEKIT_CORES", "1")
    monkeypatch.setenv("COURSEKIT_JOBS", "2")
    assert sandbox.cpu_share() == 0.5


def test_forced_degraded_names_what_is_missing(monkeypatch):
    monkeypatch.setenv("COURSEKIT_SANDBOX", "degraded")
    monkeypatch.delenv(sandbox.PROBE_ENV, raising=False)
    sandbox.protections.cache_clear()
    try:
        mode, missing = sandbox.protections()
        assert mode == "degraded" and {"bubblewrap", "cgroups"} <= set(missing)
        assert sandbox.probe_env()[sandbox.PROBE_ENV].startswith("degraded:")
    finally:
        sandbox.protections.cache_clear()


def test_probe_result_is_handed_down(monkeypatch):
    monkeypatch.setenv(sandbox.PROBE_ENV, "degraded:cgroups")
    sandbox.protections.cache_clear()
    try:
        assert sandbox.protections() == ("degraded", ("cgroups",))
    finally:
        sandbox.protections.cache_clear()


def test_cgroup_v2_files_are_written_as_the_kernel_expects(tmp_path, monkeypatch):
    """v2 on a stand-in tree (these CI machines are v1): limits, the join file and cgroup.kill."""
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    leaf = tmp_path / cgroups.KIT / "g1-2" / "s3"
    leaf.mkdir(parents=True)
    for name in ("memory.max", "memory.swap.max", "pids.max", "cpu.max", "cgroup.procs", "cgroup.kill", "memory.peak"):
        (leaf / name).write_text("")
    monkeypatch.setattr(cgroups, "ROOT", tmp_path)
    cgroups.version.cache_clear()
    try:
        assert cgroups.version() == "v2"
        group = cgroups.Group(f"{cgroups.KIT}/g1-2/s3", memory_mb=100, processes=7, cpu_cores=0.25)
        assert (leaf / "memory.max").read_text() == str(100 * 2**20)
        assert (leaf / "memory.swap.max").read_text() == "0"
        assert (leaf / "pids.max").read_text() == "7"
        assert (leaf / "cpu.max").read_text() == "25000 100000"
        assert group.procs_files() == [str(leaf / "cgroup.procs")]
        assert "+memory" in (tmp_path / "cgroup.subtree_control").read_text()
        group.kill()
        assert (leaf / "cgroup.kill").read_text() == "1"
        (leaf / "pids.max").unlink()  # a controller the host did not enable: refused, not silently unlimited
        with pytest.raises(OSError, match="pids.max"):
            cgroups.Group(f"{cgroups.KIT}/g1-2/s3", memory_mb=100, processes=7, cpu_cores=0.25)
    finally:
        cgroups.version.cache_clear()


needs_cgroups = pytest.mark.skipif(not ROOT or bool(cgroups.missing_controllers()),
                                   reason="needs root and writable memory, pids and cpu cgroup controllers")


@needs_cgroups
def test_group_limits_and_kills_every_member():
    group = cgroups.Group(f"{cgroups.KIT}/{cgroups.grader_name()}/s-test", memory_mb=256, processes=8, cpu_cores=0.5)
    try:
        if group.kind == "v1":
            assert (group.dirs["memory"] / "memory.limit_in_bytes").read_text().strip() == str(256 * 2**20)
            assert (group.dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "50000"
            memsw = group.dirs["memory"] / "memory.memsw.limit_in_bytes"
            assert not memsw.exists() or memsw.read_text().strip() == str(256 * 2**20)
        else:
            assert (group.dirs["unified"] / "cpu.max").read_text().split() == ["50000", "100000"]
        assert (group._file("pids", "pids.max")).read_text().strip() == "8"
        joined = "; ".join(f"echo $$ > {p}" for p in group.procs_files())
        # A member that forks a grandchild and detaches: the group still finds and kills both.
        child = subprocess.Popen(["sh", "-c", f"{joined}; (setsid sleep 300 &); exec sleep 300"])
        deadline = time.monotonic() + 10
        while len(group.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        members = group.pids()
        assert len(members) >= 2
        group.kill()
        child.wait(timeout=10)
        assert group.pids() == []
        assert not [pid for pid in members if pid != child.pid and _running(pid)]
    finally:
        group.remove()
    assert not any(path.exists() for path in group.dirs.values())


@needs_cgroups
def test_sweep_removes_groups_of_dead_graders_only():
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = cgroups.Group(f"{cgroups.KIT}/g{dead.pid}-1/s0", memory_mb=64, processes=4, cpu_cores=1)
    live = cgroups.Group(f"{cgroups.KIT}/{cgroups.grader_name()}/s-live", memory_mb=64, processes=4, cpu_cores=1)
    orphan = subprocess.Popen(["sh", "-c", "; ".join(f"echo $$ > {p}" for p in stale.procs_files())
                               + "; exec sleep 300"])
    try:
        deadline = time.monotonic() + 10
        while not stale.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stale.pids()
        cgroups.sweep()
        orphan.wait(timeout=10)
        assert not any(path.exists() for path in stale.dirs.values())
        assert all(path.exists() for path in live.dirs.values())
    finally:
        orphan.kill()
        live.remove()
        stale.remove()


@pytest.mark.skipif(not ROOT, reason="slot uids need root")
def test_slot_with_a_live_process_is_cleared_before_reuse():
    slot = slots.Slot()
    uid = slot.uid
    slot._handle.close()  # as if its grader had died without releasing it
    survivor = subprocess.Popen(["sleep", "300"], user=uid, group=uid)
    try:
        again = slots.Slot()
        try:
            assert survivor.wait(timeout=10) != 0 or again.uid != uid  # killed before the uid was handed out
            assert not slots._pids_of_uid(again.uid)
        finally:
            again.release()
    finally:
        survivor.kill()


@pytest.mark.skipif(not ROOT, reason="the full sandbox needs root")
def test_worker_sees_an_empty_root_and_is_its_own_world(tmp_path):
    if not _full():
        pytest.skip(f"full sandbox unavailable: {sandbox.protections()[1]}")
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    os.chmod(tmp_path, 0o755)
    os.chmod(secret, 0o644)
    code = ("import os, json\n"
            f"print(json.dumps({{'uid': os.getuid(), 'root': sorted(os.listdir('/')), 'procs': sorted(p for p in "
            f"os.listdir('/proc') if p.isdigit()), 'secret': os.path.exists({str(secret)!r}), "
            "'run': os.path.exists('/run'), 'home': os.path.exists('/home')}))\n")
    worker = sandbox.WorkerProcess(sandbox.SandboxSpec(memory_mb=512), _use_bwrap=True, _command=["-I", "-c", code])
    try:
        assert worker.process.wait(timeout=60) == 0, worker.output.text()
        worker.output.join(timeout=5)
        import json

        seen = json.loads(worker.output.text().strip().splitlines()[-1])
    finally:
        worker.kill()
    assert seen["uid"] >= slots.SLOT_UID_BASE
    assert not seen["secret"] and not seen["run"] and not seen["home"]
    assert set(seen["root"]) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "proc", "dev",
                                 "tmp", *{p.split("/")[1] for _, p in bwrap.python_binds()}}
    assert len(seen["procs"]) <= 2  # bubblewrap's init and the worker: no other process is visible


@pytest.mark.skipif(not ROOT, reason="the full sandbox needs root")
def test_worker_started_from_a_short_lived_thread_survives_it():
    """The parent-death signal follows the forking thread: workers are forked by a thread that stays."""
    if not _full():
        pytest.skip(f"full sandbox unavailable: {sandbox.protections()[1]}")
    box: list = []
    thread = threading.Thread(target=lambda: box.append(sandbox.WorkerProcess(
        sandbox.SandboxSpec(memory_mb=512), _use_bwrap=True, _command=["-I", "-c", "import time; time.sleep(3)"])))
    thread.start()
    thread.join()
    worker = box[0]
    try:
        time.sleep(1)
        assert worker.alive()
        assert worker.process.wait(timeout=30) == 0
    finally:
        worker.kill()


@pytest.mark.skipif(not ROOT, reason="the full sandbox needs root")
def test_killed_grader_leaves_no_process_and_its_group_is_swept():
    """SIGKILL of the trusted process: bubblewrap dies with it, and the next sweep removes its cgroup."""
    if not _full():
        pytest.skip(f"full sandbox unavailable: {sandbox.protections()[1]}")
    code = ("import json, sys, time\n"
            "from coursekit.grading import sandbox\n"
            "w = sandbox.WorkerProcess(sandbox.SandboxSpec(memory_mb=512))\n"
            "print(json.dumps({'uid': w.slot.uid, 'dirs': [str(p) for p in w.group.dirs.values()]}), flush=True)\n"
            "time.sleep(300)\n")
    grader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        import json

        seen = json.loads(grader.stdout.readline())
        deadline = time.monotonic() + 30
        while len(slots._pids_of_uid(seen["uid"])) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the worker is up (bubblewrap, its init, python) and waits for a request
        # Only these: once the grader is gone its slot is free, and another grader may claim it.
        workers = slots._pids_of_uid(seen["uid"])
        assert workers
    finally:
        grader.kill()
        grader.wait()
    deadline = time.monotonic() + 10
    while [p for p in workers if _running(p)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _running(p)]
    # (a batch running in parallel may sweep it first: any sweep will do)
    sandbox.sweep_leftovers()
    assert not any(Path(d).exists() for d in seen["dirs"])


@pytest.mark.skipif(not ROOT, reason="slot uids need root")
def test_released_slot_leaves_no_sysv_ipc_behind():
    """Degraded mode has no IPC namespace: what the slot's uid created is removed with the slot."""
    slot = slots.Slot()
    key = 0x4B48_0000 + os.getpid() % 0xFFFF
    code = (f"import ctypes; l = ctypes.CDLL(None); assert l.shmget({key}, 4096, 0o1600) >= 0; "
            f"assert l.msgget({key}, 0o1600) >= 0; assert l.semget({key}, 1, 0o1600) >= 0")
    try:
        subprocess.run(["python3", "-c", code], user=slot.uid, group=slot.uid, check=True, timeout=30)
        from tests.hostile.isolation import host_ipc_keys

        assert key in host_ipc_keys()
    finally:
        slot.release()
    assert key not in host_ipc_keys()


@pytest.mark.skipif(not ROOT, reason="the full sandbox needs root")
def test_signal_death_inside_bubblewrap_is_described_as_the_signal():
    if not _full():
        pytest.skip(f"full sandbox unavailable: {sandbox.protections()[1]}")
    worker = sandbox.WorkerProcess(sandbox.SandboxSpec(memory_mb=512), _use_bwrap=True,
                                   _command=["-I", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    try:
        worker.process.wait(timeout=60)
        assert worker.exit_description() == "crashed (segmentation fault)"
    finally:
        worker.kill()


def test_doctor_exits_zero_only_with_the_full_sandbox():
    completed = subprocess.run([sys.executable, "-m", "coursekit.cli", "doctor"], capture_output=True, text=True,
                               timeout=120, env={k: v for k, v in os.environ.items() if k != "COURSEKIT_SANDBOX"})
    assert (completed.returncode == 0) == ("sandbox: full" in completed.stdout), completed.stdout
    assert "[MISSING]" not in completed.stdout or completed.returncode == 1


def test_doctor_says_what_is_missing_and_exits_nonzero_when_degraded(monkeypatch):
    env = dict(os.environ, COURSEKIT_SANDBOX="degraded")
    completed = subprocess.run([sys.executable, "-m", "coursekit.cli", "doctor"], capture_output=True, text=True,
                               env=env, timeout=120)
    assert completed.returncode == 1, completed.stderr
    assert "bubblewrap" in completed.stdout and "cgroups" in completed.stdout
    assert "sandbox: degraded" in completed.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a process of another uid")
def test_a_zombie_of_a_slot_uid_does_not_hold_the_slot() -> None:
    # kill_uid used to wait ~1 s per submission for zombies (exited, not yet reaped) to disappear
    uid = slots.SLOT_UID_BASE + slots.SLOT_COUNT - 1
    pid = os.fork()
    if pid == 0:
        os.setgid(uid)
        os.setuid(uid)
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the child has exited (a zombie: we do not reap it yet)
            with open(f"/proc/{pid}/stat", "rb") as stream:
                if stream.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    break
            time.sleep(0.01)
        assert os.stat(f"/proc/{pid}").st_uid == uid
        assert pid not in slots._pids_of_uid(uid)
        started = time.monotonic()
        assert slots.kill_uid(uid) and time.monotonic() - started < 0.5
    finally:
        os.waitpid(pid, 0)
