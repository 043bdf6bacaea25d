"""CPU cost of the worker's ban shield on real reference code: banned calls with and without it.

    .venv/bin/python benchmarks/bench_bans.py [--repeat 200]

Each mode runs in a fresh process (the shield changes its process for good, as in the worker):
``plain`` is a ``Ban`` alone (profile hook, patches, @ tracing), ``shield`` adds the process-wide
shield (audit hook, guards, thread/process checks). Prints CPU seconds per mode and the ratio, per
workload: m01's from-scratch matmul/solve/det/inverse/power_iteration under m01's SCRATCH ban and
m03's bootstrap_ci under its ban. CPU time, not wall time: other work on the host distorts it less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r'''
import json, sys, time
from pathlib import Path
import numpy as np
from coursekit.grading.notebook import load_submission
from coursekit_student.forbid import Ban
mode, repeat = sys.argv[1], int(sys.argv[2])
shield = None
if mode == "shield":
    from coursekit_student import shield as shield_module
    shield = shield_module.install()
SCRATCH = ("numpy.linalg", "numpy.dot", "numpy.matmul", "numpy.einsum", "numpy.tensordot", "numpy.inner", "@")
rng = np.random.default_rng(0)
A, b = rng.normal(size=(12, 12)) + 12 * np.eye(12), rng.normal(size=12)
S = A + A.T
WORK = {
    "m01-linear-algebra": [(SCRATCH, "matmul", (A, A)), (SCRATCH, "solve", (A, b)), (SCRATCH, "det", (A,)),
                           (SCRATCH, "inverse", (A,)), (("numpy.linalg",), "power_iteration", (S,))],
    "m03-probability": [(("scipy.stats", "sklearn"), "bootstrap_ci", (rng.normal(1, 1, 30), "mean", 400))],
}
out = {}
for milestone, calls in WORK.items():
    cells, _ = load_submission(Path(f"source/{milestone}/{milestone}.ipynb"))
    ns = {}
    for cell in cells:
        try:
            exec(compile(cell.source, f"<cell {cell.index}>", "exec"), ns)
        except BaseException:
            pass
    start = time.process_time()
    for _ in range(repeat):
        for bans, name, args in calls:
            ban = Ban(bans, is_student_code=lambda c: c.co_filename.startswith("<cell "), namespaces=[ns],
                      shield=shield)
            with ban:
                ns[name](*args)
            assert not ban.violations, (name, ban.violations)
    out[milestone] = time.process_time() - start
print(json.dumps(out))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    seconds = {}
    for mode in ("plain", "shield"):
        done = subprocess.run([sys.executable, "-c", CHILD, mode, str(args.repeat)], capture_output=True, text=True,
                              check=True)
        seconds[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{'workload':<22}{'plain CPU s':>12}{'shield CPU s':>14}{'ratio':>8}")
    for workload, plain in seconds["plain"].items():
        shielded = seconds["shield"][workload]
        print(f"{workload:<22}{plain:>12.2f}{shielded:>14.2f}{shielded / plain:>8.2f}")


if __name__ == "__main__":
    main()
