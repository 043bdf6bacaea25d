"""The schema of ``course.yaml``.

Every model forbids unknown fields so that a typo (``pionts:``) is an error, not a silently
ignored setting. Field descriptions double as the documentation printed by
``course validate --schema``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MILESTONE_ID = re.compile(r"^m\d\d-[a-z0-9]+(-[a-z0-9]+)*$")
PART_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatePolicy(Strict):
    """How late submissions lose points."""

    per_day: float = Field(0.10, ge=0, le=1, description="Fraction of the total lost per started day late.")
    max_days: int = Field(5, ge=0, description="After this many days late a submission scores 0.")
    grace_minutes: int = Field(15, ge=0, description="Lateness under this many minutes is forgiven.")

    def penalty_fraction(self, seconds_late: float) -> float:
        """Fraction of the score removed for a submission ``seconds_late`` after the due date."""
        if seconds_late <= self.grace_minutes * 60:
            return 0.0
        days = -(-seconds_late // 86400)  # started days, rounded up
        if days > self.max_days:
            return 1.0
        return min(1.0, days * self.per_day)


class Limits(Strict):
    """Resource limits for grading one submission (a worker sandbox)."""

    test_seconds: float = Field(30, gt=0, description="Default wall-clock limit for one test.")
    submission_seconds: float = Field(300, gt=0, description="Wall-clock limit for grading one submission.")
    notebook_seconds: float = Field(60, gt=0, description="Limit for executing the notebook's code cells.")
    memory_mb: int = Field(4096, ge=64, description="Address-space limit of the student's worker process.")
    processes: int = Field(64, ge=1, description="Most processes/threads the worker may have at once.")
    output_kb: int = Field(256, ge=1, description="Student stdout/stderr kept per submission; the rest is cut.")
    file_mb: int = Field(64, ge=1, description="Largest file the student's code may write.")


class Limitsoverride(Strict):
    """Per-milestone overrides of the course limits; unset fields inherit."""

    test_seconds: float | None = Field(None, gt=0)
    submission_seconds: float | None = Field(None, gt=0)
    notebook_seconds: float | None = Field(None, gt=0)
    memory_mb: int | None = Field(None, ge=64)
    processes: int | None = Field(None, ge=1)
    output_kb: int | None = Field(None, ge=1)
    file_mb: int | None = Field(None, ge=1)


Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]


class DataFile(Strict):
    name: str = Field(description="File name inside the dataset's folder (also its name on a mirror).")
    url: str = Field(description="Where the file is downloaded from when no mirror has it.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file's bytes.")
    size: int = Field(gt=0, description="Size in bytes.")
    raw_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$",
                                   description="For .gz files: sha256 of the decompressed content, accepted "
                                               "when a mirror holds a recompressed copy.")


class Dataset(Strict):
    description: str
    licence: str
    source: str = Field(description="Who published it (a citation or URL).")
    files: list[DataFile] = Field(min_length=1)


class Milestone(Strict):
    id: str = Field(description="mNN-name, e.g. m01-linear-algebra.")
    title: str
    phase: int = Field(ge=0, le=9)
    notebook: str = Field(description="Path of the source notebook, relative to course.yaml.")
    parts: dict[str, int] = Field(description="Points per graded part, in notebook order.")
    written: dict[str, int] = Field(
        default_factory=dict, description="Written answers graded by TAs with a rubric (`course review`): question "
                                          "-> points. The answer cells are tagged `written:<question>`.")
    due: dt.datetime = Field(description="Due date with a timezone, e.g. 2027-02-01T23:59:00+00:00.")
    needs: Literal["cpu", "gpu"] = "cpu"
    datasets: list[str] = Field(default_factory=list, description="Dataset names from the top-level `datasets`.")
    late_policy: LatePolicy | None = None
    limits: Limitsoverride = Field(default_factory=Limitsoverride)
    hidden_visibility: Visibility | None = Field(None, description="Gradescope visibility of hidden tests.")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not MILESTONE_ID.match(value):
            raise ValueError(f"milestone id {value!r} must look like 'm01-linear-algebra' (mNN-lowercase-words)")
        return value

    @field_validator("parts")
    @classmethod
    def _parts_shape(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("a milestone needs at least one graded part")
        for name, points in value.items():
            if not PART_NAME.match(name):
                raise ValueError(f"part name {name!r} must be lowercase letters, digits and _ (e.g. 'power_iteration')")
            if points <= 0:
                raise ValueError(f"part {name!r} has {points} points; give it a positive number of points")
        return value

    @field_validator("written")
    @classmethod
    def _written_shape(cls, value: dict[str, int]) -> dict[str, int]:
        for name, points in value.items():
            if not PART_NAME.match(name):
                raise ValueError(f"written question {name!r} must be lowercase letters, digits and _ (e.g. 'analysis')")
            if points <= 0:
                raise ValueError(f"written question {name!r} has {points} points; give it a positive number of points")
        return value

    @model_validator(mode="after")
    def _written_apart_from_parts(self) -> "Milestone":
        both = sorted(set(self.written) & set(self.parts))
        if both:
            raise ValueError(f"{', '.join(both)} is both an autograded part and a written question; rename one")
        return self

    @field_validator("due")
    @classmethod
    def _due_has_timezone(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("due date needs a timezone, e.g. 2027-02-01T23:59:00+00:00")
        return value

    @property
    def total(self) -> int:
        return sum(self.parts.values())


class CourseInfo(Strict):
    title: str
    term: str
    late_policy: LatePolicy = Field(default_factory=LatePolicy)
    limits: Limits = Field(default_factory=Limits)
    hidden_visibility: Visibility = Field("after_due_date", description="Default Gradescope visibility of hidden tests.")
    on_missing_gpu: Literal["smoke", "fail"] = Field(
        "smoke", description="Grading a GPU test without CUDA: 'smoke' runs the CPU smoke variants instead "
                             "(visible in the results), 'fail' refuses to grade.")


class Course(Strict):
    course: CourseInfo
    datasets: dict[str, Dataset] = Field(default_factory=dict)
    milestones: list[Milestone] = Field(min_length=1)

    @field_validator("milestones")
    @classmethod
    def _unique_ids(cls, value: list[Milestone]) -> list[Milestone]:
        # A field validator (not the model one) so the error is located at `milestones`.
        seen: set[str] = set()
        for milestone in value:
            if milestone.id in seen:
                raise ValueError(f"milestone id {milestone.id!r} appears twice; every id must be unique")
            seen.add(milestone.id)
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> "Course":
        for milestone in self.milestones:
            for name in milestone.datasets:
                if name not in self.datasets:
                    raise ValueError(f"milestone {milestone.id!r} uses dataset {name!r}, which is not declared "
                                     f"under `datasets:` (declared: {', '.join(sorted(self.datasets)) or 'none'})")
        return self

    def milestone(self, milestone_id: str, *, error: type[Exception] = KeyError) -> Milestone:
        """The milestone with this id, else ``error`` saying which ids course.yaml has.

        Each caller passes its own one-line error type (GraderError, K8sError, click's ...), so none
        needs to catch KeyError and unwrap its quoted message.
        """
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        known = ", ".join(m.id for m in self.milestones)
        raise error(f"unknown milestone {milestone_id!r}; course.yaml has: {known}")

    def limits_for(self, milestone: Milestone) -> Limits:
        overrides = {k: v for k, v in milestone.limits.model_dump().items() if v is not None}
        return self.course.limits.model_copy(update=overrides)

    def late_policy_for(self, milestone: Milestone) -> LatePolicy:
        return milestone.late_policy or self.course.late_policy

    def hidden_visibility_for(self, milestone: Milestone) -> str:
        return milestone.hidden_visibility or self.course.hidden_visibility
