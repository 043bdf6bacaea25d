"""`course submit` and `course status` on the m00-check fixture (fresh kernels via nbclient)."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit_student import cli as student_cli
from coursekit_student import submit as submit_mod
from coursekit_student.status import due_note, find_milestones, milestone_status, status

COURSE = Path(__file__).parent / "fixtures" / "student"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A student's folder: release/m00-check/ with the solved notebook saved in place of the stub one."""
    shutil.copytree(COURSE / "release", tmp_path / "release")
    monkeypatch.chdir(tmp_path)
    for name in ("COURSEKIT_GRADING", "COURSEKIT_MILESTONE", "COURSEKIT_NO_RECORD"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def solved(workspace: Path) -> Path:
    target = workspace / "release" / "m00-check" / "m00-check.ipynb"
    shutil.copy(COURSE / "source" / "m00-check" / "m00-check.ipynb", target)
    return target


@pytest.mark.slow
def test_submit_solved_notebook_writes_zip_with_manifest(workspace):
    notebook = solved(workspace)
    result = CliRunner().invoke(cli, ["submit", "m00-check", "--format", "zip"])
    assert result.exit_code == 0, result.output
    assert "public checks 3 passed, 0 failed: 5/5 public points (hidden tests also count)" in result.output
    assert "error:" not in result.output
    assert "wrote m00-check-submission.zip: upload this file" in result.output
    with zipfile.ZipFile(workspace / "m00-check-submission.zip") as archive:
        assert sorted(archive.namelist()) == ["m00-check.ipynb", "manifest.json"]
        manifest = json.loads(archive.read("manifest.json"))
        packed = archive.read("m00-check.ipynb")
    assert packed == notebook.read_bytes()
    assert manifest["sha256"] == hashlib.sha256(packed).hexdigest()
    assert manifest["milestone"] == "m00-check" and manifest["public_checks"]["points"] == 5.0
    # the fresh-kernel run must not overwrite the student's own progress cache
    assert not (workspace / "release" / "m00-check" / ".course").exists()


@pytest.mark.slow
def test_submit_by_default_names_the_notebook_to_upload(workspace):
    # One instruction everywhere: the notebooks, the release README and `course submit` all say
    # "upload <id>.ipynb"; the zip is only written on request.
    notebook = solved(workspace)
    result = CliRunner().invoke(cli, ["submit", "m00-check"])
    assert result.exit_code == 0, result.output
    assert f"m00-check.ipynb is ready: upload this file ({notebook}) as it is" in result.output
    assert not list(workspace.rglob("*.zip"))


@pytest.mark.slow
def test_submit_reports_errors_slow_cells_and_out_of_order_runs(workspace):
    notebook_path = solved(workspace)
    notebook = nbformat.read(notebook_path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for count, cell in zip([1, 5, 2, 3], code):
        cell.execution_count = count
    notebook.cells.insert(4, nbformat.v4.new_code_cell("import time\ntime.sleep(1.2)"))
    notebook.cells.insert(5, nbformat.v4.new_code_cell("print(undefined_variable)"))
    notebook.cells.insert(6, nbformat.v4.new_code_cell("while True: pass", metadata={"tags": ["ungraded"]}))
    nbformat.write(notebook, notebook_path)
    report = submit_mod.submit("m00-check", fmt="ipynb", slow_seconds=1.0)
    assert report.errors == ["cell 5: NameError: name 'undefined_variable' is not defined"]
    assert [i for i, _ in report.slow] == [4]
    assert any("cells were run out of order (cell 3 is In[5] but cell 7 below it is In[2])" in w
               for w in report.warnings)
    assert report.check["points"] == 5.0  # the ungraded infinite loop was skipped, like the grader does
    text = submit_mod.format_report(report)
    assert "slow: cell 4 took" in text and "m00-check.ipynb is ready: upload this file" in text
    assert not (workspace / "m00-check-submission.zip").exists()


def test_submit_rejects_a_corrupt_or_missing_notebook(workspace, capsys):
    (workspace / "release" / "m00-check" / "m00-check.ipynb").write_text('{"cells": [')
    assert student_cli.main(["submit", "m00-check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: m00-check.ipynb is not a valid notebook (") and err.count("\n") == 1
    result = CliRunner().invoke(cli, ["submit", "m99-nope"])
    assert result.exit_code == 1 and "no m99-nope.ipynb in" in result.output and "--notebook PATH" in result.output


def test_never_run_notebook_warns():
    blank = nbformat.read(COURSE / "release" / "m00-check" / "m00-check.ipynb", as_version=4)
    [warning] = submit_mod.order_warnings(blank)
    assert warning.startswith("the saved notebook has no outputs")


def test_status_reads_notebooks_and_check_cache(workspace):
    folder = workspace / "release" / "m00-check"
    assert find_milestones(workspace) == [folder]
    assert "m00-check" in status(workspace) and "never" in status(workspace)
    (folder / ".course").mkdir()
    (folder / ".course" / "checks.json").write_text(json.dumps({"milestone": "m00-check", "parts": {
        "scale": {"passed": 1, "total": 1, "points": 2.0, "max_points": 2.0, "checked_at": "2027-01-10T12:00:00+00:00"}}}))
    info = milestone_status(folder, workspace)
    assert info.parts == ["scale", "normalize"] and info.due == "2027-01-15 23:59"
    assert info.parts_passing == 1 and info.points == (2.0, 2.0)
    result = CliRunner().invoke(cli, ["status", str(workspace)])
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if line.startswith("m00-check"))
    assert row.split()[:3] == ["m00-check", "2027-01-15", "23:59"]
    assert row.split()[-5:] == [
        "1/2", "2/2", "2027-01-10", "12:00", "no"]
    assert due_note("2027-01-15 23:59", datetime(2027, 1, 12, 23, 59, tzinfo=timezone.utc)) == \
        "2027-01-15 23:59 (in 3 days)"
    assert due_note("2027-01-15 23:59", datetime(2027, 1, 16, tzinfo=timezone.utc)) == "2027-01-15 23:59 (overdue)"
    assert "not checked yet: normalize" in result.output


def test_size_limit_matches_the_grader(workspace, monkeypatch):
    from coursekit.grading.notebook import MAX_NOTEBOOK_BYTES

    assert submit_mod.MAX_NOTEBOOK_BYTES == MAX_NOTEBOOK_BYTES
    monkeypatch.setattr(submit_mod, "MAX_NOTEBOOK_BYTES", 100)
    with pytest.raises(submit_mod.SubmitError, match="the grader accepts at most"):
        submit_mod.submit("m00-check", run=False)


def test_ipynb_mode_warns_about_a_renamed_file(workspace):
    renamed = workspace / "my work.ipynb"
    shutil.copy(workspace / "release" / "m00-check" / "m00-check.ipynb", renamed)
    report = submit_mod.submit("m00-check", notebook=renamed, fmt="ipynb", run=False)
    assert any("upload it as m00-check.ipynb" in w for w in report.warnings)
    assert report.output == renamed.resolve()


def test_student_package_runs_without_the_instructor_kit(workspace):
    """Students install only release/: coursekit_student must work with `coursekit` unimportable."""
    import subprocess
    import sys

    package = workspace / "pkg"
    shutil.copytree(Path(submit_mod.__file__).parent, package / "coursekit_student",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys; sys.modules['coursekit'] = None\n"  # any `import coursekit...` now fails
            "import coursekit_student, coursekit_student.checker, coursekit_student.cli\n"
            "assert coursekit_student.__file__.startswith(sys.argv[1]), coursekit_student.__file__\n"
            "sys.exit(coursekit_student.cli.main(['status', sys.argv[2]]))\n")
    done = subprocess.run([sys.executable, "-c", code, str(package), str(workspace / "release")], cwd=package,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].startswith("m00-check")
