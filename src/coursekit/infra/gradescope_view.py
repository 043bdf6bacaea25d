"""Gradescope's results.json, derived from the kit's stored results (never written by grading itself).

Gradescope shows a results file to the student, hidden tests included after the due date. So the
view carries only what a student may see, in Gradescope's own vocabulary:

- test names a student may read: public tests by their readable name, hidden tests as
  "hidden check k" of their part (a hidden test's function name can describe the case it checks);
- ``number`` ("part.test") and ``tags`` ([part]) so Gradescope groups tests by part;
- ``output_format: md`` with the whole student feedback page as the submission's output (the same
  Markdown as DIR/<student>/feedback.md), per-test output as plain text;
- ``leaderboard`` from the metrics a milestone records (held-out accuracy, loss...);
- lateness against Gradescope's due date, and the student's own extended due date when Gradescope
  lists one for them (``users[].assignment.due_date``), with the course's late policy; ``score``
  is then the grade after the penalty, because Gradescope's gradebook reads nothing else, and
  ``extra_data.late.score_before_penalty`` keeps the autograde;
- no staff-only fields (code flags, parts held for review, grader internals).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from coursekit.config.schema import LatePolicy
from coursekit.grading.results_model import Late, Results, TestResult

STAFF_ONLY = ("flags", "holds", "submission_sha256")


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    stamp = dt.datetime.fromisoformat(str(value))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def gradescope_due(metadata: dict[str, Any]) -> dt.datetime | None:
    """The due date Gradescope applies to this submission: the submitter's extension, else the assignment's."""
    for user in metadata.get("users") or []:
        own = _when((user.get("assignment") or {}).get("due_date")) if isinstance(user, dict) else None
        if own:
            return own
    return _when((metadata.get("assignment") or {}).get("due_date"))


def late_block(results: Results, metadata: dict[str, Any], policy: LatePolicy) -> dict[str, Any]:
    """extra_data.late with Gradescope's due date (and extension) when its metadata has one."""
    late = results.late.model_dump(mode="json")
    due, submitted = gradescope_due(metadata), _when(metadata.get("created_at"))
    if due and submitted:
        seconds = max(0.0, (submitted - due).total_seconds())
        late.update(due=due.isoformat(), submitted_at=submitted.isoformat(), seconds_late=seconds,
                    penalty_fraction=policy.penalty_fraction(seconds), due_source="gradescope", source="gradescope")
    return late


def _test_names(tests: list[TestResult], parts: list[str]) -> list[tuple[str, str]]:
    """(name, number) per test: "[part] readable name" or "[part] hidden check k", and "p.k"."""
    counters: dict[str, int] = {}
    hidden: dict[str, int] = {}
    out = []
    for test in tests:
        part = str(test.part or "other")
        counters[part] = counters.get(part, 0) + 1
        number = f"{parts.index(part) + 1 if part in parts else len(parts) + 1}.{counters[part]}"
        if test.public:
            label = test.name.split("] ", 1)[-1].removeprefix("test_").replace("_", " ")
        else:
            hidden[part] = hidden.get(part, 0) + 1
            label = f"hidden check {hidden[part]}"
        out.append((f"[{part}] {label}", number))
    return out


def to_gradescope(results: Results | dict[str, Any], *, metadata: dict[str, Any] | None = None,
                  policy: LatePolicy | None = None) -> dict[str, Any]:
    """Gradescope's results.json for one graded submission (see the module docstring)."""
    from coursekit.review.feedback import render_feedback_md

    results = Results.from_json(results)
    late = late_block(results, metadata, policy) if metadata is not None and policy is not None \
        else results.late.model_dump(mode="json")
    parts = list(results.parts)
    tests = [{"name": name, "number": number, "tags": [str(test.part or "other")],
              "score": test.score, "max_score": test.max_score, "status": test.status,
              "output": test.output, "output_format": "text", "visibility": test.visibility,
              "extra_data": {"part": test.part, "kind": test.extra_data.kind, "outcome": test.outcome.value}}
             for test, (name, number) in zip(results.tests, _test_names(results.tests, parts))]
    raw, fraction = results.score, float(late.get("penalty_fraction") or 0.0)
    final = round(raw * (1 - fraction), 4)
    if fraction > 0:
        late["score_before_penalty"] = raw
    extra = results.extra_data.model_dump(mode="json", exclude=set(STAFF_ONLY))
    extra["late"] = late
    extra["grader"] = {k: extra["grader"].get(k) for k in ("status", "device", "gpu_mode", "sandbox")}
    view = {**results.to_json(), "score": final, "extra_data": extra}
    # the student's page with Gradescope's lateness (the same Markdown as feedback.md otherwise)
    feedback = render_feedback_md(results.model_copy(update={"extra_data": results.extra_data.model_copy(
        update={"late": Late.model_validate(late)})}))
    if fraction > 0:
        hours = float(late.get("seconds_late", 0.0)) / 3600
        feedback = (f"Submitted {hours:.1f} h after the due date: the late policy removes {fraction:.0%} "
                    f"of the score ({raw:g} -> {final:g}).\n\n{feedback}")
    view.update(tests=tests, output=feedback, output_format="md")
    board = [{"name": str(name), "value": m.value, "order": "desc" if m.higher_is_better else "asc"}
             for name, m in results.extra_data.metrics.items()]
    if board:
        view["leaderboard"] = board
    return view
