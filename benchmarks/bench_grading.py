"""Grading throughput and overhead, measured side by side in one run.

    python benchmarks/bench_grading.py [--milestone m01-linear-algebra] [--n 50] [--hostile 5] [--jobs 2]

1. Ground truth: each distinct honest notebook (reference, blank release, every mutant) graded alone.
2. Direct: the same tests run with plain pytest in-process against each honest notebook (no sandbox,
   no worker) — what nbgrader/otter-style graders do.
3. Batch: ``n`` submissions (honest copies + ``hostile`` attacks) through ``course grade --jobs``.

Prints submissions/minute, the sandbox's overhead per submission relative to direct pytest, and
whether every honest submission in the batch got its ground-truth score; writes
reference/benchmarks/grading.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursekit.config import load_course  # noqa: E402
from coursekit.grading.api import grade_one  # noqa: E402
from coursekit.grading.batch import grade_batch  # noqa: E402
from coursekit.grading.mutants import apply_mutant, load_mutants  # noqa: E402
from coursekit.grading.paths import MilestonePaths  # noqa: E402
from tests.hostile.corpus import notebook_bytes  # noqa: E402

HOSTILE = {
    "hostile-loop-at-import": ["while True:\n    pass\n"],
    "hostile-exit-at-import": ["import os\nos._exit(0)\n"],
    "hostile-fork-bomb": ["import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"],
    "hostile-memory-bomb": ["hog = []\nwhile True:\n    hog.append(bytearray(10**8))\n"],
    "hostile-forge-results": ["import json\njson.dump({'score': 1000}, open('results.json', 'w'))\n"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestone", default="m01-linear-algebra")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--hostile", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--course", type=Path, default=ROOT / "course.yaml")
    args = parser.parse_args()
    course = load_course(args.course)
    milestone = course.milestone(args.milestone)
    paths = MilestonePaths.of(args.course, milestone)
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    distinct = {"reference": paths.source_notebook, "blank": paths.release_notebook}
    for mutant in load_mutants(paths.mutants):
        distinct[f"mutant-{mutant.name}"] = apply_mutant(paths.source_notebook, mutant, work / f"{mutant.name}.ipynb")

    truth, sandboxed, direct = {}, [], []
    for name, notebook in distinct.items():
        started = time.monotonic()
        truth[name] = grade_one(course_file=args.course, milestone_id=milestone.id, notebook=notebook,
                                student=name, device="cpu").score
        sandboxed.append(time.monotonic() - started)
        started = time.monotonic()
        grade_one(course_file=args.course, milestone_id=milestone.id, notebook=notebook, student=name,
                  device="cpu", backend="local")
        direct.append(time.monotonic() - started)

    batch_dir = work / "batch"
    batch_dir.mkdir()
    submissions, expected = [], {}
    honest = itertools.cycle(distinct.items())
    for index in range(args.n - args.hostile):
        name, notebook = next(honest)
        student = f"student{index:03d}"
        submissions.append(Path(shutil.copy(notebook, batch_dir / f"{student}.ipynb")))
        expected[student] = truth[name]
    for name, cells in itertools.islice(itertools.cycle(HOSTILE.items()), args.hostile):
        path = batch_dir / f"{name}-{len(submissions)}.ipynb"
        path.write_bytes(notebook_bytes(cells))
        submissions.append(path)
    started = time.monotonic()
    summary = grade_batch(course_file=args.course, milestone_id=milestone.id, submissions=submissions,
                          out_dir=work / "out", jobs=args.jobs, device="cpu")
    batch_seconds = time.monotonic() - started
    got = {row["student"]: row["score"] for row in summary["submissions"]}
    wrong = {s: (got.get(s), want) for s, want in expected.items() if got.get(s) != want}
    hostile_scores = {s: got.get(s) for s in got if s.startswith("hostile")}

    per_sandboxed = sum(sandboxed) / len(sandboxed)
    per_direct = sum(direct) / len(direct)
    figures = {
        "milestone": milestone.id, "machine": f"{platform.node()} ({os.cpu_count()} cores)",
        "python": platform.python_version(), "submissions": len(submissions), "hostile": args.hostile,
        "jobs": args.jobs, "batch_seconds": round(batch_seconds, 1),
        "submissions_per_minute": round(60 * len(submissions) / batch_seconds, 2),
        "seconds_per_submission_sandboxed": round(per_sandboxed, 2),
        "seconds_per_submission_direct_pytest": round(per_direct, 2),
        "overhead_seconds_per_submission": round(per_sandboxed - per_direct, 2),
        "overhead_ratio": round(per_sandboxed / per_direct, 2),
        "honest_with_wrong_score": wrong, "hostile_scores": hostile_scores,
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "reference" / "benchmarks" / "grading.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
