"""Student-side code of the Zero-to-LLM course kit.

Shipped inside ``release/`` (``pip install ./release``). It must never import ``coursekit``
(the instructor and grader package): students get this package and nothing else.
"""

__version__ = "0.1.0"


def check(part: str, **kwargs):  # pragma: no cover - thin re-export, see checker.py
    from coursekit_student.checker import check as _check

    return _check(part, **kwargs)


def check_all(**kwargs):  # pragma: no cover - thin re-export, see checker.py
    from coursekit_student.checker import check_all as _check_all

    return _check_all(**kwargs)


__all__ = ["check", "check_all"]
