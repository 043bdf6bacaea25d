"""`course new`: a scaffolded milestone follows every convention and passes `course validate` as it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.config import load_course

FIXTURE = Path(__file__).parent / "fixtures" / "course"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "course")
    return tmp_path / "course" / "course.yaml"


def new(course: Path, *args: str):
    return CliRunner().invoke(cli, ["--course", str(course), "new", *args])


def test_new_milestone_files_and_entry(course: Path) -> None:
    before = course.read_text()
    result = new(course, "m01-scaling", "--due", "2027-02-01")
    assert result.exit_code == 0, result.output
    root = course.parent
    for rel in ("source/m01-scaling/m01-scaling.ipynb", "source/m01-scaling/tests/test_public.py",
                "autograder/suites/m01-scaling/test_hidden.py", "tests/mutants/m01-scaling.yaml"):
        assert (root / rel).is_file(), rel
    assert course.read_text().startswith(before)  # appended: comments and layout of course.yaml kept
    milestone = load_course(course).milestone("m01-scaling")
    assert milestone.parts == {"scale": 5} and milestone.written == {"analysis": 5}
    assert milestone.due.isoformat() == "2027-02-01T00:00:00+00:00"


def test_new_refuses_bad_or_taken_ids_in_one_line(course: Path) -> None:
    for args, message in ((["M1-x"], "must look like 'm19-diffusion'"),
                          (["m00-demo"], "already in"),
                          (["m00-other"], "m00 is already used")):
        result = new(course, *args)
        assert result.exit_code == 1 and message in result.output and result.output.count("\n") == 1, result.output


@pytest.mark.slow
def test_scaffold_passes_release_lint_and_validate(course: Path) -> None:
    assert new(course, "m01-scaling").exit_code == 0
    runner = CliRunner()
    released = runner.invoke(cli, ["--course", str(course), "release", "m01-scaling"])
    assert released.exit_code == 0, released.output
    validated = runner.invoke(cli, ["--course", str(course), "validate", "m01-scaling", "--device", "cpu"])
    assert validated.exit_code == 0, validated.output
