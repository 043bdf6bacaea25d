"""What the student's code did, as exceptions the trusted side raises into the test.

``StudentCodeError`` is subclassed on the fly with the builtin type the student's code raised, so
``pytest.raises(ValueError)`` in a test matches a ValueError raised in the worker.
"""

from __future__ import annotations

import builtins


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


class ReplyTooLarge(WorkerCrashed):
    """The worker's answer was bigger than the grader accepts (refused before it was read)."""

    kind = "too_large"


class RefusedOnHandle(GradingError):
    """A test tried ``==``/``<``/arithmetic/``bool`` on an object from the student's code.

    Deliberately not a TypeError: ``pytest.raises(TypeError)`` in a test that expects the *student's*
    code to raise must not be satisfied by the grader's own refusal.
    """

    kind = "refused"


ERROR_CLASSES: dict[tuple[str, ...], type] = {}


def error_class(bases: list[str]) -> type:
    """StudentCodeError that is also the student's builtin exception type (e.g. ValueError)."""
    builtin_types = []
    for name in bases:
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception) and cls is not Exception and _takes_message(cls):
            builtin_types.append(cls)
            break  # the most derived builtin is enough; later ones are its bases
    key = tuple(c.__name__ for c in builtin_types)
    if key not in ERROR_CLASSES:
        ERROR_CLASSES[key] = type(f"Student{''.join(key) or 'Error'}", (StudentCodeError, *builtin_types), {})
    return ERROR_CLASSES[key]


def _takes_message(cls: type) -> bool:
    """Whether ``cls(message)`` works: UnicodeDecodeError needs five arguments, so a student raising
    one is reported as its base (UnicodeError, a ValueError) instead of breaking the trusted side."""
    try:
        cls("message")
    except Exception:
        return False
    return True

