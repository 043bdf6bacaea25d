"""The trusted side's view of the student's code: a module-like proxy over the worker.

``submission.pca(X, 2)`` sends a request to the worker and returns *data*. Objects the student
builds stay in the worker; the test holds ``RemoteObject`` handles that forward attribute access,
calls and indexing, and refuse ``==``, ordering, arithmetic, ``bool`` and ``hash``: the student's
own ``__eq__``/``__lt__``/``__sub__`` would decide the comparison. Tests read values out instead
(``np.asarray(handle)``, ``float(handle)``, an attribute holding data) and compare those trusted
copies. A worker that dies or overruns is killed and restarted on the next request; its old handles
become invalid. The notebook is loaded once per worker start under the notebook limit; a notebook
that cannot load fails every later request at once with the same reason.
"""

from __future__ import annotations

import builtins
import secrets
import time
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

from coursekit.grading import protocol
from coursekit.grading.calls import CallLog
from coursekit.grading.errors import (  # noqa: F401 - re-exported: plugin/backends import them from here
    GradingError, ReplyTooLarge, StudentCodeError, WorkerCrashed, WorkerTimeout, error_class)
from coursekit.grading.handles import RemoteObject
from coursekit.grading.notebook import CodeCell
from coursekit.grading.sandbox import SandboxSpec, WorkerProcess
from coursekit.grading.trusted_limits import bound_own_memory

MB = 1024 * 1024


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
                 call_seconds: float, reply_limit: int = protocol.REPLY_LIMIT, bound_memory: bool = True):
        self.cells, self.spec = cells, spec
        self.notebook_seconds, self.call_seconds = notebook_seconds, call_seconds
        self.reply_limit = reply_limit
        self.bound_memory = bound_memory
        self.worker: WorkerProcess | None = None
        self.generation = 0
        self.restarts = -1
        self.notebook_errors: list[dict] = []
        self.load_error: str | None = None
        self.load_timed_out = False
        self.forbid: list[str] = []
        self.deadline_override: float | None = None
        self.test_deadline: float | None = None
        self.calls = CallLog()
        self.allow_operators = False  # set per test by the plugin for tests marked @operators
        self._next_id = 0
        self.outputs: list[str] = []
        self.peak_rss_mb: float = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start a worker and run the notebook in it, under the notebook limit (or the test's, if sooner).

        A notebook that cannot be run (too slow, kills its process, answers garbage) sets
        ``load_error`` at once: every later request fails with that reason, nothing is retried.
        """
        if self.bound_memory:  # before the first reply is read; once per process
            bound_own_memory(self.spec.memory_mb)
            self.bound_memory = False
        self.stop()
        self.generation += 1
        self.restarts += 1
        self.worker = WorkerProcess(self.spec)
        self.reader = protocol.FrameReader(self.worker.response_r, max_header=protocol.REPLY_HEADER_LIMIT,
                                           max_total=self.reply_limit)
        notebook_deadline = time.monotonic() + self.notebook_seconds
        deadline = min(notebook_deadline, self.test_deadline or notebook_deadline)
        try:
            header, _ = self._roundtrip({"op": "load", "cells": [[c.index, c.source] for c in self.cells]}, [],
                                        deadline)
        except WorkerTimeout:
            if deadline < notebook_deadline:  # a restart inside a test ran out of *that test's* time
                raise WorkerTimeout("restarting your code (after it crashed) did not finish within this "
                                    "test's time limit") from None
            self.load_timed_out = True
            self._fail_load(f"running the notebook's cells took longer than {self.notebook_seconds:.0f} s: "
                            "move slow code (training, plots) into cells tagged `ungraded` or make it faster")
        except WorkerCrashed as exc:
            self._fail_load(f"running your notebook's cells failed: {exc}")
        errors = header.get("errors")
        self.notebook_errors = [e for e in errors[:50] if isinstance(e, dict)] if isinstance(errors, list) else []

    def _fail_load(self, reason: str) -> None:
        self.stop()  # frees the slot now, not after every test has failed
        self.load_error = reason
        raise (WorkerTimeout if self.load_timed_out else WorkerCrashed)(reason) from None

    def stop(self) -> None:
        if self.worker is not None:
            self.peak_rss_mb = max(self.peak_rss_mb, self.worker.peak_rss_mb() or 0.0)
            self.worker.kill()
            self._keep_output(self.worker.output.text())
            self.worker = None

    def _keep_output(self, text: str) -> None:
        # Each worker's output is already cut at output_kb; restarts must not add up without bound.
        limit = 4 * max(1, self.spec.output_kb) * 1024
        kept = sum(len(t) for t in self.outputs)
        if kept < limit:
            self.outputs.append(text[:limit - kept])
        elif not self.outputs or not self.outputs[-1].endswith("cut ...]\n"):
            self.outputs.append("\n[... output of later restarts cut ...]\n")

    def ensure(self) -> None:
        if self.load_error:  # the notebook itself cannot be run: don't pay for it again per test
            raise (WorkerTimeout if self.load_timed_out else WorkerCrashed)(self.load_error)
        if self.worker is None or not self.worker.alive():
            self.start()

    def prepare(self) -> None:
        """Load the notebook now (before any test's clock starts); a failure is kept in ``load_error``."""
        try:
            self.ensure()
        except GradingError:
            pass

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
        except protocol.FrameTooLarge as exc:
            self.stop()  # the rest of that frame is never read: the channel is unusable now
            raise ReplyTooLarge(f"your code returned {exc.size / MB:.0f} MB; the limit is {exc.limit / MB:.0f} MB "
                                "(return a smaller value, e.g. a summary instead of every intermediate)") from None
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
        except BaseException:
            self.stop()  # e.g. pytest-timeout interrupting a read: a half-read channel is never reused
            raise

    def request(self, op: str, **fields: Any) -> Any:
        label = _label_of(op, fields)
        try:
            value = self._request(op, fields)
        except GradingError:
            if label:
                self.calls.raised(label)
            raise
        if label and op != "getattr":  # a name that exists has not "returned" anything yet
            self.calls.returned(label)
        if isinstance(value, RemoteObject):
            parent = fields.get("target")
            name = fields.get("name")
            if op == "getattr" and isinstance(parent, RemoteObject):
                object.__setattr__(value, "_label", f"{parent._label}.{name}")
            elif op == "getattr":
                object.__setattr__(value, "_label", str(name))
        return value

    def _request(self, op: str, fields: dict) -> Any:
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
        cls = error_class(error.get("bases") or [])
        raise cls(str(error.get("type", "Error"))[:100], str(error.get("message", ""))[:2000],
                  str(error.get("traceback", ""))[:6000], kind=str(error.get("kind", "student")))

    def _handle(self, ref: dict) -> "RemoteObject":
        handle = ref.get("__handle__")
        if not isinstance(handle, int):
            raise protocol.ProtocolError("bad handle")
        type_name = str(ref.get("type", "object"))[:100]
        return RemoteObject(self, handle, self.generation, type_name)

    @staticmethod
    def _refuse_object(value: Any) -> Any:
        if isinstance(value, RemoteObject):
            return value._ref()
        raise TypeError(f"cannot send a {type(value).__name__} to the student's code; send data "
                        "(numbers, strings, lists, dicts, arrays, tensors) or handles")


def _label_of(op: str, fields: dict) -> str | None:
    """Which student code a request exercises (for the raise-test rule in ``calls``): ``pca``,
    ``Counter`` (its constructor), ``Counter.tick``, ``Tensor.__add__`` (operators, in @operators tests)."""
    target = fields.get("target")
    if op == "call" and isinstance(target, RemoteObject):
        return target._label
    if op == "getattr" and target is None:  # a missing top-level name "raises" for that name
        return str(fields.get("name"))
    # Not len/iter/indexing: `pytest.raises(TypeError): len(gen)` checks a *property* (a generator,
    # not a list) of a function tested elsewhere; m04's batching test does exactly that.
    if op in ("binop", "unop"):
        operands = [fields.get(k) for k in ("left", "right", "operand")]
        handle = next((o for o in operands if isinstance(o, RemoteObject)), None)
        if handle is not None:
            return f"{handle._type}.__{str(fields.get('name')).rstrip('_')}__"
    return None


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
