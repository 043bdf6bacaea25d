"""How long `course release` takes for the whole course (target: under 5 s after imports), split
into compile (plan), write, and leak guard; and that a second build changes no byte.

    .venv/bin/python benchmarks/bench_release.py [--course course.yaml] [--repeat 3]

Builds every milestone that has a source notebook into a temporary release folder.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

started_imports = time.perf_counter()
from coursekit.compiler import leakguard  # noqa: E402 - imports are timed on purpose
from coursekit.compiler.build import diff_release, make_plan, write_release  # noqa: E402
from coursekit.config import load_course  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - started_imports
TARGET_SECONDS = 5.0


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def build_once(course, root: Path, milestones, release: Path) -> dict[str, float]:
    times = {}
    t = time.perf_counter()
    plan = make_plan(course, root, milestones)
    times["compile"] = time.perf_counter() - t
    t = time.perf_counter()
    write_release(release, plan, diff_release(release, plan, all_milestones=False))
    times["write"] = time.perf_counter() - t
    t = time.perf_counter()
    leaks = leakguard.check(course, root, release)
    times["guard"] = time.perf_counter() - t
    times["leaks"] = len(leaks)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--course", type=Path, default=Path("course.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    course = load_course(args.course, check_files=False)
    root = args.course.resolve().parent
    milestones = [m for m in course.milestones if (root / m.notebook).is_file()]
    print(f"{len(milestones)} milestone(s) with notebooks; imports {IMPORT_SECONDS:.2f} s")
    with tempfile.TemporaryDirectory() as scratch:
        release = Path(scratch) / "release"
        digests, totals = [], []
        for run in range(args.repeat):
            times = build_once(course, root, milestones, release)
            total = times["compile"] + times["write"] + times["guard"]
            totals.append(total)
            digests.append(digest(release))
            print(f"run {run + 1}: compile {times['compile']:.2f} s, write {times['write']:.2f} s, "
                  f"guard {times['guard']:.2f} s, total {total:.2f} s, leaks {times['leaks']:.0f}")
    stable = len(set(digests)) == 1
    best = min(totals)
    print(f"best total {best:.2f} s (target < {TARGET_SECONDS:.0f} s): {'OK' if best < TARGET_SECONDS else 'SLOW'}; "
          f"byte-identical across runs: {'yes' if stable else 'NO'}")
    raise SystemExit(0 if stable and best < TARGET_SECONDS else 1)


if __name__ == "__main__":
    main()
