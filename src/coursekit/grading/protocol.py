"""Wire format between the trusted grader and the student's worker.

A frame is ``<u32 header length><JSON header><blob>*``; the header lists the blob sizes.
Values are encoded to JSON with tagged objects; arrays and tensors travel as ``.npy`` blobs
loaded with ``allow_pickle=False``. Nothing is ever unpickled, and objects that are not plain
data stay in the worker behind integer handles.
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import select
import struct
import time
from typing import Any, Callable

import numpy as np

MAX_HEADER = 64 * 1024 * 1024
MAX_BLOBS = 2 * 1024 * 1024 * 1024
MAX_DEPTH = 200
# What the trusted side accepts in one reply from the worker. A legitimate answer (an array, a
# state dict, a list of numbers) is far smaller; anything bigger is refused before it is read,
# so a hostile worker cannot make the grader allocate what it claims.
REPLY_HEADER_LIMIT = 16 * 1024 * 1024
REPLY_LIMIT = 256 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a valid frame."""


class PeerClosed(ProtocolError):
    """The other side closed its end (usually: the worker died)."""


class FrameTooLarge(ProtocolError):
    """A frame claims more bytes than the reader accepts; nothing of it was read past its header."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"{size / 2**20:.0f} MB is over the limit of {limit / 2**20:.0f} MB")
        self.size, self.limit = size, limit


class Deadline(Exception):
    """No complete answer arrived before the deadline."""


# --------------------------------------------------------------------------- encoding

class Encoder:
    """Encode Python values to JSON-able structures plus blobs.

    ``on_object`` decides what to do with values that are not plain data: the worker turns
    them into handles, the trusted side refuses them.
    """

    def __init__(self, on_object: Callable[[Any], Any]):
        self.blobs: list[bytes] = []
        self.on_object = on_object

    def _blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    @staticmethod
    def _npy(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)  # keeps 0-d arrays 0-d (ascontiguousarray would not)
        return buffer.getvalue()

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) in (int, bool):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, (bytes, bytearray)) and type(value) in (bytes, bytearray):
            return {"__bytes__": self._blob(bytes(value))}
        if type(value) is list:
            return [self.encode(item, depth + 1) for item in value]
        if type(value) is tuple:
            return {"__tuple__": [self.encode(item, depth + 1) for item in value]}
        if type(value) is slice:
            return {"__slice__": [self.encode(value.start, depth + 1), self.encode(value.stop, depth + 1),
                                   self.encode(value.step, depth + 1)]}
        if value is Ellipsis:
            return {"__ellipsis__": True}
        if type(value) in (set, frozenset):
            return {"__set__": [self.encode(item, depth + 1) for item in value]}
        if type(value) in (dict, collections.OrderedDict, collections.defaultdict):
            return {"__dict__": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, np.ndarray) and type(value).__module__.startswith("numpy") and value.dtype.kind in "biufcSU":
            value = np.asarray(value)
            return {"__nd__": self._blob(self._npy(value))}
        if isinstance(value, np.generic) and type(value).__module__ == "numpy" and np.asarray(value).dtype.kind in "biufc":
            return {"__np__": self._blob(self._npy(np.asarray(value)))}
        tensor = _as_tensor_payload(value)
        if tensor is not None:
            array, dtype, requires_grad = tensor
            return {"__torch__": self._blob(self._npy(array)), "dtype": dtype, "grad": requires_grad}
        return self.on_object(value)


def _as_tensor_payload(value: Any) -> tuple[np.ndarray, str, bool] | None:
    """(array, dtype name, requires_grad) for an exact torch.Tensor; None for anything else."""
    torch = _torch_if_loaded()
    if torch is None or type(value) not in (torch.Tensor, torch.nn.Parameter):
        return None
    tensor = value.detach().cpu()
    dtype = str(tensor.dtype).removeprefix("torch.")
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.contiguous().numpy(), dtype, bool(value.requires_grad)


def _torch_if_loaded():
    import sys

    return sys.modules.get("torch")


class Decoder:
    """Decode what an Encoder produced. ``on_handle`` rebuilds handle references."""

    def __init__(self, blobs: list[bytes], on_handle: Callable[[dict], Any]):
        self.blobs = blobs
        self.on_handle = on_handle

    def _array(self, index: int) -> np.ndarray:
        if not isinstance(index, int) or not 0 <= index < len(self.blobs):
            raise ProtocolError("bad blob reference")
        try:
            return np.load(io.BytesIO(self.blobs[index]), allow_pickle=False)
        except Exception as exc:  # malformed npy from a hostile peer
            raise ProtocolError(f"bad array payload: {exc}") from None

    def decode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.decode(item, depth + 1) for item in value]
        if not isinstance(value, dict) or len(value) == 0:
            raise ProtocolError("unexpected JSON value")
        if "__float__" in value:
            text = value["__float__"]
            if text not in ("nan", "inf", "-inf"):
                raise ProtocolError("bad float")
            return float(text)
        if "__bytes__" in value:
            index = value["__bytes__"]
            if not isinstance(index, int) or not 0 <= index < len(self.blobs):
                raise ProtocolError("bad blob reference")
            return self.blobs[index]
        if "__tuple__" in value:
            return tuple(self.decode(item, depth + 1) for item in value["__tuple__"])
        if "__slice__" in value:
            bounds = value["__slice__"]
            if not isinstance(bounds, list) or len(bounds) != 3:
                raise ProtocolError("bad slice")
            return slice(*(self.decode(b, depth + 1) for b in bounds))
        if "__ellipsis__" in value:
            return Ellipsis
        if "__set__" in value:
            return {self.decode(item, depth + 1) for item in value["__set__"]}
        if "__dict__" in value:
            pairs = value["__dict__"]
            if not isinstance(pairs, list):
                raise ProtocolError("bad dict")
            out = {}
            for pair in pairs:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("bad dict item")
                key = self.decode(pair[0], depth + 1)
                try:
                    out[key] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise ProtocolError("unhashable dict key") from None
            return out
        if "__nd__" in value:
            return self._array(value["__nd__"])
        if "__np__" in value:
            return self._array(value["__np__"])[()]
        if "__torch__" in value:
            array = self._array(value["__torch__"])
            import torch

            tensor = torch.from_numpy(np.array(array, copy=True))
            dtype = getattr(torch, str(value.get("dtype", "")), None)
            if isinstance(dtype, torch.dtype) and dtype != tensor.dtype:
                tensor = tensor.to(dtype)
            return tensor
        if "__handle__" in value:
            return self.on_handle(value)
        raise ProtocolError("unknown tag")


# --------------------------------------------------------------------------- framing

def write_frame(fd: int, header: dict, blobs: list[bytes]) -> None:
    header = dict(header, blobs=[len(b) for b in blobs])
    body = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    data = [struct.pack("<I", len(body)), body, *blobs]
    for chunk in data:
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]


class FrameReader:
    """Reads frames from a file descriptor with an optional deadline (monotonic seconds).

    ``max_header`` and ``max_total`` (header + blobs) are checked against the sizes a frame
    *claims* before its body is read: the buffer only ever grows by what actually arrived.
    """

    def __init__(self, fd: int, *, max_header: int = MAX_HEADER, max_total: int = MAX_BLOBS):
        self.fd = fd
        self.buffer = bytearray()
        self.max_header, self.max_total = max_header, max_total

    def _fill(self, size: int, deadline: float | None) -> None:
        while len(self.buffer) < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Deadline()
                ready, _, _ = select.select([self.fd], [], [], remaining)
                if not ready:
                    raise Deadline()
            chunk = os.read(self.fd, max(65536, min(size - len(self.buffer), 16 * 1024 * 1024)))
            if not chunk:
                raise PeerClosed("the other side closed the channel")
            self.buffer += chunk

    def _take(self, size: int, deadline: float | None) -> bytes:
        self._fill(size, deadline)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read(self, deadline: float | None = None) -> tuple[dict, list[bytes]]:
        (length,) = struct.unpack("<I", self._take(4, deadline))
        if length > self.max_header:
            raise FrameTooLarge(length, self.max_header)
        try:
            header = json.loads(self._take(length, deadline))
        except (ValueError, RecursionError):
            raise ProtocolError("header is not JSON") from None
        sizes = header.get("blobs") if isinstance(header, dict) else None
        if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
            raise ProtocolError("bad blob list")
        total = length + sum(sizes)
        if total > self.max_total:
            raise FrameTooLarge(total, self.max_total)
        return header, [self._take(size, deadline) for size in sizes]
