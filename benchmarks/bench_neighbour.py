"""An honest submission next to a CPU hog: does the sandbox's CPU share protect the neighbour?

    python benchmarks/bench_neighbour.py [--milestone m01-linear-algebra] [--hogs 30] [--jobs 2] [--cores N]

Grades the milestone's reference notebook twice at ``--jobs``: alone, then in one batch next to a
submission that forks ``--hogs`` busy processes and spins until its notebook time limit. Each
submission's cgroup gets cores/jobs of the CPU (``--cores`` overrides the core count, e.g. 1 to
squeeze the batch onto one core), so the reference should keep its score and most of its speed.
Prints the reference's score and grading time in both runs and the time ratio (with hog / alone).
Run it on an otherwise idle machine: it measures time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursekit.config import load_course  # noqa: E402
from coursekit.grading.batch import grade_batch  # noqa: E402
from coursekit.grading.paths import MilestonePaths  # noqa: E402
from coursekit.grading.sandbox import protections  # noqa: E402
from tests.hostile.corpus import notebook_bytes  # noqa: E402


def hog_cells(hogs: int) -> list[str]:
    return [f"import os\nfor _ in range({hogs}):\n"
            "    try:\n        if os.fork() == 0:\n            while True:\n                pass\n"
            "    except OSError:\n        break\nwhile True:\n    pass\n"]


def _grade(course: Path, milestone: str, notebooks: list[Path], out: Path, jobs: int) -> tuple[dict, float]:
    started = time.monotonic()
    grade_batch(course_file=course, milestone_id=milestone, submissions=notebooks, out_dir=out, jobs=jobs,
                device="cpu")
    wall = time.monotonic() - started
    return json.loads((out / "reference" / "results.json").read_text()), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestone", default="m01-linear-algebra")
    parser.add_argument("--hogs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cores", type=float, default=None, help="cores the batch may use (default: all)")
    parser.add_argument("--course", type=Path, default=ROOT / "course.yaml")
    args = parser.parse_args()
    if args.cores:
        os.environ["COURSEKIT_CORES"] = str(args.cores)
    course = load_course(args.course)
    milestone = course.milestone(args.milestone)
    paths = MilestonePaths.of(args.course, milestone)
    work = Path(tempfile.mkdtemp(prefix="bench-neighbour-"))
    submissions = work / "submissions"
    submissions.mkdir()
    reference = submissions / "reference.ipynb"
    reference.write_bytes(paths.source_notebook.read_bytes())
    hog = submissions / "hog.ipynb"
    hog.write_bytes(notebook_bytes(hog_cells(args.hogs)))

    try:
        alone, alone_wall = _grade(args.course, milestone.id, [reference], work / "alone", args.jobs)
        beside, beside_wall = _grade(args.course, milestone.id, [hog, reference], work / "beside", args.jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mode, missing = protections()
    report = {
        "milestone": milestone.id, "jobs": args.jobs, "hogs": args.hogs, "cores": args.cores or len(os.sched_getaffinity(0)),
        "sandbox": mode, "sandbox_missing": list(missing),
        "reference_alone": {"score": alone["score"], "max_score": alone["extra_data"]["max_score"],
                            "seconds": alone["execution_time"], "batch_wall_seconds": round(alone_wall, 2)},
        "reference_beside_hog": {"score": beside["score"], "max_score": beside["extra_data"]["max_score"],
                                 "seconds": beside["execution_time"], "batch_wall_seconds": round(beside_wall, 2)},
        "time_ratio": round(beside["execution_time"] / max(alone["execution_time"], 1e-9), 2),
        "score_kept": beside["score"] == alone["score"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
