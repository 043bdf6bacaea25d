"""Process-wide protection of a ``Ban`` that student code cannot switch off (grader worker only).

``Ban`` alone lives inside the student's process: code could turn its profile hook off, walk up
the stack to the grader's frames, dig the original functions out with ``gc``, call LAPACK through
``ctypes``, or do the work in a helper thread or process the hook never sees. ``install()`` runs
once per worker, before any student code, and adds what Python offers against each:

- a PEP 578 audit hook (it cannot be removed once added) that, while a ban is active, refuses
  profile/trace changes, frame walking, ``gc`` introspection, ``ctypes``, new processes and
  imports of banned modules, and code-object swaps; a refusal is a sticky violation;
- guards: every compiled callable of a banned family that the profile hook cannot see (ufuncs
  such as ``np.matmul`` and the ``_umath_linalg`` gufuncs, NumPy's C dispatchers, ``operator.matmul``)
  is replaced, in every module that holds it, by a guard. Student code only ever sees the guard,
  so a reference captured at import time, in a default argument, a closure or ``functools.partial``
  is still refused while banned; outside a ban the guard just calls through;
- thread and process starters are guarded too, and a ban refuses to start while another thread or
  a child process of the worker is alive (work handed to them would run unobserved).

What an audit hook cannot see (tampering done while no ban is active, e.g. at import time) is
the trusted-side static check's job (``coursekit.grading.static_check``).
"""

from __future__ import annotations

import _thread
import glob
import sys
import threading
import types
from typing import Any, Callable

# Audit events refused while a ban is active (https://docs.python.org/3/library/audit_events.html).
REFUSED_EVENTS: dict[str, str] = {
    "sys.setprofile": "sys.setprofile (switching the ban's hook off)",
    "sys.settrace": "sys.settrace (switching the ban's hook off)",
    "sys._getframe": "sys._getframe (walking the grader's stack)",
    "sys._current_frames": "sys._current_frames (walking the grader's stack)",
    "gc.get_objects": "gc.get_objects (digging out banned functions)",
    "gc.get_referrers": "gc.get_referrers (digging out banned functions)",
    "gc.get_referents": "gc.get_referents (digging out banned functions)",
    "os.fork": "os.fork (work in a helper process)", "os.forkpty": "os.forkpty (work in a helper process)",
    "os.posix_spawn": "os.posix_spawn (work in a helper process)", "os.spawn": "os.spawn (a helper process)",
    "os.exec": "os.exec (replacing the worker)", "os.system": "os.system (a helper process)",
    "subprocess.Popen": "subprocess (a helper process)", "pty.spawn": "pty.spawn (a helper process)",
}
REFUSED_PREFIXES = ("ctypes.", "_ctypes.", "cffi.", "winreg.")
# object.__getattr__ is audited only for these restricted attributes; the frame-reaching ones are refused
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back", "gi_code", "cr_code", "ag_code"}
CODE_ATTRIBUTES = {"__code__"}

# Compiled callables the profile hook cannot see, guarded everywhere they are held: dotted name -> how to get it.
GUARDED: tuple[str, ...] = (
    "numpy.matmul", "numpy.dot", "numpy.vdot", "numpy.inner", "numpy.vecdot", "numpy.matvec", "numpy.vecmat",
    "numpy.einsum", "numpy.tensordot", "numpy._core.multiarray.c_einsum", "operator.matmul",
)
THREAD_STARTERS = ("_thread.start_new_thread", "_thread.start_new")
# Extension modules whose every routine is guarded as soon as student code imports them (f2py objects:
# invisible to the profile hook, and handed out by scipy.linalg.blas/lapack and get_blas_funcs).
GUARDED_MODULES = ("scipy.linalg._fblas", "scipy.linalg._flapack", "scipy.linalg._fblas_64", "scipy.linalg._flapack_64")
THREADS = "threads"


class Sealed(type):
    """Metaclass of the ban's classes: their methods cannot be replaced by assignment.

    (Python 3.11 does not audit setting a class attribute; ``type.__setattr__(cls, ...)`` still
    works and is what the static check flags, with every other ``__setattr__`` call.)
    """

    def __setattr__(cls, name: str, value: Any) -> None:
        raise AttributeError(f"{cls.__name__} belongs to the grader's ban and cannot be changed")

    def __delattr__(cls, name: str) -> None:
        raise AttributeError(f"{cls.__name__} belongs to the grader's ban and cannot be changed")


class Guard(metaclass=Sealed):
    """Stands in for one compiled callable; refuses it while a ban covering ``name`` is active."""

    __slots__ = ("__name__", "__qualname__", "_invoke", "_forward", "_store", "guard_name")

    def __init__(self, name: str, invoke: Callable, forward: Callable, store: Callable):
        for slot, value in (("__name__", name.rpartition(".")[2]), ("__qualname__", name.rpartition(".")[2]),
                            ("guard_name", name), ("_invoke", invoke), ("_forward", forward), ("_store", store)):
            object.__setattr__(self, slot, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._invoke(args, kwargs)

    def __getattr__(self, attr: str) -> Any:  # np.matmul.reduce, .nin, .signature ...
        return self._forward(attr)

    def __setattr__(self, attr: str, value: Any) -> None:  # scipy tags its f2py routines (func.dtype = ...)
        self._store(attr, value)

    def __repr__(self) -> str:
        return f"<guarded {self.guard_name}>"


GUARD_CALL_CODE = Guard.__call__.__code__


class Shield(metaclass=Sealed):
    """The worker's one shield; ``Ban(shield=...)`` activates it for the length of a banned call."""

    def __init__(self) -> None:
        self._cell: list[Any] = [None]  # the active Ban (a list so closures share it)
        self.guards: dict[int, Guard] = {}   # id(original) -> its guard
        self._originals: dict[int, Any] = {}  # keeps originals alive so ids stay unique

    # ------------------------------------------------------------------ installation
    def install(self, compiled: tuple[str, ...], protected: tuple[type, ...] = ()) -> "Shield":
        cell = self._cell
        protected_types = (Guard, Shield, *protected)

        def audit(event: str, args: tuple) -> None:
            # hot path: id() is audited and the profile hook calls it on every C call of a banned call
            if event == "builtins.id":
                return
            if event == "object.__setattr__" and args and _tampers(args, protected_types):
                # at any time, not only during a ban: import-time code must not rewire the machinery
                raise RuntimeError("the grader's ban machinery cannot be changed")
            ban = cell[0]
            if ban is None:
                return
            reason = _refusal(event, args, ban)
            if reason is not None:
                ban._violate(reason)

        sys.addaudithook(audit)
        sys.meta_path.insert(0, _GuardingFinder(self, GUARDED_MODULES))
        for name in GUARDED_MODULES:  # already imported before the worker started (not usually)
            if name in sys.modules:
                self.guard_module(sys.modules[name])
        for dotted in compiled:
            self._guard(dotted, lambda ban, name: ban.covering(name))
        for dotted in THREAD_STARTERS:
            self._guard(dotted, lambda ban, name: THREADS)
        return self

    def _guard(self, dotted: str, label_of: Callable[[Any, str], str | None]) -> None:
        module_name, _, attr = dotted.rpartition(".")
        module = sys.modules.get(module_name)
        original = getattr(module, attr, None) if module is not None else None
        if original is None or isinstance(original, Guard):
            return
        guard = self._make(original, dotted, label_of)
        self.guards[id(original)] = guard
        self._originals[id(original)] = original
        for holder in list(sys.modules.values()):  # every module that imported it under any name
            namespace = getattr(holder, "__dict__", None)
            if not isinstance(namespace, dict) or getattr(holder, "__name__", "").startswith("coursekit"):
                continue
            for key, value in list(namespace.items()):
                if value is original:
                    namespace[key] = guard
        if dotted.startswith("_thread."):
            threading._start_new_thread = self.guards.get(id(_thread.start_new_thread), threading._start_new_thread)

    def _make(self, original: Any, dotted: str, label_of: Callable[[Any, str], str | None]) -> Guard:
        cell = self._cell

        def invoke(args: tuple, kwargs: dict) -> Any:
            ban = cell[0]
            if ban is not None and (dotted in THREAD_STARTERS or threading.get_ident() != ban.thread):
                # the profile hook watches the banned call's thread only; any other thread is refused here,
                # and no thread may start (nothing would watch it)
                label = label_of(ban, dotted)
                if label is not None:
                    ban._violate(label)
            return original(*args, **kwargs)

        def forward(attr: str) -> Any:
            value = getattr(original, attr)
            if callable(value) and not isinstance(value, type):
                return self._make(value, f"{dotted}.{attr}", lambda ban, name: label_of(ban, dotted))
            return value

        return Guard(dotted, invoke, forward, lambda attr, value: setattr(original, attr, value))

    def guard_module(self, module: types.ModuleType) -> None:
        """Guard every public routine of a freshly imported extension module, before anyone else sees it."""
        for attr, value in list(vars(module).items()):
            if attr.startswith("_") or not callable(value) or isinstance(value, (type, Guard, types.ModuleType)):
                continue
            guard = self._make(value, f"{module.__name__}.{attr}", lambda ban, name: ban.covering(name))
            self.guards[id(value)] = guard
            self._originals[id(value)] = value
            setattr(module, attr, guard)

    # ------------------------------------------------------------------ activation
    @staticmethod
    def check_alone(ban: Any) -> None:
        """Refuse to start while other threads or child processes could do the work unobserved."""
        if len(sys._current_frames()) > 1:
            ban._violate(f"{THREADS} (another thread is running during this part)")
        if _children():
            ban._violate("a helper process (a child process is running during this part)")

    def activate(self, ban: Any) -> None:
        ban.thread = threading.get_ident()
        self._cell[0] = ban

    def deactivate(self) -> None:
        self._cell[0] = None

    def guard_label(self, frame: types.FrameType, ban: Any) -> str | None:
        """For the profile hook: the label of a guard called from ``frame`` (a Guard.__call__ frame)."""
        guard = frame.f_locals.get("self")
        if isinstance(guard, Guard):
            name = guard.guard_name
            if name.startswith("_thread."):
                return THREADS
            return ban.covering(name) or ban.covering(name.rsplit(".", 1)[0])
        return None


class _GuardingFinder:
    """Import hook: guards ``modules`` right after they execute, before the importer gets them."""

    def __init__(self, shield: Shield, modules: tuple[str, ...]):
        self.shield, self.modules = shield, modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                loader, shield = spec.loader, self.shield
                exec_module = loader.exec_module

                def exec_and_guard(module: types.ModuleType) -> None:
                    exec_module(module)
                    shield.guard_module(module)

                loader.exec_module = exec_and_guard
                return spec
        return None


def _tampers(args: tuple, protected_types: tuple[type, ...]) -> bool:
    """Setting an attribute of the ban's own classes, or the code/defaults of its functions."""
    target = args[0]
    if any(target is cls for cls in protected_types):
        return True
    return (len(args) > 1 and args[1] in ("__code__", "__defaults__", "__kwdefaults__")
            and getattr(target, "__module__", None) in ("coursekit_student.shield", "coursekit_student.forbid"))


def _library_frame(frame: Any, ban: Any) -> bool:
    """The frame sys._getframe returns belongs to neither the student's code nor the grader's."""
    code = getattr(frame, "f_code", None)
    if code is None:
        return False
    name = code.co_filename
    return not ban.is_student_code(code) and "coursekit" not in name and not name.startswith("<")


def _refusal(event: str, args: tuple, ban: Any) -> str | None:
    if event in ("sys.settrace", "sys.setprofile") and ban.violations:
        # the interpreter removes a trace/profile function that raised (ours, on a violation): the call
        # is already forbidden, and the first violation must stay the reason the student is told
        return None
    if event == "sys._getframe" and args and _library_frame(args[0], ban):
        # Libraries look at their own frames (torch's tracing helpers, enum/namedtuple/typing creation,
        # logging): the frame handed out is theirs, not the student's or the grader's. Handing the
        # student's own frame to anyone (inspect.currentframe(), sys._getframe() in a cell) stays refused,
        # and the static check holds parts whose code names a frame-walking helper.
        return None
    reason = REFUSED_EVENTS.get(event)
    if reason is not None:
        return reason
    if event.startswith(REFUSED_PREFIXES):
        return f"{event.split('.')[0]} (calling compiled code directly)"
    if event == "object.__getattr__" and len(args) > 1 and args[1] in FRAME_ATTRIBUTES:
        return f"{args[1]} (walking the grader's stack)"
    if event == "object.__setattr__" and len(args) > 1 and args[1] in CODE_ATTRIBUTES:
        return "__code__ (swapping a function's code)"
    if event == "import" and args and isinstance(args[0], str) and args[0] not in sys.modules:
        return ban.covering(args[0])
    return None


def _children() -> list[str]:
    """Pids of this process's live children (Linux ``/proc/self/task/*/children``; empty elsewhere)."""
    pids: list[str] = []
    for path in glob.glob("/proc/self/task/*/children"):
        try:
            with open(path) as handle:
                pids += handle.read().split()
        except OSError:
            continue
    return pids


def install() -> Shield:
    """Install the process-wide shield (once, before any student code runs)."""
    import numpy  # noqa: F401 - its compiled callables must be guarded before student code captures them
    import numpy.linalg._umath_linalg as gufuncs

    compiled = GUARDED + tuple(f"numpy.linalg._umath_linalg.{name}" for name in dir(gufuncs)
                               if not name.startswith("_") and callable(getattr(gufuncs, name)))
    from coursekit_student.forbid import Ban  # imported here: forbid imports this module

    return Shield().install(compiled, protected=(Ban,))
