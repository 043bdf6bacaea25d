"""The trusted side's view of the student's code: a module-like proxy over the worker.

``submission.pca(X, 2)`` sends a request to the worker and returns *data*. Objects the student
builds stay in the worker; the test holds ``RemoteObject`` handles that forward attribute access,
calls, indexing and arithmetic, and refuse ``==``, ``bool`` and ``hash`` (an object's own
``__eq__`` is never trusted). A worker that dies or overruns is killed and restarted on the next
request; its old handles become invalid.
"""

from __future__ import annotations

import builtins
import secrets
import time
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from coursekit.grading import protocol
from coursekit.grading.notebook import CodeCell
from coursekit.grading.sandbox import SandboxSpec, WorkerProcess


class GradingError(Exception):
    """Base of errors that describe what the student's code did, for the student."""

    kind = "error"


class StudentCodeError(GradingError):
    """The student's code raised. Subclassed on the fly with the builtin type it raised."""

    kind = "student"

    def __init__(self, type_name: str, message: str, traceback: str, kind: str = "student"):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message, self.student_traceback, self.kind = type_name, message, traceback, kind


class WorkerTimeout(GradingError):
    kind = "timeout"


class WorkerCrashed(GradingError):
    kind = "crashed"


_ERROR_CLASSES: dict[tuple[str, ...], type] = {}


def _error_class(bases: list[str]) -> type:
    """StudentCodeError that is also the student's builtin exception type (e.g. ValueError)."""
    builtin_types = []
    for name in bases:
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception) and cls is not Exception:
            builtin_types.append(cls)
            break  # the most derived builtin is enough; later ones are its bases
    key = tuple(c.__name__ for c in builtin_types)
    if key not in _ERROR_CLASSES:
        _ERROR_CLASSES[key] = type(f"Student{''.join(key) or 'Error'}", (StudentCodeError, *builtin_types), {})
    return _ERROR_CLASSES[key]


def _reemit(warning_list: list) -> None:
    for item in warning_list or []:
        category = UserWarning
        for name in item.get("bases", []):
            cls = getattr(builtins, name, None)
            if isinstance(cls, type) and issubclass(cls, Warning):
                category = cls
                break
        warnings.warn(str(item.get("message", ""))[:500], category, stacklevel=3)


class Bridge:
    """Owns the worker process for one submission and turns requests into values or errors."""

    def __init__(self, *, cells: list[CodeCell], spec: SandboxSpec, notebook_seconds: float,
                 call_seconds: float):
        self.cells, self.spec = cells, spec
        self.notebook_seconds, self.call_seconds = notebook_seconds, call_seconds
        self.worker: WorkerProcess | None = None
        self.generation = 0
        self.restarts = -1
        self.notebook_errors: list[dict] = []
        self.load_error: str | None = None
        self.failed_starts = 0
        self.forbid: list[str] = []
        self.deadline_override: float | None = None
        self.test_deadline: float | None = None
        self._next_id = 0
        self.outputs: list[str] = []
        self.peak_rss_mb: float = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.stop()
        self.generation += 1
        self.restarts += 1
        self.worker = WorkerProcess(self.spec)
        self.reader = protocol.FrameReader(self.worker.response_r)
        deadline = time.monotonic() + self.notebook_seconds
        try:
            header, _ = self._roundtrip({"op": "load", "cells": [[c.index, c.source] for c in self.cells]}, [],
                                        deadline)
        except WorkerTimeout:
            self.load_error = (f"running the notebook's cells took longer than {self.notebook_seconds:.0f} s: "
                               "move slow code (training, plots) into cells tagged `ungraded` or make it faster")
            raise WorkerTimeout(self.load_error) from None
        self.notebook_errors = header.get("errors", []) if isinstance(header.get("errors"), list) else []

    def stop(self) -> None:
        if self.worker is not None:
            self.peak_rss_mb = max(self.peak_rss_mb, self.worker.peak_rss_mb() or 0.0)
            self.worker.kill()
            self.outputs.append(self.worker.output.text())
            self.worker = None

    def ensure(self) -> None:
        if self.load_error:  # the notebook itself cannot be run: don't pay for it again per test
            raise WorkerTimeout(self.load_error) if "longer than" in self.load_error else WorkerCrashed(self.load_error)
        if self.worker is None or not self.worker.alive():
            try:
                self.start()
            except WorkerCrashed as exc:
                self.failed_starts += 1
                if self.failed_starts >= 3:
                    self.load_error = f"running your notebook's cells failed {self.failed_starts} times: {exc}"
                raise
            self.failed_starts = 0

    def output_text(self) -> str:
        current = [self.worker.output.text()] if self.worker else []
        return "".join(self.outputs + current)

    # ------------------------------------------------------------------ requests
    def _deadline(self) -> float:
        seconds = self.deadline_override if self.deadline_override is not None else self.call_seconds
        deadline = time.monotonic() + seconds
        if self.test_deadline is not None:
            deadline = min(deadline, self.test_deadline)
        return deadline

    def _roundtrip(self, header: dict, blobs: list[bytes], deadline: float) -> tuple[dict, list[bytes]]:
        assert self.worker is not None
        self._next_id += 1
        header = dict(header, id=self._next_id, nonce=secrets.token_hex(16))
        try:
            protocol.write_frame(self.worker.request_w, header, blobs)
            while True:
                reply, reply_blobs = self.reader.read(deadline)
                if reply.get("id") == header["id"] and reply.get("nonce") == header["nonce"]:
                    return reply, reply_blobs
                raise protocol.ProtocolError("an answer that does not match the question")
        except protocol.Deadline:
            self.stop()
            raise WorkerTimeout("your code did not finish within the time limit") from None
        except (protocol.ProtocolError, OSError):
            description = "stopped"
            if self.worker:
                try:  # EOF usually means the process is exiting: give it a moment to say how
                    self.worker.process.wait(timeout=2)
                except Exception:
                    pass
                description = (self.worker.exit_description() if not self.worker.alive()
                               else "wrote something that is not an answer on the grader's channel")
            self.stop()
            raise WorkerCrashed(f"the process running your code stopped: {description}") from None

    def request(self, op: str, **fields: Any) -> Any:
        self.ensure()
        encoder = protocol.Encoder(self._refuse_object)
        header = {"op": op, "forbid": list(self.forbid)}
        for key, value in fields.items():
            header[key] = value if key in ("name",) else encoder.encode(value)
        reply, blobs = self._roundtrip(header, encoder.blobs, self._deadline())
        _reemit(reply.get("warnings"))
        if reply.get("ok"):
            decoder = protocol.Decoder(blobs, self._handle)
            try:
                return decoder.decode(reply.get("value"))
            except protocol.ProtocolError as exc:
                self.stop()
                raise WorkerCrashed(f"your code returned something the grader cannot read ({exc})") from None
        error = reply.get("error") or {}
        cls = _error_class(error.get("bases") or [])
        raise cls(str(error.get("type", "Error"))[:100], str(error.get("message", ""))[:2000],
                  str(error.get("traceback", ""))[:6000], kind=str(error.get("kind", "student")))

    def _handle(self, ref: dict) -> "RemoteObject":
        handle = ref.get("__handle__")
        if not isinstance(handle, int):
            raise protocol.ProtocolError("bad handle")
        return RemoteObject(self, handle, self.generation, str(ref.get("type", "object"))[:100])

    @staticmethod
    def _refuse_object(value: Any) -> Any:
        if isinstance(value, RemoteObject):
            return value._ref()
        raise TypeError(f"cannot send a {type(value).__name__} to the student's code; send data "
                        "(numbers, strings, lists, dicts, arrays, tensors) or handles")


class RemoteObject:
    """A handle to an object living in the worker. Compare its values, never the object."""

    __slots__ = ("_bridge", "_handle", "_generation", "_type")

    def __init__(self, bridge: Bridge, handle: int, generation: int, type_name: str):
        object.__setattr__(self, "_bridge", bridge)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_type", type_name)

    def _ref(self) -> dict:
        if self._generation != self._bridge.generation:
            raise WorkerCrashed("this object was lost when the process running your code was restarted")
        return {"__handle__": self._handle}

    def _op(self, op: str, **fields: Any) -> Any:
        return self._bridge.request(op, target=self, **fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._op("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._op("setattr", name=name, value=value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._op("call", args=list(args), kwargs=kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._op("getitem", key=key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._op("setitem", key=key, value=value)

    def __len__(self) -> int:
        value = self._op("len")
        if type(value) is not int:
            raise TypeError("len() of your object did not return an int")
        return value

    def __iter__(self) -> Iterator[Any]:
        return iter(self._op("iter"))

    def __repr__(self) -> str:
        return f"<your {self._type} object>"

    def __eq__(self, other: Any) -> bool:
        raise TypeError("objects from your code are compared by their values: read a value out first")

    __ne__ = __eq__

    def __bool__(self) -> bool:
        raise TypeError("objects from your code have no truth value here: read a value out first")

    def __hash__(self) -> int:
        raise TypeError("objects from your code cannot be hashed here")


def _binary(name: str, reflected: bool = False) -> Callable:
    def method(self: RemoteObject, other: Any) -> Any:
        left, right = (other, self) if reflected else (self, other)
        return self._bridge.request("binop", name=name, left=left, right=right)

    return method


def _unary(name: str) -> Callable:
    def method(self: RemoteObject) -> Any:
        return self._bridge.request("unop", name=name, operand=self)

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op_name = _name + "_" if _name in ("and", "or") else _name
    setattr(RemoteObject, f"__{_name}__", _binary(_op_name))
    setattr(RemoteObject, f"__r{_name}__", _binary(_op_name, reflected=True))
for _name in ("lt", "le", "gt", "ge"):
    setattr(RemoteObject, f"__{_name}__", _binary(_name))
for _name in ("neg", "pos", "abs", "invert", "float", "int"):
    setattr(RemoteObject, f"__{_name}__", _unary(_name))


class BridgeKit:
    """What tests may ask of the grader (see coursekit_student.testing.Kit)."""

    def __init__(self, bridge: Bridge, device: str):
        self.bridge, self.device = bridge, device

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        previous = self.bridge.deadline_override
        self.bridge.deadline_override = float(seconds)
        try:
            yield
        finally:
            self.bridge.deadline_override = previous

    @contextmanager
    def forbid(self, *names: str) -> Iterator[None]:
        previous = list(self.bridge.forbid)
        self.bridge.forbid = previous + list(names)
        try:
            yield
        finally:
            self.bridge.forbid = previous

    def peak_memory_mb(self) -> float:
        self.bridge.ensure()
        value = self.bridge.worker.peak_rss_mb()
        if value is None:
            raise RuntimeError("peak memory is not readable for this worker")
        return value

    def reset_peak_memory(self) -> None:
        self.bridge.ensure()
        self.bridge.worker.reset_peak_rss()

    def has(self, name: str) -> bool:
        return bool(self.bridge.request("has", name=name))


class SubmissionProxy:
    """``submission``: the student's notebook as a module, seen through the bridge."""

    def __init__(self, bridge: Bridge, device: str):
        object.__setattr__(self, "_bridge", bridge)
        object.__setattr__(self, "__kit__", BridgeKit(bridge, device))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._bridge.request("getattr", target=None, name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("tests may not rebind names in the student's module")

    def __repr__(self) -> str:
        return "<student submission>"
