"""Grade mutants through the real, sandboxed grader, in parallel, with a progress line each.

Each mutant is one ``grade_one`` run on a copy of the source notebook with one cell mutated,
restricted to the mutant's part: the question is whether that part's tests notice a mistake in
that part's code (a later part that calls it may notice too, but earns its own points). A mutant is killed when its part scores below the maximum. A grader error is not a kill: student
code cannot crash the trusted grader (the hostile corpus proves that), so an error means the
measurement failed (a broken checkout, a full disk) and the mutant is listed apart, with the error,
outside the kill rate's denominator.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from coursekit.config import load_course
from coursekit.grading.api import grade_one, start_server
from coursekit.grading.pool import GradingServer, ServerPool
from coursekit.grading.results_model import Results, Status
from coursekit.mutate.generate import GeneratedMutant, write_mutant

KILLED, SURVIVED, ERROR = "killed", "survived", "grader-error"


@dataclass(frozen=True)
class Outcome:
    mutant: GeneratedMutant
    status: str  # KILLED, SURVIVED or ERROR
    score: float
    max_score: float
    seconds: float
    detail: str = ""


def part_scores(results: Results) -> dict[str, tuple[float, float]]:
    return {name: (p.score, p.max_score) for name, p in results.parts.items()}


def classify(results: Results, part: str) -> tuple[str, float, float, str]:
    grader = results.grader
    score, maximum = part_scores(results).get(part, (0.0, 0.0))
    if grader.status is not Status.ok or maximum <= 0:
        return ERROR, score, maximum, str(grader.error or grader.model_dump())[:300]
    return (KILLED if score < maximum else SURVIVED), score, maximum, ""


def grade_mutant(course_file: Path, milestone_id: str, notebook: Path, mutant: GeneratedMutant, device: str,
                 scratch: Path, server: GradingServer | None = None, exhaustive: bool = False) -> Outcome:
    started = time.monotonic()
    target = write_mutant(notebook, mutant, scratch / mutant.id / notebook.name)
    try:
        results = grade_one(course_file=course_file, milestone_id=milestone_id, notebook=target, student=mutant.id,
                            device=device, only_parts=[mutant.part], server=server,
                            stop_at_first_loss=not exhaustive)
    except Exception as exc:  # noqa: BLE001 - one failed measurement must not end a run of hundreds
        return Outcome(mutant, ERROR, 0.0, 0.0, time.monotonic() - started, f"{type(exc).__name__}: {exc}"[:300])
    status, score, maximum, detail = classify(results, mutant.part)
    return Outcome(mutant, status, score, maximum, time.monotonic() - started, detail)


def _eta(done: int, total: int, elapsed: float) -> str:
    if not done:
        return "?"
    seconds = int(elapsed / done * (total - done))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def grade_all(course_file: Path, milestone_id: str, notebook: Path, mutants: list[GeneratedMutant], *,
              jobs: int = 1, device: str = "cpu", echo: Callable[[str], None] = print,
              exhaustive: bool = False, record: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Grade every mutant; ``echo`` gets one line per finished mutant (plain text: logs and CI read it too).

    Grading of a mutant stops at its first lost test (a killed mutant's score is then the score up to
    that test) unless ``exhaustive``; a survivor runs every test of its part either way. ``record``
    gets each outcome as soon as it is known (an interrupted run of hours keeps what it measured).
    """
    outcomes: list[Outcome] = []
    started = time.monotonic()
    milestone = load_course(course_file, check_files=False).milestone(milestone_id)
    # One pre-imported server per job, as a batch keeps one per slot: a full run grades hundreds of
    # mutants, and re-importing pytest and torch for each cost more than the grading (each mutant is
    # still graded in a fresh fork).
    with tempfile.TemporaryDirectory(prefix="coursekit-mutate-") as scratch, \
            ServerPool(max(1, jobs), lambda: start_server(course_file, milestone)) as servers, \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # threads: each grade is its own process

        def grade(mutant: GeneratedMutant) -> Outcome:
            with servers.lease() as server:
                return grade_mutant(course_file, milestone_id, notebook, mutant, device, Path(scratch), server,
                                    exhaustive)

        futures = [pool.submit(grade, m) for m in mutants]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if record is not None:
                record(outcome)
            done = len(outcomes)
            echo(f"[{done}/{len(mutants)}] {outcome.mutant.part} {outcome.mutant.id} {outcome.status:<12} "
                 f"{outcome.score:g}/{outcome.max_score:g}  {outcome.mutant.operator}  ({outcome.seconds:.0f} s, "
                 f"ETA {_eta(done, len(mutants), time.monotonic() - started)})")
    return sorted(outcomes, key=lambda o: (o.mutant.part, o.mutant.id))


def grade_reference(course_file: Path, milestone_id: str, notebook: Path, parts: list[str], device: str) -> list[str]:
    """Parts where the unmutated reference loses points (then no kill on them means anything)."""
    results = grade_one(course_file=course_file, milestone_id=milestone_id, notebook=notebook, student="reference",
                        device=device, only_parts=parts)
    scores = part_scores(results)
    if results.status is not Status.ok:
        return list(parts)
    return [p for p in parts if p not in scores or scores[p][0] < scores[p][1]]
