"""The ``submission`` fixture inside the student's own kernel.

In the grader, ``submission`` is a proxy into a sandboxed worker. In the student's kernel it is
the live ``__main__`` namespace plus a best-effort :class:`LocalKit`: same API, weaker
guarantees (nothing here can stop a determined student, and nothing needs to: these are the
public tests, run for the student's benefit; the grader enforces the real limits).
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
import time
import tracemalloc
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from coursekit_student.forbid import Ban, ForbiddenError


def user_namespace() -> dict[str, Any]:
    """The globals of the student's notebook (IPython's user namespace, or ``__main__``)."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain python, no IPython installed
        get_ipython = None  # type: ignore[assignment]
    shell = get_ipython() if get_ipython else None
    if shell is not None:
        return shell.user_ns
    return sys.modules["__main__"].__dict__


def is_student_frame(frame: types.FrameType | None, namespace: dict[str, Any]) -> bool:
    """Code defined in the notebook runs with the notebook's namespace as its globals."""
    return frame is not None and frame.f_globals is namespace


def student_code(namespace: dict[str, Any]) -> Callable[[types.CodeType], bool]:
    """Whether a code object was compiled from a notebook cell (what ``Ban`` may trace and refuse)."""
    files: set[str] = set()
    try:
        from IPython import get_ipython

        shell = get_ipython()
        files.update(getattr(getattr(shell, "compile", None), "_filename_map", {}) or {})
    except ImportError:
        pass
    for value in list(namespace.values()):
        if getattr(value, "__module__", None) != "__main__":
            continue  # imported from a library, not written in the notebook
        members = vars(value).values() if isinstance(value, type) else [value]
        for member in members:
            code = getattr(getattr(member, "__func__", member), "__code__", None)
            if code is not None:
                files.add(code.co_filename)
    return lambda code: code.co_filename in files


class LocalKit:
    """The Kit (see ``coursekit_student.testing.Kit``) for the student's own kernel."""

    def __init__(self, namespace: dict[str, Any], device: str) -> None:
        self._namespace = namespace
        self.device = device
        self.banned: list[tuple[str, ...]] = []

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Interrupt the calls inside after ``seconds`` (SIGALRM; a no-op off the main thread)."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            yield
            return

        def expired(signum: int, frame: Any) -> None:
            raise TimeoutError(f"took longer than the {seconds:g} s this check allows")

        previous = signal.signal(signal.SIGALRM, expired)
        outer, _ = signal.setitimer(signal.ITIMER_REAL, float(seconds))
        started = time.monotonic()
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer > 0:  # a test's @timeout around a kit.deadline(): give the outer one its remaining time
                signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3))

    @contextmanager
    def forbid(self, *names: str) -> Iterator[None]:
        """Make ``names`` unavailable to the notebook's functions called through ``submission`` inside.

        Like the grader, the ban (``coursekit_student.forbid.Ban``) is active only during calls into
        student code, so the test's own oracles (``np.linalg`` in the test) keep working.
        """
        self.banned.append(tuple(names))
        try:
            yield
        finally:
            self.banned.pop()

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call a notebook function under the bans in force (sticky: a caught violation still counts)."""
        names = tuple(dict.fromkeys(n for group in self.banned for n in group))
        if not names:
            return fn(*args, **kwargs)
        ban = Ban(names, is_student_code=student_code(self._namespace), namespaces=[self._namespace])
        with ban:
            result = fn(*args, **kwargs)
        if ban.violations:
            raise ForbiddenError(ban.violations[0])
        return result

    def reset_peak_memory(self) -> None:
        """Start a new peak: Linux resets VmHWM via clear_refs; elsewhere tracemalloc restarts."""
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        else:
            tracemalloc.start()

    def peak_memory_mb(self) -> float:
        """Peak resident memory of this kernel since the last reset, in MB."""
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        if tracemalloc.is_tracing():
            return tracemalloc.get_traced_memory()[1] / 2**20
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def has(self, name: str) -> bool:
        """Whether the notebook defines ``name`` (a cell defining it has been run)."""
        return name in self._namespace


class NotDefined(AttributeError):
    """The test asked for a name the notebook has not defined (yet)."""


class Submission:
    """The notebook's namespace seen as a module: ``submission.pca(X, 2)`` calls the live definition."""

    def __init__(self, namespace: dict[str, Any], kit: LocalKit) -> None:
        object.__setattr__(self, "_namespace", namespace)
        object.__setattr__(self, "__kit__", kit)

    def __getattr__(self, name: str) -> Any:
        namespace = object.__getattribute__(self, "_namespace")
        try:
            value = namespace[name]
        except KeyError:
            raise NotDefined(f"`{name}` is not defined: run the cell that defines it (or Run All above this cell)") from None
        if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
            kit = object.__getattribute__(self, "__kit__")
            return functools.wraps(value)(functools.partial(kit.call, value))
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("tests may not change the student's notebook")

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_namespace"))

    def __repr__(self) -> str:
        return "<submission: this notebook's namespace>"


def detect_device() -> str:
    """``cuda`` only if torch is already loaded and sees a GPU: importing torch just to ask costs seconds."""
    torch = sys.modules.get("torch")
    try:
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    except Exception:  # a half-initialised torch: treat as no GPU
        return "cpu"
