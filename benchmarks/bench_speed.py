"""Grading speed side by side (issue 13): the kit against nbgrader (and otter), and against bare pytest.

    python benchmarks/bench_speed.py [--n 20] [--rounds 3] [--milestones m01-linear-algebra m03-probability]
                                     [--skip-nbgrader] [--record]

(a) Throughput on one toy assignment (3 parts, 9 tests), the same ``n`` submissions graded by
    ``nbgrader autograde``, by ``course grade --jobs 1`` and ``--jobs 2`` (sandbox as this host allows:
    the kit's results say which), and by otter-grader when it is installed.
(b) Harness overhead on real milestones: the reference notebook graded by ``course grade --jobs 1``
    against the same public + hidden tests run by pytest in one fresh interpreter with the student's
    code executed in-process (the kit's fixtures, no sandbox, no worker, no CLI), in grading mode as
    the kit runs it (COURSEKIT_GRADING=1: the notebook's ``check()`` calls do nothing; without it each
    of them imports the public tests, about 9 s for m01 — an earlier version of this script measured
    that and overstated the baseline). Two baselines: ``bare_pytest`` applies the suite's ``@forbid``
    bans in-process (a trace function on every call of student code), ``bare_pytest_no_bans`` does
    not: the plainest pytest run. The overhead goal is measured against the second.
(c) The hosted-autograder path for one submission (``python -m coursekit.infra.gradescope run``, what
    Gradescope's run_autograder calls) of the first milestone against that same bare pytest run.

Every figure is a wall-clock median over ``rounds`` and every command is a fresh process, so each
pays its own start-up and shutdown. Prints the ratios against the goals and the machine's load
(os.getloadavg) before and after; ``--record`` writes them to reference/benchmarks/speed.json.
Scores are checked too: a faster grader that grades differently is a failure (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOALS = {"throughput_vs_nbgrader": 3.0, "overhead_seconds": 0.5, "single_submission_ratio": 2.0}

# ---------------------------------------------------------------------------------------------- toy
SOLUTIONS = {
    "add": "def add(a, b):\n    \"\"\"a + b (numbers or arrays).\"\"\"\n    return a + b\n",
    "dot": "def dot(u, v):\n    \"\"\"Dot product of two equal-length sequences, without numpy.\"\"\"\n"
           "    return sum(x * y for x, y in zip(u, v))\n",
    "normalize": "import math\n\ndef normalize(v):\n"
                 "    \"\"\"v scaled to unit length (a list); ValueError for the zero vector.\"\"\"\n"
                 "    n = math.sqrt(sum(x * x for x in v))\n    if n == 0:\n        raise ValueError('zero vector')\n"
                 "    return [x / n for x in v]\n",
}
# Three checks per part; the same assertions for both graders.
CHECKS = {
    "add": ["assert add(2, 3) == 5", "assert add(-1.5, 1.5) == 0", "assert add('a', 'b') == 'ab'"],
    "dot": ["assert dot([1, 2, 3], [4, 5, 6]) == 32", "assert dot([], []) == 0",
            "assert abs(dot([0.5] * 4, [2.0] * 4) - 4.0) < 1e-12"],
    "normalize": ["assert normalize([3, 4]) == [0.6, 0.8]",
                  "assert abs(sum(x * x for x in normalize([1, 2, 2])) - 1) < 1e-12",
                  "import pytest\nwith pytest.raises(ValueError):\n    normalize([0, 0])"],
}
TOY_ID = "m00-toy"


def _cell(cell_type: str, source: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": cell_type, "metadata": {"nbgrader": {**nbgrader, "schema_version": 3}} if nbgrader else {},
            "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _with_ids(notebook: dict) -> dict:
    for index, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{index}"
    return notebook


def build_kit_course(folder: Path) -> tuple[Path, Path]:
    """A one-milestone course: (course.yaml, the reference notebook)."""
    (folder / "source" / TOY_ID).mkdir(parents=True)
    suite = folder / "autograder" / "suites" / TOY_ID
    suite.mkdir(parents=True)
    (folder / "course.yaml").write_text(
        "course:\n  title: \"Speed benchmark\"\n  term: \"bench\"\n"
        "  limits: {test_seconds: 10, submission_seconds: 120, notebook_seconds: 30, memory_mb: 2048, processes: 32,"
        " output_kb: 16, file_mb: 16}\n"
        f"milestones:\n  - id: {TOY_ID}\n    title: \"Toy assignment\"\n    phase: 0\n"
        f"    notebook: source/{TOY_ID}/{TOY_ID}.ipynb\n    due: 2030-01-01T23:59:00+00:00\n"
        "    parts: {add: 3, dot: 3, normalize: 3}\n", encoding="utf-8")
    tests = ["import pytest\n\nfrom coursekit_student.testing import part, points\n"]
    for name, checks in CHECKS.items():
        for index, check in enumerate(checks):
            body = check.replace(f"{name}(", f"submission.{name}(")
            body = "\n".join("    " + line for line in body.splitlines())
            tests.append(f"\n@part({name!r})\n@points(1)\ndef test_{name}_{index}(submission):\n{body}\n")
    (suite / "test_hidden.py").write_text("\n".join(tests), encoding="utf-8")
    notebook = _with_ids(_notebook([_cell("markdown", "# Toy assignment")]
                                   + [_cell("code", source) for source in SOLUTIONS.values()]))
    reference = folder / "source" / TOY_ID / f"{TOY_ID}.ipynb"
    reference.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return folder / "course.yaml", reference


def build_nbgrader_course(folder: Path) -> Path:
    """An nbgrader course dir with assignment ps1 generated (solution cells + 9 autograder test cells)."""
    (folder / "source" / "ps1").mkdir(parents=True)
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.CourseDirectory.course_id = 'bench'\n"
        "c.Autograde.create_student = True\nc.ExecutePreprocessor.timeout = 60\n" % str(folder), encoding="utf-8")
    cells = [_cell("markdown", "# Toy assignment")]
    for name, source in SOLUTIONS.items():
        cells.append(_cell("code", f"### BEGIN SOLUTION\n{source}### END SOLUTION\n",
                           {"grade": False, "solution": True, "locked": False, "grade_id": f"{name}-solution"}))
        for index, check in enumerate(CHECKS[name]):
            cells.append(_cell("code", check, {"grade": True, "solution": False, "locked": True,
                                               "grade_id": f"test-{name}-{index}", "points": 1}))
    (folder / "source" / "ps1" / "ps1.ipynb").write_text(json.dumps(_with_ids(_notebook(cells)), indent=1),
                                                        encoding="utf-8")
    _run([str(BIN / "nbgrader"), "generate_assignment", "ps1", "--force"], cwd=folder)
    return folder


# ---------------------------------------------------------------------------------------------- helpers
def _run(argv: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    started = time.monotonic()
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(argv)}\n{completed.stderr[-3000:]}")
    return seconds


def _median(function, rounds: int) -> float:
    return round(statistics.median(function() for _ in range(rounds)), 3)


def _course_grade(course: Path, milestone: str, notebooks: list[Path], out: Path, jobs: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return _run([str(BIN / "course"), "--course", str(course), "grade", milestone, *map(str, notebooks),
                 "--out", str(out), "--jobs", str(jobs)])


def _scores(out: Path) -> dict[str, float]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {row["student"]: row["score"] for row in summary["submissions"]}


def _sandbox(out: Path) -> str:
    results = next(out.glob("*/results.json"))
    return json.loads(results.read_text(encoding="utf-8"))["extra_data"]["grader"]["sandbox"]


BARE = '''
import json, os, sys
from pathlib import Path
import pytest
from coursekit.config import load_course
from coursekit.grading.backends import LocalBackend
from coursekit.grading.notebook import load_submission
from coursekit.grading.paths import MilestonePaths
from coursekit.grading.plugin import GradingPlugin
course_file, milestone_id, notebook = Path(sys.argv[1]).resolve(), sys.argv[2], Path(sys.argv[3])
os.environ["COURSE_FILE"] = str(course_file)
course = load_course(course_file, check_files=False)
milestone = course.milestone(milestone_id)
paths, limits = MilestonePaths.of(course_file, milestone), course.limits_for(milestone)
cells, _ = load_submission(notebook)
if len(sys.argv) > 5 and sys.argv[5] == "--no-bans":  # the plainest run: no ban is ever applied
    _begin = LocalBackend.begin_test
    LocalBackend.begin_test = lambda self, *, seed, forbid, deadline: _begin(self, seed=seed, forbid=[],
                                                                            deadline=deadline)
plugin = GradingPlugin(backend=LocalBackend(cells, "cpu"), hidden_dir=paths.hidden_suite, device="cpu",
                       gpu_available=False, test_seconds=limits.test_seconds,
                       submission_seconds=limits.submission_seconds, parts=dict(milestone.parts))
targets = [str(p) for p in (paths.public_tests, paths.hidden_suite) if p.is_dir()]
pytest.main([*targets, "-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(paths.root),
             "--import-mode=importlib"], plugins=[plugin])
Path(sys.argv[4]).write_text(json.dumps(sum(r.score for r in plugin.state.records.values())))
'''


def _bare(script: Path, course: Path, milestone: str, notebook: Path, score_file: Path, *, bans: bool = True) -> float:
    """Plain pytest in one fresh interpreter, the student's code executed in-process, in grading mode."""
    return _run([sys.executable, str(script), str(course), milestone, str(notebook), str(score_file),
                 *([] if bans else ["--no-bans"])], env={**os.environ, "COURSEKIT_GRADING": "1"})


def _gradescope_layout(root: Path, course: Path, milestone: str, notebook: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    (root / "source").mkdir(parents=True)
    (root / "source" / "course").symlink_to(course.resolve().parent)
    (root / "source" / "gradescope.json").write_text(json.dumps({"milestone": milestone}), encoding="utf-8")
    (root / "submission").mkdir()
    shutil.copy(notebook, root / "submission" / f"{milestone}.ipynb")
    return root


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------- parts
def toy_throughput(work: Path, n: int, rounds: int, skip_nbgrader: bool) -> dict:
    course, reference = build_kit_course(work / "kit")
    subs = work / "subs"
    subs.mkdir()
    notebooks = [Path(shutil.copy(reference, subs / f"student{i:03d}.ipynb")) for i in range(n)]
    figures: dict = {"submissions": n, "tests": sum(map(len, CHECKS.values())), "parts": len(CHECKS)}
    for jobs in (1, 2):
        out = work / f"out-j{jobs}"
        seconds = _median(lambda: _course_grade(course, TOY_ID, notebooks, out, jobs), rounds)
        scores = set(_scores(out).values())
        figures[f"kit_jobs{jobs}"] = {"seconds": seconds, "per_submission": round(seconds / n, 3),
                                      "scores": sorted(scores),
                                      "sandbox": _sandbox(out)}
    if skip_nbgrader:
        figures["nbgrader"] = "skipped (--skip-nbgrader)"
    elif not (BIN / "nbgrader").exists():
        figures["nbgrader"] = "skipped: nbgrader is not installed in this environment"
    else:
        folder = build_nbgrader_course(work / "nbgrader")

        def autograde() -> float:
            for name in ("submitted", "autograded"):
                shutil.rmtree(folder / name, ignore_errors=True)
            for index in range(n):
                target = folder / "submitted" / f"student{index:03d}" / "ps1"
                target.mkdir(parents=True)
                shutil.copy(folder / "source" / "ps1" / "ps1.ipynb", target / "ps1.ipynb")
            return _run([str(BIN / "nbgrader"), "autograde", "ps1", "--force"], cwd=folder)

        seconds = _median(autograde, rounds)
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gradebook:
            scores = sorted({gradebook.find_submission("ps1", f"student{i:03d}").score for i in range(n)})
        figures["nbgrader"] = {"seconds": seconds, "per_submission": round(seconds / n, 3), "scores": scores}
        figures["throughput_vs_nbgrader"] = {f"jobs{j}": round(seconds / figures[f"kit_jobs{j}"]["seconds"], 2)
                                             for j in (1, 2)}
    try:
        import otter  # noqa: F401
    except ImportError:
        figures["otter"] = "skipped: otter-grader is not installed in this environment"
    else:
        figures["otter"] = "skipped: installed, but this script does not build an otter assignment yet"
    return figures


def milestone_overhead(work: Path, milestones: list[str], rounds: int) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from coursekit.config import load_course
    from coursekit.grading.paths import MilestonePaths

    course_file = ROOT / "course.yaml"
    course = load_course(course_file, check_files=False)
    script = work / "bare_pytest.py"
    script.write_text(BARE, encoding="utf-8")
    figures: dict = {}
    for milestone_id in milestones:
        notebook = MilestonePaths.of(course_file, course.milestone(milestone_id)).source_notebook
        out = work / f"out-{milestone_id}"
        kit = _median(lambda: _course_grade(course_file, milestone_id, [notebook], out, 1), rounds)
        kit_score = _scores(out)[notebook.stem]
        score_file = work / f"bare-{milestone_id}.json"
        bare = _median(lambda: _bare(script, course_file, milestone_id, notebook, score_file), rounds)
        bare_score = json.loads(score_file.read_text())
        plain = _median(lambda: _bare(script, course_file, milestone_id, notebook, score_file, bans=False), rounds)
        figures[milestone_id] = {"course_grade_jobs1": kit, "bare_pytest": bare, "bare_pytest_no_bans": plain,
                                 "overhead_seconds": round(kit - plain, 3),
                                 "overhead_vs_bans_seconds": round(kit - bare, 3),
                                 "ratio": round(kit / plain, 2), "kit_score": kit_score,
                                 "bare_score": bare_score, "sandbox": _sandbox(out)}
    # (c) one submission through the hosted path, against the same bare run
    first = milestones[0]
    notebook = MilestonePaths.of(course_file, course.milestone(first)).source_notebook
    root = _gradescope_layout(work / "autograder", course_file, first, notebook)
    hosted = _median(lambda: _run([sys.executable, "-m", "coursekit.infra.gradescope", "run", "--root", str(root)]),
                     rounds)
    hosted_score = json.loads((root / "results" / "results.json").read_text())["score"]
    bare = figures[first]["bare_pytest_no_bans"]
    figures["single_submission"] = {"milestone": first, "hosted_seconds": hosted, "bare_pytest_no_bans": bare,
                                    "ratio": round(hosted / bare, 2), "score": hosted_score}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="toy submissions per grader")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (the median is kept)")
    parser.add_argument("--milestones", nargs="*", default=["m01-linear-algebra", "m03-probability"])
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--record", action="store_true", help="write reference/benchmarks/speed.json")
    args = parser.parse_args()
    # nbgrader runs `alembic` (and jupyter its kernel) from PATH: this environment's tools come first.
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    load_before = _load()
    figures = {"machine": f"{platform.node()} ({os.cpu_count()} cores)", "python": platform.python_version(),
               "rounds": args.rounds, "load_before": load_before}
    try:
        figures["toy"] = toy_throughput(work, args.n, args.rounds, args.skip_nbgrader)
        figures["milestones"] = milestone_overhead(work, args.milestones, args.rounds) if args.milestones else {}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["load_after"] = _load()
    figures["goals"] = _goals(figures)
    print(json.dumps(figures, indent=2))
    if args.record:
        out = ROOT / "reference" / "benchmarks" / "speed.json"
        out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    sys.exit(0 if _scores_agree(figures) else 1)


def _goals(figures: dict) -> dict:
    """Each goal: the measured value, the goal, and whether it is met."""
    goals = {}
    ratio = figures["toy"].get("throughput_vs_nbgrader", {}).get("jobs2")
    if ratio is not None:
        goals["throughput_vs_nbgrader_jobs2"] = {"value": ratio, "goal": f">= {GOALS['throughput_vs_nbgrader']}",
                                                 "met": ratio >= GOALS["throughput_vs_nbgrader"]}
    for milestone_id, row in figures.get("milestones", {}).items():
        if milestone_id != "single_submission":
            goals[f"overhead_{milestone_id}"] = {"value": row["overhead_seconds"],
                                                 "goal": f"<= {GOALS['overhead_seconds']} s",
                                                 "met": row["overhead_seconds"] <= GOALS["overhead_seconds"]}
    single = figures.get("milestones", {}).get("single_submission")
    if single:
        goals["single_submission_ratio"] = {"value": single["ratio"], "goal": f"<= {GOALS['single_submission_ratio']}",
                                            "met": single["ratio"] <= GOALS["single_submission_ratio"]}
    return goals


def _scores_agree(figures: dict) -> bool:
    toy = figures["toy"]
    full = float(toy["tests"])
    kit_ok = all(toy[f"kit_jobs{j}"]["scores"] == [full] for j in (1, 2))
    nbgrader_ok = not isinstance(toy["nbgrader"], dict) or toy["nbgrader"]["scores"] == [full]
    rows = [r for k, r in figures.get("milestones", {}).items() if k != "single_submission"]
    milestones_ok = all(r["kit_score"] == r["bare_score"] for r in rows)
    single = figures.get("milestones", {}).get("single_submission")
    single_ok = not single or not rows or single["score"] == rows[0]["kit_score"]
    for name, ok in (("toy (kit)", kit_ok), ("toy (nbgrader)", nbgrader_ok), ("milestones", milestones_ok),
                     ("hosted", single_ok)):
        if not ok:
            print(f"SCORES DIFFER: {name}", file=sys.stderr)
    return kit_ok and nbgrader_ok and milestones_ok and single_ok


if __name__ == "__main__":
    main()
