"""`course validate` on the tiny fixture course (tests/fixtures/course, milestone m00-demo)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.config import load_course
from coursekit.validate import check_executes, check_points, points_problems, validate_milestone

FIXTURE = Path(__file__).parent / "fixtures" / "course"


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    target = tmp_path / "course"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("release", "reference"))
    result = CliRunner().invoke(cli, ["--course", str(target / "course.yaml"), "release"])
    assert result.exit_code == 0, result.output
    return target


def milestone(course_dir: Path = FIXTURE):
    return load_course(course_dir / "course.yaml").milestone("m00-demo")


def t(name: str, part: str, points: float, **flags) -> dict:
    return {"name": name, "part": part, "points": points, "kind": "hidden", "gpu": False, "cpu_smoke": False, **flags}


# ---------------------------------------------------------------- points rule (fast)


def test_points_add_up() -> None:
    tests = [t("a1", "add", 2), t("n1", "normalize", 1), t("n2", "normalize", 2)]
    assert points_problems(tests, milestone()) == []


def test_gpu_test_and_its_smoke_twin_count_once_per_mode() -> None:
    tests = [t("a1", "add", 2), t("n_gpu", "normalize", 3, gpu=True), t("n_cpu", "normalize", 3, cpu_smoke=True)]
    assert points_problems(tests, milestone()) == []
    lopsided = [t("a1", "add", 2), t("n_gpu", "normalize", 3, gpu=True), t("n_cpu", "normalize", 2, cpu_smoke=True)]
    assert points_problems(lopsided, milestone()) == [
        "part 'normalize': tests give 2 points in CPU mode, course.yaml says 3"]


def test_points_that_do_not_add_up_unknown_part_and_untested_part() -> None:
    tests = [t("a1", "add", 1), t("x1", "extra", 1), {"problem": "test_bad has no @points"}]
    problems = points_problems(tests, milestone())
    assert "test_bad has no @points" in problems
    assert any("x1 scores part 'extra', which is not in course.yaml" in p for p in problems)
    assert "part 'add': tests give 1 points in GPU mode, course.yaml says 2" in problems
    assert "part 'normalize' has no tests (course.yaml gives it 3 points)" in problems


def test_schema_docs() -> None:
    result = CliRunner().invoke(cli, ["validate", "--schema"])
    assert result.exit_code == 0
    assert "milestones[]  [Milestone]" in result.output
    assert "raw_sha256: str | null" in result.output
    assert "Points per graded part" in result.output


def test_unknown_milestone_is_one_line(course_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["--course", str(course_dir / "course.yaml"), "validate", "m99-x"])
    assert result.exit_code == 1 and "unknown milestone 'm99-x'" in result.output


# ---------------------------------------------------------------- against the engine (slow)


@pytest.mark.slow
def test_points_mismatch_with_course_yaml_is_found_from_collected_tests(course_dir: Path) -> None:
    path = course_dir / "course.yaml"
    data = yaml.safe_load(path.read_text())
    data["milestones"][0]["parts"]["normalize"] = 4
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ok, detail = check_points(path, milestone(course_dir))
    assert not ok
    assert "part 'normalize': tests give 3 points in GPU mode, course.yaml says 4" in detail


@pytest.mark.slow
def test_release_with_a_non_stub_error_does_not_execute_cleanly(course_dir: Path) -> None:
    notebook = course_dir / "release/m00-demo/m00-demo.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][-2]["source"] = ["undefined_name + 1\n"]
    notebook.write_text(json.dumps(nb))
    ok, detail = check_executes(course_dir, milestone(course_dir), seconds=120)
    assert not ok and "NameError" in detail and "cell 9" in detail


@pytest.mark.slow
def test_validate_fixture_course_end_to_end(course_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["--course", str(course_dir / "course.yaml"), "validate", "m00-demo",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for name in ("reference", "blank", "executes", "points", "current", "lint"):
        assert name in result.output
    assert "FAIL" not in result.output and "all 1 milestone(s) valid" in result.output
    report = json.loads((course_dir / "reference/m00-demo/validate.json").read_text())
    assert report["ok"] is True
    assert report["reference_parts"] == {"add": {"score": 2.0, "max_score": 2.0},
                                         "normalize": {"score": 3.0, "max_score": 3.0}}
    assert all(p["score"] == 0 for p in report["blank_release_parts"].values())
    assert set(report["checks"]) == {"reference", "blank", "executes", "points", "current", "lint"}
    text = json.dumps(report)
    assert "test_add_mixed" not in text and "expected" not in text  # nothing about hidden tests
    assert not (course_dir / "release/m00-demo/.course").exists()  # executing did not touch release/


@pytest.mark.slow
def test_validate_catches_a_solution_left_outside_the_markers(course_dir: Path) -> None:
    # `add` fully implemented outside BEGIN/END: the blank release scores points, so it must fail.
    notebook = course_dir / "source/m00-demo/m00-demo.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][3]["source"] = ["def add(a, b):\n", "    return a + b\n"]
    notebook.write_text(json.dumps(nb))
    assert CliRunner().invoke(cli, ["--course", str(course_dir / "course.yaml"), "release"]).exit_code == 0
    report = validate_milestone(course_dir / "course.yaml", "m00-demo", device="cpu")
    checks = {c.name: c for c in report.checks}
    assert not report.ok
    assert checks["reference"].ok
    assert not checks["blank"].ok and "scores points on the stubs" in checks["blank"].detail
    assert "test_add_small" in checks["blank"].detail
