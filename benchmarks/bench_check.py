"""How long check("<part>") takes in a student's kernel, per part of a milestone (target: < 1 s for
non-training parts).

    .venv/bin/python benchmarks/bench_check.py source/m01-linear-algebra [--repeat 3]

Runs the notebook's code cells that are not ``ungraded`` (solutions in place when given a source
folder) into ``__main__`` like a kernel would, then times check() for every part, after one warm-up
``check_all()`` (the first call pays for importing the public tests). Prints one row per part.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat


def load_notebook(folder: Path) -> None:
    notebook = nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)
    namespace = sys.modules["__main__"].__dict__
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "ungraded" in cell.metadata.get("tags", []):
            continue
        source = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                           for line in cell.source.splitlines())
        exec(compile(source, f"<cell {index}>", "exec"), namespace)  # noqa: S102 - the course's own notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="source/<id> or release/<id> (holding <id>.ipynb and tests/)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = args.folder.resolve()
    os.chdir(folder)
    os.environ["COURSEKIT_NO_RECORD"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    os.environ["COURSEKIT_GRADING"] = "1"  # the notebook's own check() cells stay silent while loading
    load_notebook(folder)
    del os.environ["COURSEKIT_GRADING"]
    loaded = time.perf_counter() - start
    from coursekit_student.checker import check, check_all

    start = time.perf_counter()
    first = check_all(quiet=True)
    warm = time.perf_counter() - start
    print(f"{folder.name}: notebook cells {loaded:.2f} s; first check_all() {warm:.2f} s "
          f"({first.points:g}/{first.max_points:g} public points)")
    print(f"{'part':<22} {'best of ' + str(args.repeat):>10} {'tests':>6} {'result':>8}")
    for part in first.parts:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = check(part, quiet=True)
            times.append(time.perf_counter() - t0)
        verdict = "ok" if result.ok else f"{result.failed} failed"
        print(f"{part:<22} {min(times):>9.3f}s {len(result.tests):>6} {verdict:>8}")


if __name__ == "__main__":
    main()
