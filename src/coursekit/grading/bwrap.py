"""The bubblewrap command line that starts a worker in an empty, allow-listed root (trusted side).

Nothing of the host is visible in the sandbox unless listed here: the OS's shared libraries
(``/usr``, read-only), the Python prefix and site-packages, and a read-only *stage* holding only
the student runtime (``coursekit_student``) and the few ``coursekit`` modules the worker imports
(found by following its imports, so the course checkout that may hold ``src/`` is never bound).
Every namespace is new (user, pid, ipc, uts, net, mount, cgroup), ``/proc`` is the sandbox's own,
``/dev`` is bubblewrap's minimal one, ``/tmp`` and ``/dev/shm`` are private size-capped tmpfs.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import os
import shutil
import stat
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from coursekit.grading import stages

WORKER_MODULE = "coursekit.grading.worker"
# Only what the dynamic loader reads; no passwd, no hosts, no resolv.conf.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
MATPLOTLIB_CACHE = "/tmp/work/.cache/matplotlib"  # matplotlib's cache folder for HOME=/tmp/work


def bwrap_path() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin:/usr/sbin")


def _module_file(name: str, src: Path) -> Path | None:
    base = src.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def worker_modules(src: Path, start: str = WORKER_MODULE) -> list[Path]:
    """``coursekit`` files the worker imports (transitively, with their packages' ``__init__``)."""
    seen: set[Path] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # a module's packages are imported first
            file = _module_file(".".join(parts[:depth]), src)
            if file is None or file in seen:
                continue
            seen.add(file)
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    pending += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    pending += [a.name for a in node.names]
    return sorted(p for p in seen if p.is_relative_to(src / "coursekit"))


def world_traversable(path: str) -> bool:
    """Whether any uid can walk to ``path`` (every ancestor has the x bit for others)."""
    current = os.path.realpath(path)
    while current not in ("", "/"):
        current = os.path.dirname(current)
        if not os.stat(current).st_mode & 0o001:
            return False
    return True


STAGE_ROOT = Path(tempfile.gettempdir()) / "coursekit-stage"


FONT_CACHE_ROOT = Path(tempfile.gettempdir()) / "coursekit-fontcache"


def _private_root(root: Path) -> Path:
    """``root``, created if needed, checked to be ours alone to write (what it holds reaches every worker)."""
    root.mkdir(mode=0o755, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{root} must be a folder owned by uid {os.geteuid()} and writable only by it; "
                           "remove it and grade again")
    return root


def _stage_root() -> Path:
    """The stages' parent (a planted stage would be code run by every worker)."""
    return _private_root(STAGE_ROOT)


def _kit_files() -> tuple[Path, dict[str, bytes]]:
    """(where the kit's code lives, {relative path: bytes}) of what the worker imports."""
    import coursekit
    import coursekit_student

    src = Path(coursekit.__file__).resolve().parent.parent
    student = Path(coursekit_student.__file__).resolve().parent
    files = sorted(p for p in student.rglob("*.py") if "__pycache__" not in p.parts) + worker_modules(src)
    return src, {str(p.relative_to(src)): p.read_bytes() for p in files}


@lru_cache(maxsize=1)
def stage() -> Path:
    """A read-only copy of the worker's code, one per version of that code, shared by every grader.

    Named by the content's digest and published with an atomic rename, so parallel and forked
    graders reuse it and nothing is left per submission. This process holds it while it lives, and
    stages of other versions unused for a day are pruned (see ``stages``).
    """
    src, files = _kit_files()
    digest = hashlib.sha256()
    for name, data in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    final = _stage_root() / digest.hexdigest()[:20]
    for _ in range(5):  # more than one round only when a prune removes the stage as it is looked up
        if not (final / "src").is_dir():
            building = Path(tempfile.mkdtemp(dir=_stage_root(), prefix=".building-"))
            for name, data in files.items():
                target = building / "src" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            (building / "mnt").mkdir()
            (building / stages.LOCK_NAME).touch()
            for path in [building, *building.rglob("*")]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            try:
                os.rename(building, final)
            except OSError:  # another grader published the same stage first
                shutil.rmtree(building, ignore_errors=True)
        if stages.hold(final):
            stages.prune(_stage_root(), keep=final)
            return final
    raise RuntimeError(f"{final} was removed each time it was built; is another process deleting {STAGE_ROOT}?")


def mount_point(index: int) -> Path:
    """An empty folder the slot uid can reach, where the launcher binds an unreachable path."""
    point = stage() / "mnt" / str(index)
    point.mkdir(mode=0o755, exist_ok=True)
    return point


def _site_packages() -> set[str]:
    return {p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p)
            and ("site-packages" in p or "dist-packages" in p)}


def python_binds() -> list[tuple[str, str]]:
    """(source, destination) read-only binds the worker's interpreter needs, and nothing else."""
    import coursekit

    package_root = Path(coursekit.__file__).resolve().parent.parent
    binds = {p: p for p in {sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
                            str(Path(sys.executable).resolve().parent.parent)} | _site_packages()}
    if not any(package_root.is_relative_to(p) for p in _site_packages()):
        # An editable install or a checkout: bind a copy of just the modules the worker runs.
        binds[str(stage() / "src")] = str(package_root)
    # /usr is bound whole below; a prefix inside it needs no bind of its own.
    return sorted((s, d) for s, d in binds.items() if d != "/" and not Path(d).is_relative_to("/usr"))


def launcher_binds(binds: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split off sources the slot uid cannot reach (e.g. Python under a 0700 /root).

    Returns (binds for bubblewrap, (source, mount point) pairs the launcher binds as root in its
    own private mount namespace before dropping privileges, so bubblewrap sees them at the point).
    """
    direct, staged = [], []
    for index, (source, dest) in enumerate(binds):
        if world_traversable(source):
            direct.append((source, dest))
        else:
            point = str(mount_point(index))
            staged.append((source, point))
            direct.append((point, dest))
    return direct, staged


def gpu_args() -> list[str]:
    """What CUDA needs on top (device nodes and the sysfs PCI tree it reads); only for ``--device cuda``."""
    args = []
    for node in sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri")):
        args += ["--dev-bind-try", node, node]
    for folder in ("/sys/devices", "/sys/bus", "/sys/module/nvidia"):
        args += ["--ro-bind-try", folder, folder]
    return args


@lru_cache(maxsize=1)
def matplotlib_font_cache() -> list[Path]:
    """matplotlib's font list, built once per matplotlib version and font set, for every worker.

    A worker's home is an empty tmpfs, so each notebook that imports matplotlib rebuilt the list
    (running fc-list and reading every font's header: about 0.2-0.4 s per submission). The list is
    built here by a trusted interpreter (never a student's) and bound read-only where matplotlib
    looks for it. Keyed by matplotlib's version and the font folders' change times; [] when
    matplotlib is not installed or the build fails (the worker then builds its own, as before).
    """
    import importlib.metadata
    import importlib.util
    import subprocess

    if importlib.util.find_spec("matplotlib") is None:
        return []
    key = hashlib.sha256(importlib.metadata.version("matplotlib").encode())
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts", "/var/cache/fontconfig"):
        key.update(f"{folder}:{os.stat(folder).st_mtime_ns if os.path.isdir(folder) else 0}".encode())
    try:
        final = _private_root(FONT_CACHE_ROOT) / key.hexdigest()[:20]
        if not final.is_dir():
            building = Path(tempfile.mkdtemp(dir=final.parent, prefix=".building-"))
            subprocess.run([sys.executable, "-I", "-c", "import matplotlib.font_manager"], check=True, timeout=120,
                           env={"MPLCONFIGDIR": str(building), "PATH": "/usr/bin:/bin", "HOME": str(building)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for path in [building, *building.iterdir()]:
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            try:
                os.rename(building, final)
            except OSError:  # another grader published it first
                shutil.rmtree(building, ignore_errors=True)
        return sorted(final.glob("fontlist-*.json"))
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return []


def argv(*, bwrap: str, uid: int, binds: list[tuple[str, str]], tmp_mb: int, command: list[str],
         device: str = "cpu") -> list[str]:
    """The full bubblewrap command for one worker; ``command`` runs as ``uid`` inside."""
    size = str(tmp_mb * 1024 * 1024)
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid),
            "--hostname", "grader", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr"]
    for name in ROOT_LINKS:
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    for file in ETC_FILES:
        args += ["--ro-bind-try", file, file]
    for source, dest in binds:
        args += ["--ro-bind", source, dest]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm",
             "--dir", "/tmp/work", "--chdir", "/tmp/work", "--setenv", "HOME", "/tmp/work"]
    for font_list in matplotlib_font_cache():  # where matplotlib looks with HOME=/tmp/work
        args += ["--ro-bind", str(font_list), f"{MATPLOTLIB_CACHE}/{font_list.name}"]
    args += [*(gpu_args() if device == "cuda" else []), "--remount-ro", "/", *command]
    return args
