"""Student-side code of the Zero-to-LLM course kit.

Shipped inside ``release/`` (``pip install ./release``). It must never import ``coursekit``
(the instructor and grader package): students get this package and nothing else.

``check`` is the checker's own function object (not a wrapper) so that ``check.milestone = ...``
set in a notebook is seen by it. Importing it is cheap: NumPy and the tests load on first use.
"""

__version__ = "0.1.0"

from coursekit_student.checker import CheckResult, check, check_all  # noqa: E402

__all__ = ["CheckResult", "check", "check_all"]
