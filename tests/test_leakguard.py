"""The leak guard: planted solution lines and hidden-test secrets in release/ fail with file:line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.compiler import leakguard
from coursekit.config import load_course

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A copy of the fixture course with a fresh, clean release/."""
    target = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", target, ignore=shutil.ignore_patterns("release", "reference"))
    result = CliRunner().invoke(cli, ["--course", str(target / "course.yaml"), "release"])
    assert result.exit_code == 0, result.output
    return target


def leaks(course_dir: Path) -> list[leakguard.Leak]:
    return leakguard.check(load_course(course_dir / "course.yaml"), course_dir)


def plant(path: Path, line: str) -> int:
    """Append a line to a release file; return its 1-based line number."""
    text = path.read_text(encoding="utf-8")
    text = text if text.endswith("\n") else text + "\n"
    path.write_text(text + line + "\n", encoding="utf-8")
    return text.count("\n") + 1


def test_clean_release_has_no_leaks(built: Path) -> None:
    assert leaks(built) == []


def test_planted_solution_line_is_found_with_file_and_line(built: Path) -> None:
    target = built / "release/m00-demo/tests/test_public.py"
    line = plant(target, "        return centred_values / np.std(centred_values)")
    found = leaks(built)
    assert [(f.path, f.line, f.what) for f in found] == [
        ("release/m00-demo/tests/test_public.py", line, "solution line")]
    assert "source/m00-demo/m00-demo.ipynb cell 6" in str(found[0])


def test_solution_line_inside_release_notebook_is_found_at_its_json_line(built: Path) -> None:
    path = built / "release/m00-demo/m00-demo.ipynb"
    text = path.read_text()
    text = text.replace('"    raise NotImplementedError()"', '"    centred_values = x - np.mean(x)\\n",\n    "    raise NotImplementedError()"', 1)
    path.write_text(text)
    expected_line = text.splitlines().index('    "    centred_values = x - np.mean(x)\\n",') + 1
    found = leaks(built)
    assert [(f.path, f.line) for f in found] == [("release/m00-demo/m00-demo.ipynb", expected_line)]


def test_markdown_solution_answer_is_a_secret(built: Path) -> None:
    plant(built / "release/README.md", "> Features on one scale make the loss surface better conditioned, so one learning rate suits all directions.")
    found = leaks(built)
    assert len(found) == 1 and found[0].what == "solution line"


def test_hidden_test_line_and_string_are_found(built: Path) -> None:
    target = built / "release/coursekit_student/extra_notes.py"
    target.write_text("# notes\n")
    first = plant(target, "assert submission.add(-1.5, 0.25) == -1.25")
    second = plant(target, 'MESSAGE = "use the population std, ddof=0 please"')
    found = {(f.line, f.what) for f in leaks(built)}
    assert (first, "hidden test line") in found
    # the hint string is student-facing by design, so it is NOT a secret ...
    assert all(line != second for line, _ in found)


def test_hidden_expected_values_in_json_are_found_even_rounded(built: Path) -> None:
    target = built / "release/m00-demo/tests/test_public.py"
    exact = plant(target, "EXPECTED = [-1.4362154353133456]")
    rounded = plant(target, "# prints 0.322416 for the 4th value")
    other = plant(target, "TOLERANCE = 0.123456  # not a hidden value")
    found = {f.line: f for f in leaks(built)}
    assert found[exact].what == "hidden expected number"
    assert found[rounded].origin == "autograder/suites/m00-demo/expected_demo.json"
    assert other not in found


def test_hidden_file_copied_or_named_is_found(built: Path) -> None:
    suite = built / "autograder/suites/m00-demo"
    np.save(suite / "expected_weights.npy", np.array([0.7071067811865476, 2.0]))
    shutil.copy(suite / "expected_demo.json", built / "release/m00-demo/data.json")
    plant(built / "release/README.md", "Load expected_weights.npy for part 2.")
    plant(built / "release/README.md", "w = 0.70710678")
    found = leaks(built)
    whats = {(f.path, f.what) for f in found}
    assert ("release/m00-demo/data.json", "copy of hidden file") in whats
    assert ("release/README.md", "hidden data file name") in whats
    assert any(f.what == "hidden expected number" and f.text == "0.70710678" for f in found)


def test_trivial_lines_are_not_secrets(built: Path) -> None:
    # Short solution lines (`s = a + b`, `return s`), comments and imports are below the threshold.
    target = built / "release/m00-demo/tests/test_public.py"
    plant(target, "    s = a + b")
    plant(target, "    return s")
    plant(target, "import json")
    plant(target, "from pathlib import Path")
    assert leaks(built) == []


def test_commented_out_solution_line_is_still_a_leak(built: Path) -> None:
    line = plant(built / "release/m00-demo/tests/test_public.py", "# centred_values = x - np.mean(x)")
    assert [(f.line, f.what) for f in leaks(built)] == [(line, "solution line")]


def test_release_command_fails_on_leak_and_check_too(built: Path) -> None:
    line = plant(built / "release/m00-demo/tests/test_public.py", "    centred_values = x - np.mean(x)")
    result = CliRunner().invoke(cli, ["--course", str(built / "course.yaml"), "release", "--check"])
    assert result.exit_code == 1
    assert f"leak: release/m00-demo/tests/test_public.py:{line}: solution line" in result.output
    assert "leak guard: 1 secret(s)" in result.output
    # `course release` rewrites files it owns (curing that one) but scans all of release/:
    (built / "release/notes.md").write_text("centred_values = x - np.mean(x)\n")
    result = CliRunner().invoke(cli, ["--course", str(built / "course.yaml"), "release", "m00-demo"])
    assert result.exit_code == 1
    assert "leak: release/notes.md:1: solution line" in result.output
    assert "test_public.py" not in result.output


def test_guard_module_entry_point_for_ci(built: Path, capsys: pytest.CaptureFixture) -> None:
    assert leakguard.main([str(built / "course.yaml")]) == 0
    plant(built / "release/README.md", "centred_values = x - np.mean(x)")
    assert leakguard.main([str(built / "course.yaml")]) == 1
    assert "release/README.md:" in capsys.readouterr().err


def test_line_public_in_source_is_not_a_leak(tmp_path: Path) -> None:
    # A line the author also wrote outside the solution region is public by definition.
    target = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", target, ignore=shutil.ignore_patterns("release", "reference"))
    notebook = target / "source/m00-demo/m00-demo.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][-2]["source"] = ["centred_values = x - np.mean(x)  # shown as an example\n"]
    notebook.write_text(json.dumps(nb))
    result = CliRunner().invoke(cli, ["--course", str(target / "course.yaml"), "release"])
    assert result.exit_code == 0, result.output


def test_solution_pasted_into_a_helper_file_is_caught(tmp_path: Path) -> None:
    target = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", target, ignore=shutil.ignore_patterns("release", "reference"))
    (target / "source/m00-demo/plotting.py").write_text(
        "def standardise(x):\n    centred_values = x - np.mean(x)\n    return centred_values\n")
    result = CliRunner().invoke(cli, ["--course", str(target / "course.yaml"), "release"])
    assert result.exit_code == 1
    assert "leak: release/m00-demo/plotting.py:2: solution line" in result.output


def test_forbid_and_part_arguments_are_not_secrets(built: Path) -> None:
    suite = built / "autograder/suites/m00-demo/test_more.py"
    suite.write_text('from coursekit_student.testing import forbid, part\n\n'
                     '@forbid("scipy.special.logsumexp")\n@part("normalize")\ndef test_x(submission):\n'
                     '    assert submission.normalize is not None\n')
    plant(built / "release/README.md", "Do not use scipy.special.logsumexp in part 2.")
    assert leaks(built) == []


@pytest.mark.slow
def test_real_course_milestones_compile_without_leaks(tmp_path: Path) -> None:
    """Every milestone of the real course that has a source notebook compiles and leaks nothing."""
    from coursekit.compiler import build_release

    repo = Path(__file__).resolve().parents[1]
    course = load_course(repo / "course.yaml", check_files=False)
    ids = [m.id for m in course.milestones if (repo / m.notebook).is_file()]
    if not ids:
        pytest.skip("no source notebooks in this checkout yet")
    result = build_release(course, repo, ids, release_dir=tmp_path / "release")
    assert [str(leak) for leak in result.leaks] == []
    for milestone_id in ids:
        text = (tmp_path / "release" / milestone_id / f"{milestone_id}.ipynb").read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
