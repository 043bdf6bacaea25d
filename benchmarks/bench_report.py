"""Benchmark `course report` on a synthetic class of 1,000 graded submissions.

Generates realistic results.json files (30 tests in 6 parts, public and hidden, partial
credit, errors, time-outs, crashed workers, late submissions, metrics), then times the real
CLI end to end in a fresh process: first run (builds gradebook.sqlite from course.yaml) and
warm runs (store exists; results re-read). Writes reference/benchmarks/report.json.

    .venv/bin/python benchmarks/bench_report.py [--n 1000] [--repeat 3] [--record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from coursekit.review.synthetic import synthetic_course, write_synthetic_class

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "reference" / "benchmarks" / "report.json"
COURSE_BIN = Path(sys.executable).with_name("course")


def machine() -> dict[str, object]:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "os": platform.platform(),
            "load_average_1min": load}


def time_report(course_file: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `course report` process.

    CPU time is reported too because on a shared machine wall time mostly measures the
    neighbours; CPU time is what the report itself costs.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([str(COURSE_BIN), "--course", str(course_file), "report", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def phases(out: Path) -> dict[str, float]:
    """In-process CPU seconds of each step on the warm store: where the time goes."""
    from coursekit.review.dashboard import _write_feedback_pages, write_index
    from coursekit.review.ingest import ingest_folder
    from coursekit.review.store import Gradebook

    timings: dict[str, float] = {}
    with Gradebook.open(out) as book:
        steps = [("ingest_all_results", lambda: ingest_folder(book, out)),
                 ("compute_grades", book.grades)]
        for name, step in steps:
            started = time.process_time()
            step()
            timings[name] = round(time.process_time() - started, 3)
        grades = book.grades()
        for name, step in [("gradebook_csv", lambda: book.write_gradebook_csv(grades)),
                           ("feedback_pages", lambda: _write_feedback_pages(book, grades, out / "site")),
                           ("index_html", lambda: write_index(book, out / "site", grades))]:
            started = time.process_time()
            step()
            timings[name] = round(time.process_time() - started, 3)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="submissions in the synthetic class")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs to time")
    parser.add_argument("--record", action="store_true", help=f"write {RECORD.relative_to(ROOT)}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        course_file = tmp_path / "course.yaml"
        course_file.write_text(yaml.safe_dump(synthetic_course().model_dump(mode="json")))
        out = tmp_path / "out"
        started = time.perf_counter()
        write_synthetic_class(out, args.n, seed=2027)
        generate = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in out.rglob("results.json")) / 2**20
        cold, cold_cpu = time_report(course_file, out)
        runs = [time_report(course_file, out) for _ in range(args.repeat)]
        warm, warm_cpu = [w for w, _ in runs], [c for _, c in runs]
        site_mb = sum(p.stat().st_size for p in (out / "site").rglob("*") if p.is_file()) / 2**20
        steps = phases(out)
    result = {
        "benchmark": "course report", "n": args.n, "tests_per_submission": 30, "parts": 6,
        "seconds": round(statistics.median(warm), 2), "seconds_first_run": round(cold, 2),
        "seconds_warm_runs": [round(s, 2) for s in warm],
        "cpu_seconds": round(statistics.median(warm_cpu), 2), "cpu_seconds_first_run": round(cold_cpu, 2),
        "cpu_seconds_by_step": steps, "results_mb": round(size_mb, 1),
        "site_mb": round(site_mb, 1), "generate_seconds": round(generate, 2),
        "what": "wall time of `course report DIR` in a fresh process (import, re-read changed results.json into "
                "gradebook.sqlite (all of them on the first run), write gradebook.csv, index.html and one "
                "feedback page per student); "
                "seconds = median warm run, seconds_first_run also builds the store; "
                "cpu_seconds = user+sys of that process (stable on a busy machine)",
        "machine": machine(), "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, indent=2))
    if args.record:
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
