"""course.yaml errors: each is one line naming the file, the field and the fix."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Callable

import pytest
import yaml
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.config import CourseConfigError, load_course

FIXTURE = Path(__file__).parent / "fixtures" / "course"
REPO_COURSE = Path(__file__).resolve().parents[1] / "course.yaml"


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    target = tmp_path / "course"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("release", "reference"))
    return target


def broken(course_dir: Path, change: Callable[[dict], None]) -> Path:
    data = yaml.safe_load((course_dir / "course.yaml").read_text())
    change(data)
    path = course_dir / "course.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(CourseConfigError) as info:
        load_course(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(str(path))
    return message


def test_fixture_and_real_course_files_load() -> None:
    assert load_course(FIXTURE / "course.yaml").milestone("m00-demo").total == 5
    assert len(load_course(REPO_COURSE, check_files=False).milestones) >= 1


def test_typo_in_a_field_names_the_milestone_and_field(course_dir: Path) -> None:
    path = broken(course_dir, lambda d: d["milestones"][0].update(pionts=3))
    message = error_of(path)
    assert "milestones[m00-demo].pionts: unknown key" in message


def test_typo_in_nested_course_settings(course_dir: Path) -> None:
    path = broken(course_dir, lambda d: d["course"]["limits"].update(test_secs=3))
    assert "course.limits.test_secs: unknown key; did you mean `test_seconds`?" in error_of(path)


def test_misspelt_required_key_is_named_with_the_right_spelling(course_dir: Path) -> None:
    # `titel:` used to report only "course.title: add this field (and 1 more)".
    path = broken(course_dir, lambda d: d["course"].update(titel=d["course"].pop("title")))
    message = error_of(path)
    assert "course.titel: unknown key; did you mean `title`?" in message, message


def test_misspelt_key_inside_a_milestone_list_item(course_dir: Path) -> None:
    path = broken(course_dir, lambda d: d["milestones"][0].update(limits={"memory_mbb": 100}))
    assert "milestones[m00-demo].limits.memory_mbb: unknown key; did you mean `memory_mb`?" in error_of(path)


def test_missing_notebook(course_dir: Path) -> None:
    (course_dir / "source/m00-demo/m00-demo.ipynb").unlink()
    message = error_of(course_dir / "course.yaml")
    assert "milestones[m00-demo].notebook: source/m00-demo/m00-demo.ipynb does not exist" in message
    assert "create it or correct the path" in message


def test_duplicated_milestone_id(course_dir: Path) -> None:
    path = broken(course_dir, lambda d: d["milestones"].append(copy.deepcopy(d["milestones"][0])))
    assert "milestones: milestone id 'm00-demo' appears twice; every id must be unique" in error_of(path)


def test_undeclared_dataset(course_dir: Path) -> None:
    path = broken(course_dir, lambda d: d["milestones"][0].update(datasets=["mnist"]))
    message = error_of(path)
    assert "uses dataset 'mnist', which is not declared under `datasets:` (declared: tinyshakespeare)" in message


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["milestones"][0].update(due="2027-01-01T00:00:00"), "due date needs a timezone"),
    (lambda d: d["milestones"][0]["parts"].update(add=0), "part 'add' has 0 points"),
    (lambda d: d["milestones"][0].update(id="demo"), "must look like 'm01-linear-algebra'"),
    (lambda d: d["milestones"][0]["parts"].update({"Bad Name": 1}), "part name 'Bad Name' must be lowercase"),
    (lambda d: d["milestones"][0].pop("title"), "milestones[m00-demo].title: add this field"),
    (lambda d: d["datasets"]["tinyshakespeare"]["files"][0].update(sha256="xyz"), "should match pattern"),
])
def test_other_field_errors(course_dir: Path, change: Callable[[dict], None], expected: str) -> None:
    assert expected in error_of(broken(course_dir, change))


def test_invalid_yaml_names_the_line(course_dir: Path) -> None:
    path = course_dir / "course.yaml"
    path.write_text(path.read_text().replace("  title: \"Demo course\"", "  title: [unclosed"))
    message = error_of(path)
    assert "not valid YAML" in message and "fix the syntax" in message


def test_cli_prints_config_errors_as_one_line(course_dir: Path) -> None:
    path = broken(course_dir, lambda d: d["milestones"][0].update(pionts=3))
    result = CliRunner().invoke(cli, ["--course", str(path), "release", "--check"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "pionts" in result.output
    result = CliRunner().invoke(cli, ["--course", str(course_dir / "missing.yaml"), "data", "list"])
    assert result.exit_code == 1 and "no such course file" in result.output
