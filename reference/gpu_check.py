"""The GPU tier in one run: grade the reference notebooks of m08, m13 and m14 on CUDA and record every
`@gpu` test's figures in reference/<id>/gpu.json (device, seconds, metric, seed).

    reference/gpu_check.sh                      # or: make gpu-check
    reference/gpu_check.sh --milestones m08-pytorch-mnist --sequential

Each milestone is graded through the real sandboxed grader (`grade_one`, device "cuda") on the parts that
hold its `@gpu` tests. By default the three milestones run at the same time (one H100/H200 is far from
saturated by these small models, and the whole check must fit in 8 minutes: m14's training alone may use
300 s); `--sequential` grades them one after the other for uncontended timings. Without a CUDA device it
stops at once with exit status 2 and says so: no gpu.json is written from a CPU run.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = ("m08-pytorch-mnist", "m13-transformer", "m14-small-lm")
NO_GPU_EXIT = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestones", default=",".join(MILESTONES),
                        help="comma-separated milestone ids (default: %(default)s)")
    parser.add_argument("--sequential", action="store_true", help="grade one milestone at a time")
    parser.add_argument("--course", type=Path, default=ROOT / "course.yaml")
    parser.add_argument("--out-root", type=Path, default=ROOT / "reference",
                        help="gpu.json goes to OUT_ROOT/<id>/gpu.json (default: reference/)")
    args = parser.parse_args(argv)
    args.milestones = [m.strip() for m in args.milestones.split(",") if m.strip()]
    unknown = [m for m in args.milestones if m not in MILESTONES]
    if unknown or not args.milestones:
        parser.error(f"unknown milestone(s) {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(MILESTONES)}")
    return args


def gpu_tests(suite_dir: Path) -> dict[str, str]:
    """{test function name: file stem} of every test decorated with @gpu in a hidden suite (read, not imported)."""
    found = {}
    for path in sorted(suite_dir.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id == "gpu" for d in node.decorator_list):
                found[node.name] = path.stem
    return found


def checks_from_results(results: dict, gpu: dict[str, str], seed_for) -> list[dict]:
    """One row per @gpu test of a results.json: outcome, points, seconds, its metric and its seeds."""
    metrics_by_test = {}
    for name, metric in results["extra_data"].get("metrics", {}).items():
        metrics_by_test.setdefault(metric.get("test"), []).append({"name": name, **metric})
    rows = []
    for test in results["tests"]:
        function = test["name"].split("] ", 1)[-1]
        if function not in gpu:
            continue
        rows.append({"test": function, "part": test["extra_data"].get("part"),
                     "outcome": test["extra_data"].get("outcome"), "score": test["score"],
                     "max_score": test["max_score"], "seconds": round(float(test["extra_data"].get("duration", 0)), 2),
                     "metrics": metrics_by_test.get(function, []),
                     # the `rng` fixture's seed, derived from the test's name exactly as the grader does
                     "rng_seed": seed_for(f"hidden::{gpu[function]}::{function}")})
    return rows


def write_gpu_json(out_root: Path, milestone: str, device: str, wall_seconds: float, checks: list[dict],
                   extra: dict | None = None) -> Path:
    path = out_root / milestone / "gpu.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"milestone": milestone, "device": device, "wall_seconds": round(wall_seconds, 1),
               "all_passed": bool(checks) and all(c["outcome"] == "passed" for c in checks),
               "checks": checks, **(extra or {})}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def cuda_device_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def run_milestone(args: argparse.Namespace, milestone_id: str, device_name: str, concurrent: bool) -> Path:
    import torch

    from coursekit.config import load_course
    from coursekit.grading.api import grade_one
    from coursekit_student.testing import seed_for

    milestone = load_course(args.course).milestone(milestone_id)
    suite_dir = ROOT / "autograder" / "suites" / milestone_id
    gpu = gpu_tests(suite_dir)
    parts = sorted({part_of(suite_dir / f"{gpu[name]}.py", name) for name in gpu})
    started = time.monotonic()
    results = grade_one(course_file=args.course, milestone_id=milestone.id,
                        notebook=ROOT / "source" / milestone_id / f"{milestone_id}.ipynb",
                        student="reference", device="cuda", only_parts=parts)
    wall = time.monotonic() - started
    # grade_one returns a results model (to_json() is the results.json dict) or, in older kits, the dict
    results = results.to_json() if hasattr(results, "to_json") else results
    checks = checks_from_results(results, gpu, seed_for)
    extra = {"torch": torch.__version__, "host": platform.node(), "parts_graded": parts, "concurrent": concurrent,
             "grader": results["extra_data"]["grader"]}
    path = write_gpu_json(args.out_root, milestone_id, device_name, wall, checks, extra)
    print(f"{milestone_id}: {len(checks)} GPU check(s), {wall:.0f} s -> {path}", flush=True)
    return path


def part_of(path: Path, function: str) -> str:
    """The @part("...") argument of one test function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for d in node.decorator_list:
                if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "part":
                    return d.args[0].value
    raise ValueError(f"{path.name}: {function} has no @part(...)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = cuda_device_name()
    if device is None:
        print("gpu_check: no CUDA device visible to torch (torch.cuda.is_available() is False); run this on "
              "an H100/H200 machine with the CUDA build of torch — nothing was written", file=sys.stderr)
        return NO_GPU_EXIT
    started = time.monotonic()
    concurrent = not args.sequential and len(args.milestones) > 1
    with ThreadPoolExecutor(max_workers=len(args.milestones) if concurrent else 1) as pool:
        paths = list(pool.map(lambda m: run_milestone(args, m, device, concurrent), args.milestones))
    print(f"gpu_check: {len(paths)} milestone(s) in {time.monotonic() - started:.0f} s on {device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
