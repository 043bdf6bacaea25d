"""The ``submission`` fixture inside the student's own kernel.

In the grader, ``submission`` is a proxy into a sandboxed worker. In the student's kernel it is
the live ``__main__`` namespace plus a best-effort :class:`LocalKit`: same API, weaker
guarantees (nothing here can stop a determined student, and nothing needs to: these are the
public tests, run for the student's benefit; the grader enforces the real limits).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import signal
import sys
import threading
import tracemalloc
import types
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


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


class Forbidden(Exception):
    """Raised when student code uses something a test made unavailable."""


def _forbidden(name: str) -> Forbidden:
    return Forbidden(f"`{name}` is not allowed in this part: write it yourself (the grader blocks it too)")


class _GuardedModule(types.ModuleType):
    """Stands in for a forbidden module: the test's own code passes through, the notebook's is refused."""

    def __init__(self, real: types.ModuleType, name: str, namespace: dict[str, Any]) -> None:
        super().__init__(real.__name__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_label", name)
        object.__setattr__(self, "_namespace", namespace)

    def __getattr__(self, attr: str) -> Any:
        if is_student_frame(sys._getframe(1), object.__getattribute__(self, "_namespace")):
            raise _forbidden(object.__getattribute__(self, "_label"))
        return getattr(object.__getattribute__(self, "_real"), attr)


def _guard_callable(fn: Callable, name: str, namespace: dict[str, Any]) -> Callable:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if is_student_frame(sys._getframe(1), namespace):
            raise _forbidden(name)
        return fn(*args, **kwargs)

    guarded.__wrapped__ = fn  # type: ignore[attr-defined]
    return guarded


def _resolve(dotted: str) -> tuple[Any, str, Any] | None:
    """(parent object, attribute, current value) for an importable dotted name, else None."""
    head, _, attr = dotted.rpartition(".")
    if not head:
        return None
    try:
        parent = importlib.import_module(head)
    except ImportError:
        try:
            resolved = _resolve(head)
        except ImportError:
            return None
        if resolved is None:
            return None
        parent = resolved[2]
    if not hasattr(parent, attr):
        return None
    return parent, attr, getattr(parent, attr)


@contextmanager
def _patched(obj: Any, attr: str, value: Any) -> Iterator[None]:
    old = getattr(obj, attr)
    try:
        setattr(obj, attr, value)
    except (AttributeError, TypeError):  # C types refuse; best effort
        yield
        return
    try:
        yield
    finally:
        setattr(obj, attr, old)


@contextmanager
def _import_guard(prefixes: tuple[str, ...], namespace: dict[str, Any]) -> Iterator[None]:
    """Refuse ``import sklearn`` written in the notebook while a test forbids it."""
    real_import = builtins.__import__

    def guarded_import(name: str, globals: Any = None, *args: Any, **kwargs: Any) -> Any:
        if globals is namespace and any(name == p or name.startswith(p + ".") for p in prefixes):
            raise _forbidden(name)
        return real_import(name, globals, *args, **kwargs)

    builtins.__import__ = guarded_import
    try:
        yield
    finally:
        builtins.__import__ = real_import


class LocalKit:
    """The Kit (see ``coursekit_student.testing.Kit``) for the student's own kernel."""

    def __init__(self, namespace: dict[str, Any], device: str) -> None:
        self._namespace = namespace
        self.device = device

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Interrupt the calls inside after ``seconds`` (SIGALRM; a no-op off the main thread)."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            yield
            return

        def expired(signum: int, frame: Any) -> None:
            raise TimeoutError(f"took longer than the {seconds:g} s this check allows")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, float(seconds))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    @contextmanager
    def forbid(self, *names: str) -> Iterator[None]:
        """Make ``names`` fail when the notebook's own code uses them (the tests' code is unaffected).

        Best effort: module attributes and functions are swapped for guards and notebook-level
        ``import`` is refused. The ``@`` operator on NumPy arrays cannot be intercepted in-process;
        the grader enforces it.
        """
        with ExitStack() as stack:
            modules = tuple(n for n in names if n != "@" and (n in sys.modules or _is_module(n)))
            stack.enter_context(_import_guard(modules, self._namespace))
            for name in names:
                if name == "@":
                    continue
                resolved = _resolve(name)
                if resolved is None:
                    continue
                parent, attr, value = resolved
                guard = (_GuardedModule(value, name, self._namespace) if isinstance(value, types.ModuleType)
                         else _guard_callable(value, name, self._namespace) if callable(value) else None)
                if guard is None:
                    continue
                stack.enter_context(_patched(parent, attr, guard))
                # `from numpy.linalg import solve` at the top of the notebook bound the real object.
                for key, bound in list(self._namespace.items()):
                    if bound is value:
                        stack.enter_context(_dict_patched(self._namespace, key, guard))
            yield

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


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@contextmanager
def _dict_patched(mapping: dict[str, Any], key: str, value: Any) -> Iterator[None]:
    old = mapping[key]
    mapping[key] = value
    try:
        yield
    finally:
        if mapping.get(key) is value:  # the student may have rebound it meanwhile
            mapping[key] = old


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
            return namespace[name]
        except KeyError:
            raise NotDefined(f"`{name}` is not defined: run the cell that defines it (or Run All above this cell)") from None

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
