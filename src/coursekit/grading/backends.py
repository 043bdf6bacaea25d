"""Where a test session sends the student's code: the sandbox (grading) or this process (authoring)."""

from __future__ import annotations

import random
import resource
import sys
import types
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator

from coursekit.grading.bridge import Bridge, GradingError, SubmissionProxy
from coursekit.grading.notebook import CodeCell
from coursekit_student.forbid import Ban


class SandboxBackend:
    """Student code in a sandboxed worker; the test sees a SubmissionProxy."""

    def __init__(self, bridge: Bridge, device: str):
        self.bridge = bridge
        self.proxy = SubmissionProxy(bridge, device)

    def begin_test(self, *, seed: int, forbid: list[str], deadline: float) -> None:
        self.bridge.test_deadline = deadline
        try:  # same seed for the same test on every run; a dead notebook shows up in the test itself
            self.bridge.request("seed", seed=seed)
        except GradingError:
            pass
        self.bridge.forbid = forbid

    def end_test(self) -> None:
        self.bridge.forbid, self.bridge.test_deadline, self.bridge.deadline_override = [], None, None


class _LocalKit:
    def __init__(self, backend: "LocalBackend", device: str):
        self.backend, self.device = backend, device

    def deadline(self, seconds: float):
        return nullcontext()

    @contextmanager
    def forbid(self, *names: str) -> Iterator[None]:
        previous = self.backend.forbid
        self.backend.forbid = previous + list(names)
        try:
            yield
        finally:
            self.backend.forbid = previous

    def peak_memory_mb(self) -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def reset_peak_memory(self) -> None:
        pass  # not resettable in-process; authoring only

    def has(self, name: str) -> bool:
        return name in self.backend.namespace


class _LocalProxy:
    def __init__(self, backend: "LocalBackend", device: str):
        object.__setattr__(self, "_backend", backend)
        object.__setattr__(self, "__kit__", _LocalKit(backend, device))

    def __getattr__(self, name: str) -> Any:
        namespace = self._backend.namespace
        if name not in namespace:
            raise AttributeError(f"your notebook does not define `{name}`")
        value = namespace[name]
        return self._backend.banned(value) if callable(value) else value


class LocalBackend:
    """In-process execution for authors (``python -m coursekit.grading.local``): NO isolation."""

    def __init__(self, cells: list[CodeCell], device: str = "cpu"):
        module = types.ModuleType("submission")
        self.namespace = module.__dict__
        self.forbid: list[str] = []
        self.errors: list[str] = []
        for cell in cells:
            try:
                exec(compile(cell.source, f"<cell {cell.index}>", "exec"), self.namespace)  # noqa: S102
            except BaseException as exc:  # keep going, like the worker
                self.errors.append(f"cell {cell.index}: {type(exc).__name__}: {exc}")
        self.proxy = _LocalProxy(self, device)

    def banned(self, fn: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.forbid:
                return fn(*args, **kwargs)
            ban = Ban(self.forbid, is_student_code=lambda c: c.co_filename.startswith("<cell "),
                      namespaces=[self.namespace])
            with ban:
                result = fn(*args, **kwargs)
            if ban.violations:
                from coursekit_student.forbid import ForbiddenError

                raise ForbiddenError(ban.violations[0])
            return result

        return call

    def begin_test(self, *, seed: int, forbid: list[str], deadline: float) -> None:
        random.seed(seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(seed % 2**32)
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(seed)
        self.forbid = list(forbid)

    def end_test(self) -> None:
        self.forbid = []
