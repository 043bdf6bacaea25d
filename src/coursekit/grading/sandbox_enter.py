"""First code of a worker process (the trusted *launcher*): confine, drop privileges, exec.

Runs as root in the freshly spawned child, single-threaded, before any student code exists.
Full mode (``mode: "bwrap"``):

1. join the submission's cgroups (memory, pids, CPU share) first, so every later process of
   this worker, the student's forks included, is inside them;
2. where the slot uid could not reach a path bubblewrap must bind (e.g. Python under a 0700
   ``/root``), bind it onto a world-traversable mount point in a private mount namespace of this
   launcher only (the host never sees it);
3. resource limits (address space, CPU time, processes, file size, open files, no core dumps)
   as defence in depth;
4. an unprivileged per-slot uid/gid, no supplementary groups, no_new_privs, then the
   parent-death signal (after the drop: a credential change clears it);
5. exec of bubblewrap, which builds the allow-listed root in new namespaces and runs
   ``python -m coursekit.grading.worker`` as that uid (see ``bwrap``).

Fallback (``mode: "namespaces"``, today's deny-list; ``mode: "plain"``): where bubblewrap cannot
run, new mount+network namespaces with tmpfs over the secret folders, or only limits and (as
root with Python reachable by any uid) the slot uid; the grader reports ``sandbox: degraded``
with the protections that were missing.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {target}")


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _untraversable_ancestors(paths: list[str]) -> list[str]:
    """Ancestors the unprivileged uid could not walk through (e.g. a 0700 /root holding Python).

    Hiding them and bind-mounting the kept paths back makes those paths reachable and nothing else.
    """
    found = set()
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in ("", "/"):
            if not os.stat(parent).st_mode & 0o001:
                found.add(parent)
            parent = os.path.dirname(parent)
    return sorted(found)


def isolate(config: dict) -> None:
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = [p for p in config["keep"] if os.path.exists(p)]
    hide = [p for p in config["hide"] + _untraversable_ancestors(keep) if os.path.isdir(p)]
    covered = lambda p: any(_under(p, h) for h in hide + ["/tmp"])  # noqa: E731
    staged = [(i, p) for i, p in enumerate(keep) if covered(p)]
    stage = "/mnt"
    os.makedirs(stage, exist_ok=True)
    _mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=700")
    for i, path in staged:
        target = f"{stage}/{i}"
        if os.path.isdir(path):
            os.mkdir(target)
        else:
            open(target, "w").close()
        _mount(path, target, None, MS_BIND | MS_REC)
    outermost = [p for p in sorted(set(hide), key=len) if not any(_under(p, q) and p != q for q in hide)]
    for path in outermost:  # a folder inside an already hidden one is gone anyway
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    tmp_size = f"size={config['tmp_mb']}m,mode=1777"
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_size)
    for path in ("/dev/shm", "/var/tmp"):
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, tmp_size)
    for i, path in staged:
        if os.path.isdir(f"{stage}/{i}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _mount(f"{stage}/{i}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _check(_libc.umount2(stage.encode(), MNT_DETACH), "umount staging")


def limit(config: dict) -> None:
    mb = 1024 * 1024
    limits = {
        resource.RLIMIT_CPU: int(config["cpu_seconds"]),
        resource.RLIMIT_FSIZE: int(config["file_mb"]) * mb,
        resource.RLIMIT_NOFILE: 256,
        resource.RLIMIT_CORE: 0,
    }
    if config.get("memory_mb"):
        # CUDA reserves huge virtual ranges, so GPU workers are bounded by data size instead.
        kind = resource.RLIMIT_DATA if config.get("device") == "cuda" else resource.RLIMIT_AS
        limits[kind] = int(config["memory_mb"]) * mb
    if config.get("uid") is not None:  # per-uid limit: only meaningful with a dedicated uid
        limits[resource.RLIMIT_NPROC] = int(config["processes"])
    for kind, value in limits.items():
        resource.setrlimit(kind, (value, value))


def drop_privileges(uid: int | None) -> None:
    """Become the slot uid (no supplementary groups), forbid ever regaining privileges, and
    re-arm the parent-death signal, which a credential change clears. Every mode ends here.

    Without a slot uid (not root, or plain mode where the uid could not reach Python) the
    process keeps its uid but still gets no_new_privs, so no setuid program can lift it.
    """
    parent = os.getppid()
    if uid is not None:
        os.setgroups([])  # groups first: once the uid is dropped they cannot be cleared
        os.setgid(uid)
        os.setuid(uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "parent-death signal")
    if os.getppid() != parent:  # the grader died before the signal was re-armed
        os._exit(1)


def join_cgroups(procs_files: list[str]) -> None:
    for path in procs_files:
        with open(path, "w") as stream:
            stream.write(str(os.getpid()))


def stage_unreachable(pairs: list[list[str]]) -> None:
    """Bind sources the slot uid cannot walk to onto mount points it can, in a private namespace."""
    if not pairs:
        return
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for source, point in pairs:
        _mount(source, point, None, MS_BIND | MS_REC)
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_bwrap(config: dict) -> None:
    join_cgroups(config.get("cgroup_procs") or [])
    stage_unreachable(config.get("staged") or [])
    limit(config)
    drop_privileges(config.get("uid"))
    os.execv(config["argv"][0], config["argv"])


def main() -> None:
    config = json.loads(os.environ.pop("COURSEKIT_SANDBOX_CONFIG"))
    if config["mode"] == "bwrap":
        enter_bwrap(config)
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the grader
    join_cgroups(config.get("cgroup_procs") or [])
    if config["mode"] == "namespaces":
        isolate(config)
        limit(config)
        os.makedirs("/tmp/work", exist_ok=True)  # the private /tmp's work folder, owned by the slot uid
        os.chown("/tmp/work", config["uid"], config["uid"])
        drop_privileges(config["uid"])
        os.chdir("/tmp/work")
        os.environ["HOME"] = "/tmp/work"
    else:
        limit(config)
        drop_privileges(config.get("uid"))
        os.chdir(config["workdir"])
    os.execv(sys.executable, [sys.executable, "-I", "-m", "coursekit.grading.worker"])


if __name__ == "__main__":
    main()
