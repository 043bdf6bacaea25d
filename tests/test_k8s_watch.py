"""The Job watcher's clock: it polls every POLL_SECONDS and gives up at the deadline, never earlier.

watch_job takes ``sleep`` and ``clock`` so that these run in microseconds on a fake clock instead
of waiting out real deadlines; kubectl's answers are scripted (its own parsing is tested with a
fake kubectl binary in test_k8s_manifests.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from coursekit.infra import k8s_run

PENDING: dict[str, Any] = {"status": {}}
COMPLETE = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
NO_PODS: dict[str, Any] = {"items": []}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _script(monkeypatch: pytest.MonkeyPatch, jobs: list[dict[str, Any]]) -> list[str]:
    """kubectl answers each `get job` with the next of ``jobs`` (the last one repeats)."""
    asked: list[str] = []

    def answer(kubectl: list[str], *args: str) -> dict[str, Any]:
        asked.append(args[1])
        if args[1].startswith("job/"):
            polls = sum(a.startswith("job/") for a in asked)
            return jobs[min(polls, len(jobs)) - 1]
        return NO_PODS

    monkeypatch.setattr(k8s_run, "_kubectl_json", answer)
    return asked


def test_a_job_that_never_finishes_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _script(monkeypatch, [PENDING])
    fake = FakeClock()
    with pytest.raises(k8s_run.K8sError, match=r"^job grade-x did not finish within 25 s"):
        k8s_run.watch_job(["kubectl"], "grade-x", 25, sleep=fake.sleep, clock=fake.clock)
    # polled at 0, 10, 20 and 30 s: the deadline (25 s) is checked after each poll, not slept past twice
    assert fake.slept == [k8s_run.POLL_SECONDS] * 3
    assert asked.count("job/grade-x") == 4


def test_a_job_that_completes_returns_without_sleeping_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _script(monkeypatch, [PENDING, PENDING, COMPLETE])
    fake = FakeClock()
    k8s_run.watch_job(["kubectl"], "grade-x", 3600, sleep=fake.sleep, clock=fake.clock)
    assert fake.slept == [k8s_run.POLL_SECONDS] * 2
    assert fake.now == 1000.0 + 2 * k8s_run.POLL_SECONDS
