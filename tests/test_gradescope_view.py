"""Gradescope's results.json as derived from the stored results: names students may see, grouping,
Markdown feedback, leaderboard, Gradescope's own due dates and extensions, no staff-only fields."""

from __future__ import annotations

import datetime as dt
import json
import random

from coursekit.config.schema import LatePolicy
from coursekit.infra import gradescope
from coursekit.infra.gradescope_view import gradescope_due, to_gradescope
from coursekit.review.synthetic import DEFAULT_PARTS, _tests_for, synthetic_results

DUE = dt.datetime(2027, 2, 5, 23, 59, tzinfo=dt.timezone.utc)


def results() -> dict:
    tests = _tests_for(DEFAULT_PARTS, 3)
    r = synthetic_results("ada", rng=random.Random(1), parts=DEFAULT_PARTS, tests=tests,
                          milestone_id="m01-linear-algebra", due=DUE).to_json()
    r["extra_data"]["flags"] = ["cell [3] line 2: import ctypes"]
    r["extra_data"]["holds"] = [{"part": "solve", "reason": "scipy.linalg in a from-scratch part"}]
    r["extra_data"]["metrics"] = {"heldout_accuracy": {"value": 0.987, "threshold": 0.98, "higher_is_better": True},
                                  "val_loss": {"value": 1.52, "threshold": 1.6, "higher_is_better": False}}
    return r


def test_names_numbers_tags_and_no_hidden_function_names() -> None:
    source = results()
    view = to_gradescope(source)
    hidden_names = {t["name"].split("] ", 1)[-1] for t in source["tests"] if t["extra_data"]["kind"] == "hidden"}
    text = json.dumps(view)
    assert not any(name in text for name in hidden_names), "a hidden test's function name reached Gradescope"
    first = view["tests"][0]
    assert first["number"] == "1.1" and first["tags"] == ["matmul"]
    assert any(t["name"] == "[matmul] hidden check 1" for t in view["tests"])
    parts = list(DEFAULT_PARTS)
    assert all(t["number"].split(".")[0] == str(parts.index(t["tags"][0]) + 1) for t in view["tests"])
    assert gradescope.validate_results(view) == []


def test_feedback_as_markdown_leaderboard_and_no_staff_fields() -> None:
    view = to_gradescope(results())
    assert view["output_format"] == "md" and view["output"].startswith("# m01-linear-algebra: feedback for ada")
    assert view["leaderboard"] == [{"name": "heldout_accuracy", "value": 0.987, "order": "desc"},
                                   {"name": "val_loss", "value": 1.52, "order": "asc"}]
    assert "flags" not in view["extra_data"] and "holds" not in view["extra_data"]
    assert "import ctypes" not in json.dumps(view) and "scipy.linalg" not in json.dumps(view)


def test_gradescope_due_date_and_the_students_extension_win() -> None:
    policy = LatePolicy(per_day=0.1, max_days=5, grace_minutes=15)
    submitted = (DUE + dt.timedelta(days=1, hours=1)).isoformat()
    metadata = {"created_at": submitted, "assignment": {"due_date": DUE.isoformat()},
                "users": [{"email": "ada@example.edu", "name": "Ada"}]}
    late = to_gradescope(results(), metadata=metadata, policy=policy)
    assert late["extra_data"]["late"]["due_source"] == "gradescope"
    assert late["extra_data"]["late"]["penalty_fraction"] == 0.2
    raw = late["extra_data"]["late"]["score_before_penalty"]
    assert late["score"] == round(raw * 0.8, 4) and late["output"].startswith("Submitted 25.0 h after the due date")
    # an extension given in Gradescope (the user's own due date) makes the same upload on time
    metadata["users"][0]["assignment"] = {"due_date": (DUE + dt.timedelta(days=2)).isoformat()}
    assert gradescope_due(metadata) == DUE + dt.timedelta(days=2)
    on_time = to_gradescope(results(), metadata=metadata, policy=policy)
    assert on_time["extra_data"]["late"]["penalty_fraction"] == 0.0 and "score_before_penalty" not in on_time["extra_data"]["late"]
    assert gradescope.validate_results(on_time) == []
