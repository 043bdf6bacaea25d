"""A test that checks that bad input raises earns its points only if that code also works.

Without this rule a notebook whose every function raises ``ValueError`` passes every
``pytest.raises(ValueError)`` test. The bridge logs, per test, which student callables (by label:
``pca``, ``Counter``, ``Counter.tick``) returned normally and which raised. After the session, a
passed test in which some callable raised keeps its points only if every callable that raised in
it also *returned* in some passed test. No author bookkeeping: the facts come from the trusted
side's own log of requests and the test verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol


@dataclass
class CallLog:
    """Labels of student callables that returned / raised during the current test."""

    ok: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    def returned(self, label: str) -> None:
        self.ok.add(label)

    def raised(self, label: str) -> None:
        self.failed.add(label)

    def take(self) -> tuple[set[str], set[str]]:
        """This test's (returned, raised) labels; the log starts empty for the next test."""
        ok, failed = self.ok, self.failed
        self.ok, self.failed = set(), set()
        return ok, failed


class Judged(Protocol):
    outcome: str
    score: float
    output: str
    calls_ok: set[str]
    calls_raised: set[str]


def hold_raise_only_credit(records: Iterable[Judged]) -> list[Judged]:
    """Zero the passed tests whose raising callables never returned in a passed test; return them."""
    records = list(records)
    held: list[Judged] = []
    changed = True
    while changed:  # a held test no longer vouches for the callables that returned in it
        changed = False
        works = set().union(*(r.calls_ok for r in records if r.outcome == "passed" and r.score > 0))
        for record in records:
            if record.outcome != "passed" or not record.calls_raised:
                continue
            never_worked = sorted(record.calls_raised - works)
            if never_worked:
                names = ", ".join(f"`{name}`" for name in never_worked[:3])
                record.outcome, record.score, changed = "failed", 0.0, True
                record.output = (f"This test checks that {names} refuses bad input. It counts once {names} "
                                 "also works on good input: no test where it returned an answer passed.")
                held.append(record)
    return held
