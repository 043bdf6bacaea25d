"""``make demo``: the whole pipeline on one milestone in a few minutes; ``make demo-all``: every milestone.

The quick demo (default) walks one milestone (m01) the way a term goes:

1. the instructor builds the student release (``course release``);
2. a student runs the public checks in a fresh kernel before uploading the notebook (``course submit``);
3. the autograder grades a small class in the sandbox: the reference, the blank release, two
   partially-correct students (plausible mistakes from ``tests/mutants/``) and one hostile student
   whose notebook lies about equality and tries to read the hidden tests and forge its results;
4. the TA dashboard and the students' pages are written (``course report``).

``--all`` grades the synthetic class of every milestone instead (reference, blank, one
partially-correct student per mutant): the slow, complete tour.

    python -m coursekit.demo [--out out/demo] [--all] [--only ID ...] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from coursekit.config import load_course
from coursekit.grading.mutants import apply_mutant, load_mutants
from coursekit.grading.paths import MilestonePaths
from coursekit.grading.results_model import read_results

QUICK_MILESTONE = "m01-linear-algebra"
QUICK_MUTANTS = 2

# Appended to the reference solution: an honest score is all it may keep. It tries three things the
# sandbox and the trusted grader must defeat, and prints what it found into its own output.
HOSTILE_CELL = '''
import os, json
class AlwaysEqual:
    def __eq__(self, other): return True
    def __array__(self, *a, **k): raise TypeError("no data here")
def matmul(A, B):                      # a "result" that claims to equal anything
    return AlwaysEqual()
found = []
for top, folders, files in os.walk("/"):       # a bounded look around the whole file system
    if top.count(os.sep) > 4 or top.startswith(("/proc", "/sys")):
        folders[:] = []
    found += [os.path.join(top, f) for f in files if f == "test_hidden.py"]
    if len(found) > 5:
        break
print("hidden tests visible to the student:", found or "none")
for target in ("results.json", "../results.json", "/tmp/results.json"):
    try:
        with open(target, "w") as stream:
            json.dump({"score": 1e9}, stream)
    except OSError as exc:
        print("could not forge", target, "-", exc.strerror)
'''


def _course(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "coursekit.cli", *args], check=True)


def build_class(paths: MilestonePaths, folder: Path, *, mutants: int | None = None,
                hostile: bool = False) -> list[Path]:
    """Reference, blank release, partially-correct students (the first ``mutants``) and maybe a hostile one."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    students = [shutil.copy(paths.source_notebook, folder / "reference.ipynb"),
                shutil.copy(paths.release_notebook, folder / "blank.ipynb")]
    for mutant in load_mutants(paths.mutants)[:mutants]:
        students.append(apply_mutant(paths.source_notebook, mutant, folder / f"partial-{mutant.name}.ipynb"))
    if hostile:
        notebook = nbformat.read(paths.source_notebook, as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell(HOSTILE_CELL))
        nbformat.write(notebook, folder / "hostile.ipynb")
        students.append(folder / "hostile.ipynb")
    return [Path(p) for p in students]


def student_check(paths: MilestonePaths, milestone_id: str, out: Path) -> None:
    """What a student does before uploading: ``course submit`` (public checks in a fresh kernel)."""
    workdir = out / "student" / milestone_id
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(paths.release_notebook.parent, workdir)
    shutil.copy(paths.source_notebook, workdir / paths.release_notebook.name)  # a student who finished
    print(f"\n== a student checks {milestone_id} in a fresh kernel before uploading it (course submit)")
    subprocess.run([sys.executable, "-m", "coursekit_student.cli", "submit", milestone_id,
                    "--notebook", str(workdir / paths.release_notebook.name)],
                   check=True, cwd=workdir)


def grade_class(course_file: Path, milestone_id: str, submissions: list[Path], results: Path,
                jobs: int | None) -> None:
    print(f"\n== {milestone_id}: grading {len(submissions)} students in the sandbox")
    grade = ["--course", str(course_file), "grade", milestone_id, *map(str, submissions), "--out", str(results)]
    _course(*grade, *(["--jobs", str(jobs)] if jobs else []))
    _course("--course", str(course_file), "report", str(results))


def quick(args: argparse.Namespace) -> list[tuple[str, Path]]:
    course = load_course(args.course)
    milestone = course.milestone(QUICK_MILESTONE)
    paths = MilestonePaths.of(args.course, milestone)
    print(f"== instructor: release {milestone.id}")
    _course("--course", str(args.course), "release", milestone.id)
    student_check(paths, milestone.id, args.out)
    submissions = build_class(paths, args.out / milestone.id / "class", mutants=QUICK_MUTANTS, hostile=True)
    results = args.out / milestone.id / "results"
    grade_class(args.course, milestone.id, submissions, results, args.jobs)
    scores = {name: read_results(results / name / "results.json") for name in ("reference", "hostile")}
    lost = [part for part, row in scores["hostile"].parts.items() if row.score < row.max_score]
    print(f"\nhostile student: {scores['hostile'].score:g} of the reference's {scores['reference'].score:g} "
          f"points; no credit where its object claimed equality ({', '.join(lost) or 'none'}); "
          f"student page {results / 'site' / 'students' / 'hostile.html'}")
    return [(milestone.id, results)]


def everything(args: argparse.Namespace) -> list[tuple[str, Path]]:
    course = load_course(args.course)
    _course("--course", str(args.course), "release")
    done = []
    for milestone in course.milestones:
        if args.only and milestone.id not in args.only:
            continue
        paths = MilestonePaths.of(args.course, milestone)
        if not paths.hidden_suite.is_dir() or not paths.release_notebook.is_file():
            print(f"skipping {milestone.id}: no hidden suite or release yet")
            continue
        submissions = build_class(paths, args.out / milestone.id / "class")
        results = args.out / milestone.id / "results"
        grade_class(args.course, milestone.id, submissions, results, args.jobs)
        done.append((milestone.id, results))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=Path("course.yaml"))
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--all", action="store_true", help="every milestone's synthetic class (slow)")
    parser.add_argument("--only", nargs="*", default=None, help="with --all: these milestone ids only")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    args.out = args.out.resolve()
    started = time.monotonic()
    done = everything(args) if args.all else quick(args)
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s.")
    for milestone_id, results in done:
        print(f"  {milestone_id}: gradebook {results / 'gradebook.csv'}\n"
              f"  {' ' * len(milestone_id)}  dashboard {results / 'site' / 'index.html'} (staff only)\n"
              f"  {' ' * len(milestone_id)}  student pages {results / 'site' / 'students'}/")


if __name__ == "__main__":
    main()
