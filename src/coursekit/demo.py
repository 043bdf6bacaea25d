"""``make demo``: build the releases, then grade a synthetic class for every milestone that exists.

The class of each milestone: the reference solution (the source notebook), the untouched blank
release, and one partially-correct student per mutant in ``tests/mutants/<id>.yaml``. Each class
is graded by the real engine (``course grade``) and gets a TA dashboard (``course report``).

    python -m coursekit.demo [--out out/demo] [--only ID ...] [--jobs N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from coursekit.config import load_course
from coursekit.grading.mutants import apply_mutant, load_mutants
from coursekit.grading.paths import MilestonePaths


def _course(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "coursekit.cli", *args], check=True)


def build_class(paths: MilestonePaths, folder: Path) -> list[Path]:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    students = [shutil.copy(paths.source_notebook, folder / "reference.ipynb"),
                shutil.copy(paths.release_notebook, folder / "blank.ipynb")]
    for mutant in load_mutants(paths.mutants):
        students.append(apply_mutant(paths.source_notebook, mutant, folder / f"partial-{mutant.name}.ipynb"))
    return [Path(p) for p in students]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=Path("course.yaml"))
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--only", nargs="*", default=None, help="milestone ids (default: all)")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    course = load_course(args.course)
    started = time.monotonic()
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
        print(f"\n== {milestone.id}: grading {len(submissions)} synthetic students")
        grade = ["--course", str(args.course), "grade", milestone.id, *map(str, submissions), "--out", str(results)]
        _course(*grade, *(["--jobs", str(args.jobs)] if args.jobs else []))
        _course("--course", str(args.course), "report", str(results))
        done.append((milestone.id, results))
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s.")
    for milestone_id, results in done:
        print(f"  {milestone_id}: gradebook {results / 'gradebook.csv'}  dashboard {results / 'site' / 'index.html'}")


if __name__ == "__main__":
    main()
