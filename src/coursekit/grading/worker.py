"""The student's side: executes the notebook as a module and answers the grader's calls.

Started by ``sandbox`` (unprivileged uid, no network, resource limits). Everything here can be
tampered with by the student's code, so nothing here decides a score: the worker only computes
values and sends them back as data (see ``protocol``).
"""

from __future__ import annotations

import builtins
import linecache
import operator
import os
import random
import sys
import traceback
import types
import warnings
from typing import Any

from coursekit.grading import protocol
from coursekit_student import shield
from coursekit_student.forbid import Ban, ForbiddenError

CELL_PREFIX = "<cell "
MAX_ITER_ITEMS = 1_000_000
BINARY_OPS = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lt", "le", "gt", "ge",
    "and_", "or_", "xor", "lshift", "rshift")}
UNARY_OPS = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert,
             "float": float, "int": int}


class _Shell:
    """Stands in for IPython's shell: magics and shell escapes do nothing while grading."""

    def run_line_magic(self, *args: Any, **kwargs: Any) -> None:
        return None

    def run_cell_magic(self, *args: Any, **kwargs: Any) -> None:
        return None

    def system(self, *args: Any, **kwargs: Any) -> None:
        return None

    def getoutput(self, *args: Any, **kwargs: Any) -> list:
        return []


def is_student_code(code: types.CodeType) -> bool:
    return code.co_filename.startswith(CELL_PREFIX)


def _builtin_bases(cls: type) -> list[str]:
    return [c.__name__ for c in cls.__mro__ if c.__module__ == "builtins" and issubclass(c, BaseException)]


def _student_traceback(exc: BaseException) -> str:
    """Only the frames of the student's own cells (plus where it finally blew up)."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [f for f in frames if f.filename.startswith(CELL_PREFIX)]
    if frames and (not keep or frames[-1] is not keep[-1]):
        last = frames[-1]
        if not last.filename.startswith(CELL_PREFIX):
            keep.append(traceback.FrameSummary(os.path.basename(last.filename), last.lineno, last.name,
                                               line=last.line))
    lines = []
    for frame in keep[-8:]:
        where = frame.filename.strip("<>").replace("cell ", "Cell [") + "]" if frame.filename.startswith(
            CELL_PREFIX) else frame.filename
        lines.append(f"  {where}, line {frame.lineno}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    message = str(exc)[:2000]
    lines.append(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
    return "\n".join(lines)


def _as_array(obj: Any) -> Any:
    """A plain numeric ndarray copy of ``obj`` (tensors detached to CPU), or TypeError."""
    import numpy as np

    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu()
        obj = obj.float() if obj.dtype == torch.bfloat16 else obj
        array = obj.numpy()
    else:
        array = np.asarray(obj)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"a {type(obj).__name__} object is not an array of numbers")
    return np.array(array, copy=True)


class Worker:
    def __init__(self, fd_in: int, fd_out: int):
        self.reader = protocol.FrameReader(fd_in)
        self.fd_out = fd_out
        self.module = types.ModuleType("submission")
        self.namespace = self.module.__dict__
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        sys.modules["submission"] = self.module
        # before any student code: bans become process-wide and cannot be switched off (see shield)
        self.shield = shield.install()
        builtins.get_ipython = lambda: _Shell()  # noqa: B023 - notebooks call get_ipython()

    # ------------------------------------------------------------------ values
    def _to_handle(self, obj: Any) -> dict:
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = obj
        return {"__handle__": handle, "type": type(obj).__name__}

    def _from_handle(self, ref: dict) -> Any:
        try:
            return self.handles[ref["__handle__"]]
        except (KeyError, TypeError):
            raise protocol.ProtocolError("unknown handle") from None

    def send(self, header: dict, value: Any = None, has_value: bool = False) -> None:
        encoder = protocol.Encoder(self._to_handle)
        if has_value:
            header["value"] = encoder.encode(value)
        protocol.write_frame(self.fd_out, header, encoder.blobs)

    # ------------------------------------------------------------------ notebook
    def load(self, cells: list) -> list[dict]:
        errors = []
        for index, source in cells:
            filename = f"{CELL_PREFIX}{index}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                code = compile(source, filename, "exec")
                exec(code, self.namespace)  # noqa: S102 - this process exists to run student code
            except BaseException as exc:  # SystemExit and KeyboardInterrupt too: keep loading
                errors.append({"cell": index, "ename": type(exc).__name__, "evalue": str(exc)[:500],
                               "traceback": _student_traceback(exc)})
        return errors

    # ------------------------------------------------------------------ operations
    def _target(self, request: dict) -> Any:
        target = request.get("target")
        return self.module if target is None else self._from_handle(target)

    def dispatch(self, op: str, request: dict, decode) -> Any:
        if op == "getattr":
            name = request["name"]
            if request.get("target") is None:
                if name not in self.namespace or name.startswith("__"):
                    raise AttributeError(f"your notebook does not define `{name}` (run every cell, check the spelling)")
                return self.namespace[name]
            return getattr(self._target(request), name)
        if op == "has":
            return request["name"] in self.namespace
        if op == "setattr":
            setattr(self._target(request), request["name"], decode(request["value"]))
            return None
        if op == "call":
            args = decode(request.get("args", []))
            kwargs = decode(request.get("kwargs", {"__dict__": []}))
            return self._target(request)(*args, **kwargs)
        if op == "getitem":
            return self._target(request)[decode(request["key"])]
        if op == "setitem":
            self._target(request)[decode(request["key"])] = decode(request["value"])
            return None
        if op == "len":
            return len(self._target(request))
        if op == "iter":
            items = []
            for item in self._target(request):
                items.append(item)
                if len(items) > MAX_ITER_ITEMS:
                    raise ValueError("too many items to iterate over")
            return items
        if op == "binop":
            return BINARY_OPS[request["name"]](decode(request["left"]), decode(request["right"]))
        if op == "unop":
            return UNARY_OPS[request["name"]](decode(request["operand"]))
        if op == "asarray":  # np.asarray(handle) on the trusted side: the values, as data
            return _as_array(self._target(request))
        if op == "release":
            for handle in request.get("handles", []):
                self.handles.pop(handle, None)
            return None
        if op == "seed":
            self._seed(int(request["seed"]))
            return None
        raise protocol.ProtocolError(f"unknown operation {op!r}")

    @staticmethod
    def _seed(seed: int) -> None:
        random.seed(seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(seed % 2**32)
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(seed)

    def handle(self, header: dict, blobs: list[bytes]) -> None:
        reply: dict[str, Any] = {"id": header.get("id"), "nonce": header.get("nonce")}
        decoder = protocol.Decoder(blobs, self._from_handle)
        ban = None
        caught: list[warnings.WarningMessage] = []
        try:
            op = header.get("op")
            if op == "load":
                reply.update(ok=True, errors=self.load(header["cells"]))
                self.send(reply)
                return
            forbid = header.get("forbid") or []
            ban = Ban(forbid, is_student_code=is_student_code, namespaces=[self.namespace],
                      shield=self.shield) if forbid else None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if ban is not None:
                    with ban:
                        value = self.dispatch(op, header, decoder.decode)
                else:
                    value = self.dispatch(op, header, decoder.decode)
            if ban is not None and ban.violations:
                raise ForbiddenError(ban.violations[0])
            reply.update(ok=True, warnings=self._warnings(caught))
            self.send(reply, value, has_value=True)
        except protocol.ProtocolError:
            raise
        except BaseException as exc:  # the student's exception, reported as data
            if ban is not None and ban.violations and not isinstance(exc, ForbiddenError):
                exc = ForbiddenError(ban.violations[0])
            kind = "forbidden" if isinstance(exc, ForbiddenError) else "student"
            if isinstance(exc, AttributeError) and str(exc).startswith("your notebook does not define"):
                kind = "missing"
            reply.update(ok=False, warnings=self._warnings(caught), error={
                "type": type(exc).__name__, "bases": _builtin_bases(type(exc)), "message": str(exc)[:2000],
                "traceback": _student_traceback(exc), "kind": kind})
            try:
                self.send(reply)
            except protocol.ProtocolError:
                raise
            except Exception:  # e.g. an exception whose message cannot be encoded
                reply["error"]["message"] = "(message could not be sent)"
                self.send(reply)

    @staticmethod
    def _warnings(caught: list) -> list[dict]:
        out = []
        for w in caught[:20]:
            category = w.category if isinstance(w.category, type) else UserWarning
            bases = [c.__name__ for c in category.__mro__ if c.__module__ == "builtins" and issubclass(c, Warning)]
            out.append({"category": category.__name__, "bases": bases, "message": str(w.message)[:500]})
        return out

    def serve(self) -> None:
        while True:
            try:
                header, blobs = self.reader.read()
            except protocol.PeerClosed:
                return
            self.handle(header, blobs)


def main() -> None:
    fd_in, fd_out = int(os.environ.pop("COURSEKIT_FD_IN")), int(os.environ.pop("COURSEKIT_FD_OUT"))
    Worker(fd_in, fd_out).serve()


if __name__ == "__main__":
    main()
