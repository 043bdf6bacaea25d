"""The grading bundle baked into images and Gradescope zips: a valid course with no solution in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coursekit.config.loader import load_course
from coursekit.infra import bundle

from tests.test_gradescope_package import MID, make_course


@pytest.mark.slow
def test_bundle_is_a_complete_course_without_solutions(tmp_path: Path) -> None:
    course_file = make_course(tmp_path / "course")
    out = tmp_path / "bundle"
    done = subprocess.run([sys.executable, "-m", "coursekit.infra.bundle", "--course", str(course_file),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"bundled {MID} into {out}" in done.stdout
    course = load_course(out / "course.yaml")  # check_files: the release notebook is there
    assert [m.id for m in course.milestones] == [MID]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["autograder/secret", "autograder/suites/m00-gsdemo/test_hidden.py", "course.yaml",
                     "release/m00-gsdemo/m00-gsdemo.ipynb", "release/m00-gsdemo/tests/test_public.py"]
    notebook = json.loads((out / "release" / MID / f"{MID}.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "raise NotImplementedError" in code and "return a + b" not in code and "SOLUTION" not in code


def test_milestones_that_cannot_be_graded_are_skipped_with_a_reason(tmp_path: Path) -> None:
    course_file = make_course(tmp_path / "course")
    text = course_file.read_text().replace("milestones:\n", "milestones:\n  - {id: m09-later, title: Later, phase: 1, "
                                           "notebook: source/m09-later/m09-later.ipynb, due: 2027-03-01T00:00:00+00:00, "
                                           "parts: {a: 1}}\n")
    course_file.write_text(text)
    bundled, skipped = bundle.write_bundle(course_file, tmp_path / "b")
    assert bundled == [MID]
    assert len(skipped) == 1 and skipped[0].startswith("m09-later: ") and "is missing" in skipped[0]
    with pytest.raises(bundle.BundleError, match="m09-later cannot be graded yet"):
        bundle.write_bundle(course_file, tmp_path / "c", ["m09-later"])


@pytest.mark.slow
def test_bundle_cli_bad_id_is_one_line(tmp_path: Path) -> None:
    course_file = make_course(tmp_path / "course")
    done = subprocess.run([sys.executable, "-m", "coursekit.infra.bundle", "--course", str(course_file),
                           "--out", str(tmp_path / "b"), "m42-nope"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: unknown milestone 'm42-nope'; course.yaml has: m00-gsdemo"]
