"""The test-authoring API shared by public tests (run by students) and hidden suites.

A test is a plain function whose arguments are fixtures from this fixed set:

- ``submission``: the student's code as a module (``submission.pca(X, 2)``). In the student's
  kernel it is the live namespace; in the grader it is a proxy whose calls cross into a
  sandboxed worker: arguments and results cross as data (numbers, strings, lists, dicts,
  NumPy arrays, torch tensors), other objects stay in the worker behind opaque handles that
  support attribute access, calls, indexing, len(), iteration and reading values out
  (``np.asarray(h)``, ``float(h)``, ``int(h)``), but never ``==``, ordering or ``bool``, and
  arithmetic only in tests marked ``@operators``. Compare values, never objects.
- ``credit``: partial credit (``credit.award(0.5, "half the cases")``).
- ``rng``: a ``numpy.random.Generator``. Public tests: seeded from the test's name (same numbers
  everywhere). Hidden tests in the grader: seeded from the course secret, the submission's digest
  and the test, so each submission gets its own inputs and regrades reproduce them. Draw hidden
  inputs from ``rng``, not from a fixed seed of the test's own.
- ``device``: ``"cuda"`` or ``"cpu"``, the device the grader trains on.

Metadata comes from these decorators, one per line (they also apply the matching pytest marks)::

    @part("pca")
    @points(5)
    @hint("Centre X before the covariance.")
    @forbid("numpy.linalg", "sklearn", "@")      # unavailable to student code in this test
    @timeout(20)                                  # seconds for the whole test
    @gpu / @cpu_smoke                             # GPU-only test / its CPU stand-in
    @operators                                    # grades the student's + - * / ** on returned objects

and ``kit(submission)`` gives what a test may ask of the grader itself::

    with kit(submission).deadline(60):            # wall-clock budget for the calls inside
        submission.train(model, X, y)
    with kit(submission).forbid("torch.nn.functional.scaled_dot_product_attention"):
        out = submission.attention(q, k, v)
    kit(submission).reset_peak_memory(); ...; kit(submission).peak_memory_mb()
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol

META = "__course__"
FIXTURES = ("submission", "credit", "rng", "device")


def _meta(fn: Callable) -> dict[str, Any]:
    target = getattr(fn, "__func__", fn)
    if META not in target.__dict__:
        target.__dict__[META] = {}
    return target.__dict__[META]


def _pytest_mark(name: str, *args: Any) -> Callable | None:
    try:
        import pytest
    except ImportError:  # students may run checks without pytest installed
        return None
    return getattr(pytest.mark, name)(*args)


def _decorator(key: str, value: Any, mark: str | None = None, *mark_args: Any) -> Callable:
    def apply(fn: Callable) -> Callable:
        _meta(fn)[key] = value
        pytest_mark = _pytest_mark(mark, *mark_args) if mark else None
        return pytest_mark(fn) if pytest_mark else fn

    return apply


def part(name: str) -> Callable:
    """The graded part (a key of ``parts:`` in course.yaml) this test scores."""
    return _decorator("part", name, "part", name)


def points(n: float) -> Callable:
    """Points this test is worth."""
    return _decorator("points", float(n), "points", n)


def hint(message: str) -> Callable:
    """What the student sees when this test fails (for hidden tests: the only explanation)."""
    return _decorator("hint", message)


def forbid(*names: str) -> Callable:
    """Make modules/functions unavailable to the student's code while this test runs.

    Names are dotted (``numpy.linalg``, ``numpy.dot``, ``sklearn``,
    ``torch.nn.functional.scaled_dot_product_attention``) or ``"@"`` for the matmul operator.
    """
    return _decorator("forbid", tuple(names))


def timeout(seconds: float) -> Callable:
    """Wall-clock limit for the whole test (pytest-timeout in the grader)."""
    return _decorator("timeout", float(seconds), "timeout", seconds)


def gpu(fn: Callable) -> Callable:
    """Needs CUDA. Without it the grader skips it (with a visible reason) and runs its @cpu_smoke twin."""
    return _decorator("gpu", True, "gpu")(fn)


def cpu_smoke(fn: Callable) -> Callable:
    """The CPU stand-in for a @gpu test: runs only where there is no CUDA; same part and points."""
    return _decorator("cpu_smoke", True, "cpu_smoke")(fn)


def operators(fn: Callable) -> Callable:
    """This test grades the student's own operators (``+ - * / ** @``, unary ``-``, ``abs``) on objects
    the student's code returned, e.g. an autograd ``Value``: in the grader, arithmetic on such objects
    runs the student's methods. Elsewhere it is refused, so a returned object cannot answer
    ``result - expected`` itself. Ordering, ``==`` and truth are refused in every test: read values out
    (``.data``, ``float(x)``, ``np.asarray(x)``) and compare those. Operands must be inputs, never
    expected values: the student's code sees them."""
    return _decorator("operators", True, "operators")(fn)


def metadata(fn: Callable) -> dict[str, Any]:
    """The decorators' metadata of a test function (empty dict if none)."""
    return dict(getattr(getattr(fn, "__func__", fn), META, {}))


def seed_for(test_id: str) -> int:
    """A stable 32-bit seed derived from a test's name (the same on every machine)."""
    return int.from_bytes(hashlib.sha256(test_id.encode()).digest()[:4], "little")


class Credit:
    """Partial credit for one test: the fraction of its points earned.

    A test that passes without calling ``award`` earns everything. A test that calls
    ``award(f)`` and then passes earns ``f``; one that fails after ``award(f)`` also earns ``f``.
    """

    def __init__(self) -> None:
        self.fraction: float | None = None
        self.message: str | None = None

    def award(self, fraction: float, message: str | None = None) -> None:
        self.fraction = max(0.0, min(1.0, float(fraction)))
        self.message = message


class Kit(Protocol):
    """What a test may ask of whatever runs the student's code (kernel or sandboxed worker)."""

    device: str

    def deadline(self, seconds: float) -> Any: ...

    def forbid(self, *names: str) -> Any: ...

    def peak_memory_mb(self) -> float: ...

    def reset_peak_memory(self) -> None: ...

    def has(self, name: str) -> bool: ...


def kit(submission: Any) -> Kit:
    """The Kit behind a ``submission`` fixture (both the grader's proxy and the kernel namespace have one)."""
    return submission.__kit__


@contextmanager
def nothing() -> Iterator[None]:
    yield
