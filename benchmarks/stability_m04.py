"""Stability of m04-vectorization's performance checks on a loaded machine.

The speed (ratio to the grader's loop) and memory (peak RSS of the worker) tests must pass for
the reference every time, even while another grading job competes for the CPU, and must fail
for a loop-based answer. This runs `course grade` on the source notebook twice in parallel for
--rounds rounds, counts the rounds in which both copies pass every performance test (and score
full marks), then grades the loop mutant once and checks that its speed test fails.

    .venv/bin/python benchmarks/stability_m04.py --rounds 10 \
        --json reference/m04-vectorization/stability.json

Exit status 0 only if every reference run passed and the loop mutant failed its speed test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

MILESTONE = "m04-vectorization"
PERF_TESTS = ("test_speedup_over_loop", "test_nearest_neighbours_peak_memory", "test_streaming_stats_peak_memory")
ROOT = Path(__file__).resolve().parents[1]


def course_cli() -> list[str]:
    exe = Path(sys.executable).with_name("course")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "coursekit.cli"]


def grade_async(course_file: Path, notebook: Path, out: Path) -> subprocess.Popen:
    cmd = [*course_cli(), "--course", str(course_file), "grade", MILESTONE, str(notebook),
           "--out", str(out), "--jobs", "1", "--device", "cpu"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def read_results(out: Path) -> dict:
    found = sorted(out.glob("*/results.json"))
    if not found:
        raise SystemExit(f"no results.json under {out}: did `course grade` fail? (run it by hand to see)")
    return json.loads(found[0].read_text())


def perf_summary(results: dict) -> dict:
    """Outcome of each performance test and the metrics it recorded."""
    tests = {t["name"].split("] ")[-1]: t for t in results["tests"]}
    missing = [name for name in PERF_TESTS if name not in tests]
    if missing:
        raise SystemExit(f"results have no {', '.join(missing)}: is the hidden suite current?")
    extra = results["extra_data"]
    return {
        "score": results["score"],
        "max_score": extra["max_score"],
        "perf_passed": {name: tests[name]["status"] == "passed" for name in PERF_TESTS},
        "metrics": {name: round(m["value"], 2) for name, m in extra.get("metrics", {}).items()},
    }


def mutant_notebook(source: Path, mutant_name: str, dest: Path) -> Path:
    """The source notebook with one mutant of tests/mutants/m04-vectorization.yaml applied."""
    mutants = yaml.safe_load((ROOT / "tests" / "mutants" / f"{MILESTONE}.yaml").read_text())
    mutant = next((m for m in mutants if m["name"] == mutant_name), None)
    if mutant is None:
        raise SystemExit(f"no mutant named {mutant_name!r} in tests/mutants/{MILESTONE}.yaml")
    nb = nbformat.read(source, as_version=4)
    for edit in mutant["replace"]:
        hits = [c for c in nb.cells if c.cell_type == "code" and edit["find"] in c.source]
        if len(hits) != 1 or hits[0].source.count(edit["find"]) != 1:
            raise SystemExit(f"mutant {mutant_name}: {edit['find']!r} must occur exactly once in the notebook's code")
        hits[0].source = hits[0].source.replace(edit["find"], edit["with"])
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{MILESTONE}.ipynb"
    nbformat.write(nb, path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2, help="gradings run at once in each round")
    parser.add_argument("--course", type=Path, default=ROOT / "course.yaml")
    parser.add_argument("--mutant", default="pairwise-double-loop", help="a loop-based mutant that must fail")
    parser.add_argument("--json", type=Path, help="write the summary here")
    args = parser.parse_args()

    source = ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb"
    work = Path(tempfile.mkdtemp(prefix="stability_m04_"))
    runs, started = [], time.perf_counter()
    for round_ in range(args.rounds):
        t0 = time.perf_counter()
        outs = [work / f"r{round_:02d}-{j}" for j in range(args.parallel)]
        procs = [grade_async(args.course, source, out) for out in outs]
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"`course grade` failed (exit {proc.returncode}): {err.strip()[-500:]}")
        for j, out in enumerate(outs):
            summary = perf_summary(read_results(out))
            summary.update(round=round_, copy=j)
            summary["passed"] = all(summary["perf_passed"].values()) and summary["score"] == summary["max_score"]
            runs.append(summary)
        print(f"round {round_ + 1}/{args.rounds}: {[r['passed'] for r in runs[-args.parallel:]]} "
              f"metrics {[r['metrics'] for r in runs[-args.parallel:]]} ({time.perf_counter() - t0:.0f} s)",
              flush=True)

    mutant_out = work / "mutant"
    proc = grade_async(args.course, mutant_notebook(source, args.mutant, work / "mutant-nb"), mutant_out)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"`course grade` failed on the mutant (exit {proc.returncode}): {err.strip()[-500:]}")
    mutant = perf_summary(read_results(mutant_out))

    def spread(name: str) -> dict:
        values = [r["metrics"][name] for r in runs if name in r["metrics"]]
        return {"min": min(values), "max": max(values)} if values else {}

    report = {
        "milestone": MILESTONE,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": list(os.getloadavg())},
        "rounds": args.rounds, "parallel": args.parallel,
        "reference_runs": len(runs), "reference_passes": sum(r["passed"] for r in runs),
        "metrics": {name: spread(name) for name in ("pairwise_speedup", "nearest_neighbours_peak_mb",
                                                     "streaming_stats_peak_mb")},
        "mutant": {"name": args.mutant, "speed_test_passed": mutant["perf_passed"]["test_speedup_over_loop"],
                   "metrics": mutant["metrics"], "score": mutant["score"]},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    ok = report["reference_passes"] == report["reference_runs"] and not report["mutant"]["speed_test_passed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
