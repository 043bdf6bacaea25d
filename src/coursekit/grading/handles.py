"""Handles to objects that live in the worker: usable, never trusted.

A ``RemoteObject`` forwards attribute access, calls, indexing, ``len`` and iteration to the worker,
and reads values out as data (``np.asarray(handle)``, ``float(handle)``, ``int(handle)``). It refuses
``==``, ordering, ``bool`` and ``hash`` always, and arithmetic unless the test declares that the
student's operators are its subject (``@operators``): each would run the student's own method with
the test's value and let it decide the test's comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from coursekit.grading.errors import RefusedOnHandle, WorkerCrashed

if TYPE_CHECKING:
    from coursekit.grading.bridge import Bridge


_REFUSED = ("objects from your code are compared by their values here, never by the object's own "
            "methods: the test reads a value out first")


class RemoteObject:
    """A handle to an object living in the worker. Compare its values, never the object."""

    __slots__ = ("_bridge", "_handle", "_generation", "_type", "_label")

    def __init__(self, bridge: Bridge, handle: int, generation: int, type_name: str):
        object.__setattr__(self, "_bridge", bridge)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_label", type_name)  # methods become "Type.method"

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
            raise RefusedOnHandle("len() of your object did not return an int")
        return value

    def __iter__(self) -> Iterator[Any]:
        return iter(self._op("iter"))

    # Reading a value out: the worker converts, the trusted side checks it got plain data.
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self._op("asarray")
        if not isinstance(value, np.ndarray) or type(value) is not np.ndarray:
            raise RefusedOnHandle(f"your {self._type} object could not be read as an array of numbers")
        return value.astype(dtype) if dtype is not None else value

    def __float__(self) -> float:
        value = self._bridge.request("unop", name="float", operand=self)
        if type(value) is not float:
            raise RefusedOnHandle(f"float() of your {self._type} object did not give a float")
        return value

    def __int__(self) -> int:
        value = self._bridge.request("unop", name="int", operand=self)
        if type(value) is not int:
            raise RefusedOnHandle(f"int() of your {self._type} object did not give an int")
        return value

    def __repr__(self) -> str:
        return f"<your {self._type} object>"

    def __eq__(self, other: Any) -> bool:
        raise RefusedOnHandle(_REFUSED)

    __ne__ = __eq__

    def __bool__(self) -> bool:
        raise RefusedOnHandle("objects from your code have no truth value here: read a value out first")

    def __hash__(self) -> int:
        raise RefusedOnHandle("objects from your code cannot be hashed here")


def _refuse(self: RemoteObject, *args: Any) -> Any:
    raise RefusedOnHandle(_REFUSED)


_OPERATORS_REFUSED = ("arithmetic on objects from your code runs your own operator methods, which this test "
                      "does not grade: the test reads a value out first")


def _binary(name: str, reflected: bool = False) -> Callable:
    def method(self: RemoteObject, other: Any) -> Any:
        if not self._bridge.allow_operators:
            raise RefusedOnHandle(_OPERATORS_REFUSED)
        left, right = (other, self) if reflected else (self, other)
        return self._bridge.request("binop", name=name, left=left, right=right)

    return method


def _unary(name: str) -> Callable:
    def method(self: RemoteObject) -> Any:
        if not self._bridge.allow_operators:
            raise RefusedOnHandle(_OPERATORS_REFUSED)
        return self._bridge.request("unop", name=name, operand=self)

    return method


# Ordering would run the student's own __lt__/__le__ and let it decide the test's comparison (a
# coverage test "met" by intervals whose __le__ always says yes), and it hands the trusted value
# (often the expected one) to the student's code: always refused, like == and bool.
for _name in ("lt", "le", "gt", "ge"):
    setattr(RemoteObject, f"__{_name}__", _refuse)
# Arithmetic also runs the student's methods with the test's operand: refused, except in a test that
# declares the student's operators are what it grades (``@operators``, e.g. m06's autograd Value).
# No __iadd__ & co.: ``x += y`` falls back to ``x = x + y`` and its check.
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op_name = _name + "_" if _name in ("and", "or") else _name
    setattr(RemoteObject, f"__{_name}__", _binary(_op_name))
    setattr(RemoteObject, f"__r{_name}__", _binary(_op_name, reflected=True))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(RemoteObject, f"__{_name}__", _unary(_name))
for _name in ("divmod", "rdivmod", "round", "trunc", "floor", "ceil", "index", "complex"):
    setattr(RemoteObject, f"__{_name}__", _refuse)
