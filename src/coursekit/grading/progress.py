"""One line per finished submission, with a real ETA, on a terminal or in a CI log alike.

rich's bar is redrawn in place and shows nothing useful when stderr is a file (and its ETA is
"-:--:--" until it has a speed estimate); a grading run that takes an hour must still say, line by
line, who was graded, with what result, and when the batch will end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from coursekit.review.escape import terminal_safe

if TYPE_CHECKING:
    from coursekit.grading.results_model import Results


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressLines:
    """Counts finished submissions; the ETA is the batch's own pace so far (parallel slots included)."""

    def __init__(self, total: int, *, now: float | None = None) -> None:
        self.total, self.done = total, 0
        self.started = time.monotonic() if now is None else now

    def finished(self, student: str, results: Results, *, now: float | None = None) -> str:
        self.done += 1
        elapsed = (time.monotonic() if now is None else now) - self.started
        left = self.total - self.done
        eta = "done" if left == 0 else f"ETA {_clock(elapsed / self.done * left)}"
        score = f"{results.score:g}/{results.max_score:g}"
        width = len(str(self.total))
        return (f"[{self.done:>{width}}/{self.total}] {terminal_safe(student)}: {score} {results.status.value} "
                f"in {results.execution_time:.1f} s · elapsed {_clock(elapsed)} · {eta}")
