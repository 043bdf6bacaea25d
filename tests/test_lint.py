"""The release-notebook lint, on the m00-check fixture and on broken copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.config.loader import load_course
from coursekit.lint import lint_notebook

COURSE = Path(__file__).parent / "fixtures" / "student"
RELEASE = COURSE / "release" / "m00-check" / "m00-check.ipynb"


@pytest.fixture
def milestone():
    return load_course(COURSE / "course.yaml").milestone("m00-check")


def edited(tmp_path: Path, change) -> Path:
    notebook = nbformat.read(RELEASE, as_version=4)
    change(notebook)
    path = tmp_path / "m00-check.ipynb"
    nbformat.write(notebook, path)
    return path


def tagged(notebook, tag: str) -> int:
    return next(i for i, c in enumerate(notebook.cells) if tag in c.metadata.get("tags", []))


def test_fixture_release_is_clean(milestone):
    assert lint_notebook(RELEASE, milestone) == []


def test_missing_header_is_named(tmp_path, milestone):
    path = edited(tmp_path, lambda nb: nb.cells.pop(0))
    problems = lint_notebook(path, milestone)
    assert problems[0].startswith("m00-check.ipynb: cell 0: no header cell: the first cell must be markdown tagged")


def test_header_without_objectives_due_date_or_points_row(tmp_path, milestone):
    def change(nb):
        nb.cells[0].source = "# Vectors warm-up\n\n| part | points |\n|---|---|\n| scale | 2 |\n"
    problems = lint_notebook(edited(tmp_path, change), milestone)
    assert "m00-check.ipynb: cell 0: header has no learning objectives; add a 'Learning objectives' list" in problems
    assert "m00-check.ipynb: cell 0: header points table lacks part(s) normalize; add a row for each" in problems
    assert any("due date 2027-01-15" in p for p in problems)
    assert any("how to submit" in p for p in problems)


def test_part_without_check_cell_is_named(tmp_path, milestone):
    def change(nb):
        nb.cells = [c for c in nb.cells if "check(\"normalize\")" not in c.source]
    problems = lint_notebook(edited(tmp_path, change), milestone)
    assert problems == ["m00-check.ipynb: cell 5: part 'normalize' has no check cell; add a code cell "
                        "`check(\"normalize\")` tagged check and part:normalize after the stub"]


def test_stub_without_docstring_is_named(tmp_path, milestone):
    def change(nb):
        nb.cells[3].source = "def scale(v, c):\n    raise NotImplementedError()\n\nclass Helper:\n    '''Documented.'''\n"
    problems = lint_notebook(edited(tmp_path, change), milestone)
    assert problems == ["m00-check.ipynb: cell 3: `scale` in the stub of part 'scale' has no docstring; document "
                        "inputs, shapes, return and errors (outside the solution markers)"]


def test_explanation_without_math_and_stub_missing(tmp_path, milestone):
    def change(nb):
        nb.cells[2].source = "## Scaling\n\nMultiply every entry."
        nb.cells[3].source = "def scale(v, c):\n    '''Doc.'''\n    return v\n"
    problems = lint_notebook(edited(tmp_path, change), milestone)
    assert "m00-check.ipynb: cell 2: part 'scale''s explanation has no LaTeX math; state the idea as a formula ($...$)" \
        in problems
    assert any(p.startswith("m00-check.ipynb: cell 2: part 'scale' has no code stub raising NotImplementedError")
               for p in problems)


def test_setup_submit_and_unknown_part_tags(tmp_path, milestone):
    def change(nb):
        nb.cells[1].source = "import numpy as np"
        nb.cells[2].metadata["tags"] = ["part:scaling"]
        nb.cells.pop(tagged(nb, "submit"))
    problems = lint_notebook(edited(tmp_path, change), milestone)
    assert "m00-check.ipynb: cell 1: setup cell does not import check; add `from coursekit_student import check, " \
           "check_all`" in problems
    assert any(p.startswith("m00-check.ipynb: cell 2: tag part:scaling names no part of m00-check") for p in problems)
    assert any("no submit section" in p for p in problems)


def test_ungraded_stub_and_magics(tmp_path, milestone):
    def change(nb):
        nb.cells[3].metadata["tags"].append("ungraded")
        nb.cells[1].source = "%matplotlib inline\n!pip list\nfrom coursekit_student import check, check_all"
    problems = lint_notebook(edited(tmp_path, change), milestone)
    assert problems == ["m00-check.ipynb: cell 3: the stub of part 'scale' is tagged `ungraded`, so the grader "
                        "would never run it; remove the tag"]


def test_course_lint_cli(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["--course", str(COURSE / "course.yaml"), "lint"])
    assert ok.exit_code == 0 and "1 release notebook(s) follow the conventions" in ok.output
    course = tmp_path / "course"
    shutil.copytree(COURSE, course)
    broken = course / "release" / "m00-check" / "m00-check.ipynb"
    notebook = nbformat.read(broken, as_version=4)
    notebook.cells.pop(0)
    nbformat.write(notebook, broken)
    bad = runner.invoke(cli, ["--course", str(course / "course.yaml"), "lint", "m00-check"])
    assert bad.exit_code == 1
    assert "m00-check.ipynb: cell 0: no header cell" in bad.output and "problem(s) in 1 notebook(s)" in bad.output
    unknown = runner.invoke(cli, ["--course", str(course / "course.yaml"), "lint", "m99-nope"])
    assert unknown.exit_code == 1 and "unknown milestone 'm99-nope'" in unknown.output


def test_written_questions_need_answer_cells_and_tags_need_questions(tmp_path, milestone):
    with_question = milestone.model_copy(update={"written": {"analysis": 5}})
    problems = lint_notebook(RELEASE, with_question)
    assert problems == ["m00-check.ipynb: cell -: written question 'analysis' has no answer cell; add a markdown "
                        "cell tagged written:analysis where students write their answer"]
    path = edited(tmp_path, lambda nb: nb.cells.append(
        nbformat.v4.new_markdown_cell("Your answer:", metadata={"tags": ["written:analysis"]})))
    assert lint_notebook(path, with_question) == []
    stray = lint_notebook(path, milestone)
    assert len(stray) == 1 and "tag written:analysis names no written question of m00-check" in stray[0]
