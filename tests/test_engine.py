"""The engine on its fixture course: scores, feedback safety, determinism, CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.grading.api import collect_tests, grade_one
from coursekit.grading.results_model import Outcome
from coursekit.grading.mutants import Mutant, MutantError, apply_mutant

FIXTURE = Path(__file__).parent / "fixtures" / "engine_course"
COURSE = FIXTURE / "course.yaml"
NOTEBOOK = FIXTURE / "source" / "m00-engine" / "m00-engine.ipynb"


def test_collect_lists_parts_points_and_kinds():
    tests = collect_tests(course_file=COURSE, milestone_id="m00-engine")
    by_name = {t["name"]: t for t in tests}
    matmul = by_name["test_matmul_random"]
    assert (matmul["part"], matmul["points"], matmul["kind"]) == ("matmul", 2.0, "hidden")
    assert by_name["test_add_small"]["kind"] == "public"
    assert sum(t["points"] for t in tests) == 6


@pytest.mark.slow
def test_reference_full_marks_and_same_score_twice(tmp_path):
    first = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="ref",
                      out_dir=tmp_path / "a", device="cpu")
    second = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="ref",
                       out_dir=tmp_path / "b", device="cpu")
    assert first.score == second.score == 6
    assert [t.score for t in first.tests] == [t.score for t in second.tests]
    assert (tmp_path / "a" / "feedback.md").is_file()


@pytest.mark.slow
def test_forbidden_shortcut_fails_with_message_and_hidden_feedback_is_hint_only(tmp_path):
    mutant = Mutant("uses-at", "matmul", "uses @", (("    C = np.zeros((n, m))\n", "    return A @ B\n"),))
    notebook = apply_mutant(NOTEBOOK, mutant, tmp_path / "cheat.ipynb")
    results = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=notebook, student="cheat",
                        out_dir=tmp_path / "out", device="cpu")
    test = next(t for t in results.tests if "matmul" in t.name)
    assert test.outcome is Outcome.forbidden
    assert "@ operator" in test.output
    assert results.score == 4
    text = json.dumps(results.to_json()) + (tmp_path / "out" / "feedback.md").read_text()
    assert "SECRET_EXPECTED" not in text and "rtol" not in text  # hidden source never shown


@pytest.mark.slow
def test_only_parts_grades_just_that_part():
    results = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="x",
                        device="cpu", only_parts=["counter"])
    assert {t.part for t in results.tests} == {"counter"}
    assert results.to_json()["extra_data"]["parts"] == {"counter": {"score": 2.0, "max_score": 2.0}}


def test_mutant_find_must_be_unique(tmp_path):
    with pytest.raises(MutantError, match="occurs 0 times"):
        apply_mutant(NOTEBOOK, Mutant("x", "add", "", (("no such text", ""),)), tmp_path / "x.ipynb")


def test_grade_cli_unknown_milestone_is_one_line_nonzero(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "coursekit.cli", "--course", str(COURSE), "grade", "m99-nope",
                                str(NOTEBOOK), "--out", str(tmp_path)], capture_output=True, text=True)
    assert completed.returncode != 0
    assert "unknown milestone 'm99-nope'" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_grade_cli_missing_submission_is_one_line_nonzero(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "coursekit.cli", "--course", str(COURSE), "grade",
                                "m00-engine", str(tmp_path / "nope.ipynb"), "--out", str(tmp_path)],
                               capture_output=True, text=True)
    assert completed.returncode != 0 and "no such submission" in completed.stderr


@pytest.mark.slow
def test_without_namespaces_grading_degrades_and_says_so(tmp_path, monkeypatch):
    from coursekit.grading import sandbox

    monkeypatch.setenv("COURSEKIT_NAMESPACES", "0")
    monkeypatch.setenv("COURSEKIT_SANDBOX", "degraded")  # no bubblewrap, no cgroups: the last fallback
    sandbox.namespaces_available.cache_clear()
    sandbox.protections.cache_clear()
    try:
        results = grade_one(course_file=COURSE, milestone_id="m00-engine", notebook=NOTEBOOK, student="ref",
                            device="cpu")
    finally:
        sandbox.namespaces_available.cache_clear()
        sandbox.protections.cache_clear()
    assert results.score == 6
    assert results.grader.sandbox == "degraded"
    assert {"bubblewrap", "cgroups", "namespaces"} <= set(results.grader.sandbox_missing)


@pytest.mark.slow
def test_lms_folders_one_notebook_graded_several_refused(tmp_path):
    import shutil

    from coursekit.grading.batch import grade_batch

    alice, bob = tmp_path / "exports" / "alice", tmp_path / "exports" / "bob"
    alice.mkdir(parents=True)
    bob.mkdir()
    shutil.copy(NOTEBOOK, alice / "m00-engine.ipynb")
    shutil.copy(NOTEBOOK, bob / "draft.ipynb")
    shutil.copy(NOTEBOOK, bob / "final.ipynb")
    summary = grade_batch(course_file=COURSE, milestone_id="m00-engine", submissions=[alice, bob],
                          out_dir=tmp_path / "out", jobs=2, device="cpu")
    scores = {row["student"]: row["score"] for row in summary["submissions"]}
    assert scores == {"alice": 6, "bob": 0}
    bob_results = json.loads((tmp_path / "out" / "bob" / "results.json").read_text())
    assert "exactly one .ipynb" in bob_results["output"] and "draft.ipynb, final.ipynb" in bob_results["output"]
