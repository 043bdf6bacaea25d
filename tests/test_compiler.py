"""The source -> release compiler: transforms on fixture notebooks and `course release` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.compiler import MarkerError, NotebookError, build_release, compile_file
from coursekit.config import load_course

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOKS = FIXTURES / "notebooks"


def compiled(name: str) -> dict:
    return json.loads(compile_file(NOTEBOOKS / f"{name}.ipynb"))


def source_text(nb: dict) -> str:
    return "\n".join("".join(cell["source"]) for cell in nb["cells"])


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """A private copy of the fixture course (release/ is written inside it)."""
    target = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", target, ignore=shutil.ignore_patterns("release", "reference"))
    return target


def release(course_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--course", str(course_dir / "course.yaml"), "release", *args])
    return result.exit_code, result.output


# ---------------------------------------------------------------- transforms


def test_code_solution_becomes_stub_and_docstring_stays() -> None:
    nb = json.loads(compile_file(FIXTURES / "course/source/m00-demo/m00-demo.ipynb"))
    add = "".join(nb["cells"][3]["source"])
    assert '"""Return the sum of two numbers.' in add
    assert add.rstrip().endswith("raise NotImplementedError()")
    assert "s = a + b" not in add and "BEGIN SOLUTION" not in add


def test_markdown_solution_region_becomes_text_stub() -> None:
    # Decision: solution regions are allowed in markdown cells (written answers); nbgrader
    # replaces them with its text stub and keeps the text around them.
    cell = compiled("markdown_solution")["cells"][0]
    text = "".join(cell["source"])
    assert "YOUR ANSWER HERE" in text
    assert "steepest ascent" not in text
    assert text.startswith("Explain why") and text.endswith("Then continue.")


@pytest.mark.parametrize("name, cell, words", [
    ("nested_markers", 1, "nested"),
    ("unclosed_marker", 2, 'without a matching "END SOLUTION"'),
    ("stray_end_marker", 0, 'without a preceding "BEGIN SOLUTION"'),
])
def test_malformed_markers_are_one_line_errors_naming_cell(name: str, cell: int, words: str) -> None:
    with pytest.raises(MarkerError) as info:
        compile_file(NOTEBOOKS / f"{name}.ipynb")
    message = str(info.value)
    assert "\n" not in message
    assert f"{name}.ipynb: cell {cell} (code):" in message
    assert words in message
    assert "add" in message or "close" in message  # says how to fix it


def test_outputs_widgets_and_solution_metadata_are_stripped() -> None:
    nb = compiled("outputs_and_widgets")
    assert set(nb["metadata"]) == {"kernelspec"}  # widgets, celltoolbar gone
    for cell in nb["cells"]:
        assert set(cell["metadata"]) <= {"tags", "deletable", "editable"}
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    raw = json.dumps(nb)
    assert "secret answer 42" not in raw and "widget-state" not in raw and "nbgrader" not in raw


def test_tags_are_carried_and_protected_cells_undeletable() -> None:
    nb = json.loads(compile_file(FIXTURES / "course/source/m00-demo/m00-demo.ipynb"))
    tags = [cell["metadata"].get("tags") for cell in nb["cells"]]
    assert tags[0] == ["header"] and tags[1] == ["setup"] and tags[4] == ["part:add", "check"]
    assert tags[-2] == ["ungraded"] and tags[-1] == ["submit"]
    assert nb["cells"][4]["metadata"]["deletable"] is False
    assert "deletable" not in nb["cells"][3]["metadata"]  # students may restructure their own cells


def test_part_without_tests_compiles_unchanged() -> None:
    nb = compiled("part_without_tests")
    assert "no tests for this part" in source_text(nb)
    assert nb["cells"][3]["metadata"]["tags"] == ["part:explore"]


def test_non_ascii_is_kept_verbatim_in_utf8() -> None:
    data = compile_file(NOTEBOOKS / "non_ascii.ipynb")
    text = data.decode("utf-8")
    assert "Régression linéaire — ∑ᵢ (yᵢ − ŷᵢ)² 📈" in text  # not \u-escaped
    assert "« naïf »" in text and "Σ/n" not in text


def test_compilation_is_deterministic_without_cell_ids(tmp_path: Path) -> None:
    data = json.loads((NOTEBOOKS / "non_ascii.ipynb").read_text())
    for cell in data["cells"]:
        del cell["id"]  # nbformat would invent random ids
    path = tmp_path / "noids.ipynb"
    path.write_text(json.dumps(data))
    first, second = compile_file(path), compile_file(path)
    assert first == second
    nbformat.validate(nbformat.reads(first.decode(), as_version=4))


# ---------------------------------------------------------------- course release


def test_release_builds_milestone_package_and_metadata(course_dir: Path) -> None:
    code, output = release(course_dir)
    assert code == 0, output
    out = course_dir / "release"
    assert (out / "m00-demo/m00-demo.ipynb").is_file()
    # check() reads each part's total (hidden tests included) from here
    from coursekit.config import load_course
    parts = dict(load_course(course_dir / "course.yaml").milestone("m00-demo").parts)
    stamped = json.loads((out / "m00-demo/m00-demo.ipynb").read_text())["metadata"]["coursekit"]["part_points"]
    assert stamped == parts
    assert (out / "m00-demo/tests/test_public.py").read_bytes() == \
        (course_dir / "source/m00-demo/tests/test_public.py").read_bytes()
    assert (out / "coursekit_student/testing.py").is_file()
    assert not list(out.rglob("__pycache__"))
    assert 'name = "zero-to-llm-student"' in (out / "pyproject.toml").read_text()
    assert 'course = "coursekit_student.cli:main"' in (out / "pyproject.toml").read_text()
    # the student package pins the grader's exact versions (the kit's lock), torch included
    from coursekit.infra.lock import lock_path, parse_lock

    pins = parse_lock(lock_path(Path(__file__).resolve().parents[1]).read_text())
    pyproject = (out / "pyproject.toml").read_text()
    for name in ("numpy", "scipy", "scikit-learn", "torch", "jupyterlab", "pytest"):
        assert f'"{name}=={pins[name]}"' in pyproject, name
    assert f"PyTorch {pins['torch']}" in (out / "README.md").read_text()
    datasets = json.loads((out / "datasets.json").read_text())
    assert datasets["tinyshakespeare"]["files"][0]["sha256"].startswith("86c4e6aa")
    readme = (out / "README.md").read_text()
    assert "pip install ./release" in readme and "`m00-demo`" in readme
    assert not (out / "autograder").exists() and "expected_demo" not in "".join(p.name for p in out.rglob("*"))


def test_release_is_byte_stable_and_check_passes(course_dir: Path) -> None:
    assert release(course_dir)[0] == 0
    snapshot = {p: p.read_bytes() for p in (course_dir / "release").rglob("*") if p.is_file()}
    code, output = release(course_dir)
    assert code == 0 and "0 written or removed" in output
    assert snapshot == {p: p.read_bytes() for p in (course_dir / "release").rglob("*") if p.is_file()}
    code, output = release(course_dir, "--check")
    assert code == 0 and "is current" in output


def test_check_reports_changed_missing_and_extra_files(course_dir: Path) -> None:
    assert release(course_dir)[0] == 0
    out = course_dir / "release"
    notebook = course_dir / "source/m00-demo/m00-demo.ipynb"
    notebook.write_text(notebook.read_text().replace("Return $a + b$.", "Return the sum $a + b$."))
    (out / "m00-demo/tests/test_public.py").unlink()
    (out / "m00-demo/stale_helper.py").write_text("x = 1\n")
    code, output = release(course_dir, "--check")
    assert code == 1
    assert "changed  release/m00-demo/m00-demo.ipynb" in output
    assert "+    \"Return the sum $a + b$.\"" in output  # first differing lines are shown
    assert "missing  release/m00-demo/tests/test_public.py" in output
    assert "extra    release/m00-demo/stale_helper.py" in output
    assert "run `course release`" in output
    # and a real release fixes all three
    assert release(course_dir)[0] == 0
    assert release(course_dir, "--check")[0] == 0
    assert not (out / "m00-demo/stale_helper.py").exists()


def test_helper_files_copied_but_solution_files_are_not(course_dir: Path) -> None:
    src = course_dir / "source/m00-demo"
    (src / "helpers.py").write_text("def plot_points(x):\n    return list(x)\n")
    (src / "solution_notes.py").write_text("ANSWER = 'the full solution text of part two'\n")
    (src / "solutions").mkdir()
    (src / "solutions/full.py").write_text("print('solution')\n")
    assert release(course_dir)[0] == 0
    out = course_dir / "release/m00-demo"
    assert (out / "helpers.py").is_file()
    assert not (out / "solution_notes.py").exists() and not (out / "solutions").exists()


def test_unknown_milestone_and_marker_errors_are_one_line(course_dir: Path) -> None:
    code, output = release(course_dir, "m99-nope")
    assert code == 1 and "unknown milestone 'm99-nope'" in output and output.count("\n") == 1
    notebook = course_dir / "source/m00-demo/m00-demo.ipynb"
    notebook.write_text(notebook.read_text().replace("    ### END SOLUTION\"", "\"", 1))
    code, output = release(course_dir)
    assert code == 1 and output.count("\n") == 1
    assert "source/m00-demo/m00-demo.ipynb: cell 3 (code):" in output


def test_release_api_reports_the_plan(course_dir: Path) -> None:
    course = load_course(course_dir / "course.yaml")
    result = build_release(course, course_dir, ["m00-demo"], check=True)
    assert "m00-demo/m00-demo.ipynb" in result.plan.files
    assert not (course_dir / "release").exists()  # --check writes nothing
    assert result.leaks == []


def test_student_litter_is_ignored_but_a_stray_solution_file_is_stale(course_dir: Path) -> None:
    assert release(course_dir)[0] == 0
    out = course_dir / "release/m00-demo"
    (out / ".course").mkdir()
    (out / ".course/checks.json").write_text("{}")  # check()'s progress file in an instructor's checkout
    (out / ".ipynb_checkpoints").mkdir()
    (out / ".ipynb_checkpoints/m00-demo-checkpoint.ipynb").write_text("{}")
    assert release(course_dir, "--check")[0] == 0
    (out / "solution.py").write_text("x = 1\n")
    code, output = release(course_dir, "--check")
    assert code == 1 and "extra    release/m00-demo/solution.py" in output
    assert release(course_dir)[0] == 0 and not (out / "solution.py").exists()
    assert (out / ".course/checks.json").exists()


def test_non_python_kernel_and_broken_json_are_one_line_errors(tmp_path: Path) -> None:
    data = json.loads((NOTEBOOKS / "non_ascii.ipynb").read_text())
    data["metadata"]["kernelspec"]["language"] = "julia"
    (tmp_path / "julia.ipynb").write_text(json.dumps(data))
    with pytest.raises(NotebookError, match=r"julia.ipynb: language 'julia' .* must use a Python kernel"):
        compile_file(tmp_path / "julia.ipynb")
    (tmp_path / "broken.ipynb").write_text('{"cells": [')
    with pytest.raises(NotebookError, match=r"broken.ipynb: not a valid .ipynb .*re-save it from JupyterLab"):
        compile_file(tmp_path / "broken.ipynb")
