"""The one results model: ``results.json`` typed, with one writer and one reader.

The file on disk is Gradescope's autograder format (``score``, ``tests``, ``output``...) plus our
``extra_data``. Every field has a default where older files may lack it, so a results.json
written by an earlier kit still reads. Unknown keys are kept (``extra="allow"``) so that reading
and re-writing a file never loses what a newer kit or Gradescope added.

Timestamps stay the ISO strings found on disk (re-formatting them would change files on a
mere read-and-write); ``Late.submitted_time`` parses when a datetime is needed.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coursekit.grading.results_io import write_json_atomic


class Outcome(str, enum.Enum):
    """What the trusted process observed for one test (plugin.py decides; students never do)."""

    passed = "passed"
    failed = "failed"
    not_implemented = "not_implemented"
    forbidden = "forbidden"
    timeout = "timeout"
    crashed = "crashed"
    error = "error"
    skipped = "skipped"


class Status(str, enum.Enum):
    """A submission's grading status: graded; not a gradable notebook; the grader failed."""

    ok = "ok"
    invalid = "invalid"
    error = "error"


class _Model(BaseModel):
    # extra="allow": keys this kit does not know survive a read/write round trip
    model_config = ConfigDict(extra="allow", use_enum_values=False)


class TestExtra(_Model):
    part: str | None = None
    kind: str | None = None  # "public" or "hidden"
    outcome: Outcome = Outcome.error
    duration: float | None = None


class TestResult(_Model):
    name: str
    score: float = 0.0
    max_score: float
    status: Literal["passed", "failed"] = "failed"  # Gradescope's own two values
    output: str = ""
    visibility: str = "visible"
    extra_data: TestExtra = Field(default_factory=TestExtra)

    @model_validator(mode="before")
    @classmethod
    def _outcome_from_status(cls, data: Any) -> Any:
        # Files without an outcome (hand-made or very old): Gradescope's status is all there is.
        # An outcome this kit does not know is read as "failed": never as a pass.
        if isinstance(data, dict) and isinstance(data.get("extra_data"), (dict, type(None))):
            extra = dict(data.get("extra_data") or {})
            if extra.get("outcome") is None:
                extra["outcome"] = "passed" if data.get("status") == "passed" else "failed"
            elif extra["outcome"] not in {o.value for o in Outcome}:
                extra["outcome"] = "failed"
            data = {**data, "extra_data": extra}
        return data

    @property
    def outcome(self) -> Outcome:
        return self.extra_data.outcome

    @property
    def part(self) -> str | None:
        return self.extra_data.part

    @property
    def public(self) -> bool:
        return self.extra_data.kind == "public"


class PartScore(_Model):
    score: float = 0.0
    max_score: float = 0.0


class Late(_Model):
    submitted_at: str | None = None
    due: str | None = None
    seconds_late: float = 0.0
    penalty_fraction: float = 0.0
    # where submitted_at came from: "times" (--times CSV), "lms" (folder metadata), "gradescope",
    # "stored" (an earlier grading of the same file); None when no time is known
    source: str | None = None

    @property
    def submitted_time(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.submitted_at) if self.submitted_at else None


class GraderInfo(_Model):
    status: Status = Status.error  # a file that does not say it was graded is not trusted as graded
    error: str | None = None
    device: str | None = None
    gpu_mode: str | None = None
    peak_memory_mb: float | None = None
    worker_restarts: int = 0
    sandbox: str | None = None
    sandbox_missing: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _known_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("status") not in {s.value for s in Status}:
            data = {**data, "status": Status.error.value}
        return data


class Metric(_Model):
    value: float
    threshold: float | None = None
    higher_is_better: bool = True
    test: str | None = None

    @property
    def met(self) -> bool | None:
        if self.threshold is None:
            return None
        return self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold


class NotebookError(_Model):
    cell: int | str | None = None
    ename: str | None = None
    evalue: str | None = None


class ResultsExtra(_Model):
    milestone: str | None = None
    student: str | None = None
    submission_sha256: str | None = None
    max_score: float | None = None
    parts: dict[str, PartScore]
    late: Late = Field(default_factory=Late)
    grader: GraderInfo = Field(default_factory=GraderInfo)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    notebook_errors: list[NotebookError] = Field(default_factory=list)
    submission_error: str | None = None
    flags: list[str] = Field(default_factory=list)
    holds: list[dict[str, Any]] = Field(default_factory=list)  # staff only (static_check holds)

    @model_validator(mode="after")
    def _old_invalid(self) -> "ResultsExtra":
        # Files written before the "invalid" status said "ok" next to a submission_error.
        if self.grader.status is Status.ok and self.submission_error:
            self.grader.status = Status.invalid
        if self.max_score is None:
            self.max_score = round(sum(p.max_score for p in self.parts.values()), 4)
        return self


class Results(_Model):
    """One submission's results.json."""

    score: float = 0.0
    execution_time: float = 0.0
    output: str = ""
    visibility: str = "visible"
    stdout_visibility: str = "hidden"
    tests: list[TestResult]
    extra_data: ResultsExtra

    # -- derived views (computed, never stored) --------------------------------------
    @property
    def status(self) -> Status:
        return self.extra_data.grader.status

    @property
    def max_score(self) -> float:
        return float(self.extra_data.max_score or 0.0)

    @property
    def late(self) -> Late:
        return self.extra_data.late

    @property
    def grader(self) -> GraderInfo:
        return self.extra_data.grader

    @property
    def parts(self) -> dict[str, PartScore]:
        return self.extra_data.parts

    @property
    def final_score(self) -> float:
        """The autograde after the late penalty (TA overrides and extensions live in the gradebook store)."""
        return round(self.score * (1 - self.late.penalty_fraction), 4)

    def to_json(self) -> dict[str, Any]:
        """The dict written to disk (Gradescope's format plus extra_data)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Any, *, where: str = "results") -> "Results":
        """Validate a parsed results.json; ResultsFileError (one line) when it is not one."""
        if isinstance(data, Results):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise ResultsFileError(f"{where}: not a results.json ({field}: {first['msg']}); "
                                   "re-grade the submission to rewrite it") from None


class ResultsFileError(ValueError):
    """A results.json that is missing, not JSON or not in this format; the message is one line."""


def write_results(path: Path, results: Results) -> None:
    """The only writer of results.json: atomic, so a reader never sees half a file."""
    write_json_atomic(Path(path), results.to_json())


def read_results(path: Path) -> Results:
    """The only reader of results.json."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file; grade the submission first (`course grade`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{path}: not valid JSON ({exc}); re-grade the submission to rewrite it") from None
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read ({exc.strerror})") from None
    return Results.from_json(data, where=str(path))
