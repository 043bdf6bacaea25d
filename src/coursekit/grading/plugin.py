"""The pytest plugin that turns a test session into trusted, per-test verdicts.

It provides the fixtures tests may use (``submission``, ``credit``, ``rng``, ``device``,
``record_metric``), reads each test's metadata (part, points, hint, forbid, timeout, gpu),
and records an outcome per test from what *this* process observed. Student-facing messages
are built here: hidden tests contribute only their hint and the student's own traceback.

The notebook is loaded once, after collection and before the first test (so no test's timeout
covers it). Hidden tests' ``rng`` depends on the course secret and the submission (``secret``).
After the session, tests that only saw the student's code raise keep their points only if that
code also worked somewhere (``calls``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest

from coursekit.grading.bridge import GradingError, ReplyTooLarge, StudentCodeError, WorkerCrashed, WorkerTimeout
from coursekit.grading.calls import hold_raise_only_credit
from coursekit.grading.notebook import SubmissionError
from coursekit.grading.secret import SecretError, course_secret, input_seed
from coursekit_student.forbid import ForbiddenError
from coursekit_student.testing import Credit, metadata, seed_for

MAX_MESSAGE = 3000


class Backend(Protocol):
    """Where the student's code runs: the sandboxed bridge, or in-process for authoring."""

    proxy: Any

    def begin_test(self, *, seed: int, forbid: list[str], deadline: float) -> None: ...

    def end_test(self) -> None: ...


@dataclass
class TestRecord:
    name: str
    nodeid: str
    kind: str               # public | hidden
    part: str | None
    points: float
    outcome: str = "error"  # passed failed not_implemented forbidden timeout crashed error skipped
    score: float = 0.0
    output: str = ""
    duration: float = 0.0
    gpu: bool = False
    cpu_smoke: bool = False
    calls_ok: set[str] = field(default_factory=set)      # student callables that returned in this test
    calls_raised: set[str] = field(default_factory=set)  # ... and that raised (see grading.calls)


@dataclass
class SessionState:
    records: dict[str, TestRecord] = field(default_factory=dict)
    metrics: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # authoring problems (missing part/points)


class SubmissionBudgetExceeded(GradingError):
    kind = "timeout"


class GradingPlugin:
    def __init__(self, *, backend: Backend, hidden_dir: Path | None, device: str, gpu_available: bool,
                 test_seconds: float, submission_seconds: float, parts: dict[str, int],
                 only_parts: list[str] | None = None, submission_sha256: str | None = None,
                 secret: bytes | None = None):
        self.backend, self.device_name = backend, device
        self.hidden_dir = hidden_dir.resolve() if hidden_dir else None
        self.gpu_available = gpu_available
        self.test_seconds, self.submission_seconds = test_seconds, submission_seconds
        self.parts = parts
        self.only_parts = set(only_parts) if only_parts else None
        self.state = SessionState()
        self.started = time.monotonic()
        self._credits: dict[str, Credit] = {}
        self.submission_sha256 = submission_sha256
        self._secret = secret
        bridge = getattr(backend, "bridge", None)
        self.calls = getattr(bridge, "calls", None)  # only the sandboxed bridge logs calls

    # ------------------------------------------------------------------ identity
    def kind_of(self, item: pytest.Item) -> str:
        path = Path(str(item.path)).resolve()
        if self.hidden_dir and (path == self.hidden_dir or self.hidden_dir in path.parents):
            return "hidden"
        return "public"

    def key_of(self, item: pytest.Item) -> str:
        return f"{self.kind_of(item)}::{Path(str(item.path)).stem}::{item.name}"

    # ------------------------------------------------------------------ fixtures
    @pytest.fixture
    def submission(self, request: pytest.FixtureRequest) -> Any:
        item = request.node
        unreadable = getattr(self.backend, "unreadable", None)
        if unreadable is not None:
            # Not a notebook: every test fails at once with why, before its oracles are computed
            # (m01's tests spent 70 s computing references for a submission that could not be read).
            raise unreadable
        if time.monotonic() - self.started > self.submission_seconds:
            raise SubmissionBudgetExceeded(
                f"grading this submission reached its {self.submission_seconds:.0f} s limit before this test")
        meta = metadata(item.function)
        timeout = float(meta.get("timeout", self.test_seconds))
        if self.calls is not None:
            self.calls.take()  # whatever happened before this test is not this test's
        bridge = getattr(self.backend, "bridge", None)
        if bridge is not None:
            bridge.allow_operators = bool(meta.get("operators"))
        self.backend.begin_test(seed=seed_for(self.key_of(item)), forbid=list(meta.get("forbid", ())),
                                deadline=time.monotonic() + max(1.0, timeout - 1.0))
        try:
            yield self.backend.proxy
        finally:
            self.backend.end_test()
            if bridge is not None:
                bridge.allow_operators = False

    @pytest.fixture
    def credit(self, request: pytest.FixtureRequest) -> Credit:
        credit = self._credits[request.node.nodeid] = Credit()
        return credit

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        return np.random.default_rng(self.input_seed(request.node))

    def input_seed(self, item: pytest.Item) -> int:
        """Hidden tests: HMAC(course secret, submission digest, test). Public tests: the test's name only
        (students run them locally with the same numbers)."""
        key = self.key_of(item)
        if self.kind_of(item) != "hidden" or not self.submission_sha256 or self._secret is None:
            return seed_for(key)
        return input_seed(self._secret, self.submission_sha256, key)

    @pytest.fixture
    def device(self) -> str:
        return self.device_name

    @pytest.fixture
    def record_metric(self, request: pytest.FixtureRequest):
        test_name = request.node.name

        def record(name: str, value: float, threshold: float | None = None, higher_is_better: bool = True) -> None:
            self.state.metrics[name] = {"value": float(value), "threshold": threshold,
                                        "higher_is_better": bool(higher_is_better), "test": test_name}

        return record

    # ------------------------------------------------------------------ collection
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Load the notebook now, under the notebook limit and outside every test's timeout. A notebook
        # that cannot load fails each test at once with the same reason (the bridge keeps it).
        if session.config.option.collectonly or not session.items:
            return
        if self.submission_sha256 and self.hidden_dir is not None and self._secret is None:
            try:
                self._secret = course_secret(self.hidden_dir.parents[2])  # <course>/autograder/suites/<id>
            except (SecretError, OSError) as exc:
                self.state.problems.append(f"the course secret is not usable: {exc}")
                self.submission_sha256 = None  # grade with name-only seeds; the run reports a grader error
        bridge = getattr(self.backend, "bridge", None)
        if bridge is not None:
            bridge.prepare()

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.only_parts is not None:  # e.g. a mutant checked on the part it breaks
            keep = [i for i in items if metadata(getattr(i, "function", None) or (lambda: None)).get("part")
                    in self.only_parts]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        for item in items:
            meta = metadata(getattr(item, "function", None) or (lambda: None))
            kind = self.kind_of(item)
            part, points = meta.get("part"), float(meta.get("points", 0))
            record = TestRecord(name=f"{item.name}", nodeid=item.nodeid, kind=kind, part=part, points=points,
                                gpu=bool(meta.get("gpu")), cpu_smoke=bool(meta.get("cpu_smoke")))
            if part is None or "points" not in meta:
                self.state.problems.append(f"{item.nodeid}: every test needs @part(...) and @points(...)")
            elif part not in self.parts:
                self.state.problems.append(f"{item.nodeid}: part {part!r} is not in course.yaml "
                                           f"(parts: {', '.join(self.parts)})")
            self.state.records[item.nodeid] = record
            item.add_marker(pytest.mark.timeout(float(meta.get("timeout", self.test_seconds)) + 5))
            if record.gpu and not self.gpu_available:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU; its CPU smoke variant is graded instead"))
            if record.cpu_smoke and self.gpu_available:
                item.add_marker(pytest.mark.skip(reason="CPU smoke variant: the full GPU test is graded instead"))

    # ------------------------------------------------------------------ outcomes
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        record = self.state.records.get(item.nodeid)
        if record is None:
            return
        if report.when == "setup" and report.skipped:
            record.outcome, record.score, record.points = "skipped", 0.0, 0.0
            record.output = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
            return
        if report.when == "call" or (report.when == "setup" and report.failed):
            record.duration += call.duration
            if self.calls is not None:
                record.calls_ok, record.calls_raised = self.calls.take()
            credit = self._credits.get(item.nodeid)
            self._judge(record, call, credit, meta=metadata(item.function))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.calls is not None:
            hold_raise_only_credit(self.state.records.values())

    def _judge(self, record: TestRecord, call: pytest.CallInfo, credit: Credit | None, meta: dict) -> None:
        hint = meta.get("hint")
        fraction = credit.fraction if credit and credit.fraction is not None else None
        if call.excinfo is None:
            record.outcome = "passed"
            record.score = record.points * (1.0 if fraction is None else fraction)
            if fraction is not None and fraction < 1.0:
                record.output = credit.message or f"partial credit: {fraction:.0%}"
            return
        record.score = record.points * (fraction or 0.0)
        exc = call.excinfo.value
        lines: list[str] = []
        if isinstance(exc, StudentCodeError):
            if exc.type_name == "NotImplementedError":
                record.outcome = "not_implemented"
                lines.append("Not implemented yet.")
            elif exc.kind == "forbidden":
                record.outcome = "forbidden"
                lines.append(exc.message)
            else:
                record.outcome = "failed"
                if hint:
                    lines.append(hint)
                lines.append("Your code raised an error:\n" + exc.student_traceback)
        elif isinstance(exc, NotImplementedError):  # in-process authoring backend
            record.outcome = "not_implemented"
            lines.append("Not implemented yet.")
        elif isinstance(exc, ForbiddenError):
            record.outcome = "forbidden"
            lines.append(str(exc))
        elif isinstance(exc, SubmissionError):
            record.outcome = "error"
            lines.append(str(exc))
        elif isinstance(exc, ReplyTooLarge):
            record.outcome = "failed"
            lines.append(str(exc))
        elif isinstance(exc, (WorkerTimeout, SubmissionBudgetExceeded)) or _is_pytest_timeout(exc):
            record.outcome = "timeout"
            lines.append(str(exc) if isinstance(exc, GradingError) else "the test ran past its time limit")
        elif isinstance(exc, WorkerCrashed):
            record.outcome = "crashed"
            lines.append(str(exc))
        else:
            record.outcome = "failed"
            if hint:
                lines.append(hint)
            if record.kind == "public":
                text = str(exc).strip()
                lines.append(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
            elif not isinstance(exc, AssertionError):
                lines.append(f"Your code returned something this test could not use ({type(exc).__name__}).")
            elif not hint:
                lines.append("Wrong result.")
        if credit and credit.message and fraction:
            lines.append(f"Partial credit: {credit.message}")
        record.output = "\n".join(lines)[:MAX_MESSAGE]


def _is_pytest_timeout(exc: BaseException) -> bool:
    return type(exc).__name__ == "Failed" and "Timeout" in str(exc)
