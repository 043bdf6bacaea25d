"""Calibrate the m13 seq2seq threshold: train the source notebook's model with the hidden test's exact
configuration for several seeds and print the exact-match rates as JSON.

    python reference/m13-transformer/calibrate.py --mode gpu --seeds 0 1 2      # on a CUDA machine
    python reference/m13-transformer/calibrate.py --mode smoke --seeds 0 1 2    # on one CPU core

In-process (no sandbox): an instructor tool, run on the reference solution only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
import types
from pathlib import Path

import nbformat
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
MILESTONE = "m13-transformer"


def load_notebook(path: Path) -> types.ModuleType:
    """The notebook's graded code cells as a module (ungraded cells skipped, magics dropped)."""
    module = types.ModuleType("submission")
    module.__dict__["check"] = module.__dict__["check_all"] = lambda *a, **k: None
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "ungraded" not in cell.metadata.get("tags", []):
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            source = source.replace("from coursekit_student import check, check_all", "")
            exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["gpu", "smoke"], default="gpu" if torch.cuda.is_available() else "smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--notebook", type=Path, default=ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb")
    args = parser.parse_args()
    if args.mode == "smoke":
        torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location(
        "suite", ROOT / "autograder" / "suites" / MILESTONE / "test_seq2seq.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    config = suite.GPU if args.mode == "gpu" else suite.SMOKE
    device = "cuda" if args.mode == "gpu" else "cpu"
    nb = load_notebook(args.notebook)
    nb.torch = torch
    runs = []
    for seed in args.seeds:
        start, cpu = time.perf_counter(), time.process_time()
        exact, steps = suite._train_and_score(_Submission(nb, seed), np.random.default_rng(seed), config, device)
        runs.append({"seed": seed, "exact_match": round(exact, 4), "steps": steps,
                     "seconds": round(time.perf_counter() - start, 1), "cpu_seconds": round(time.process_time() - cpu, 1)})
        print(json.dumps(runs[-1]), flush=True)
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(json.dumps({"milestone": MILESTONE, "mode": args.mode, "device": device_name,
                      "threshold": config["threshold"], "config": config, "runs": runs}, indent=1))


class _Kit:
    device = "cpu"

    def deadline(self, seconds):
        import contextlib
        return contextlib.nullcontext()


class _Submission:
    """The notebook module as the test's `submission`, with the model seed shifted per calibration seed."""

    def __init__(self, module, seed):
        self._module, self._seed = module, seed
        self.__kit__ = _Kit()

    def __getattr__(self, name):
        if name == "torch":
            return _SeededTorch(self._seed)
        return getattr(self._module, name)


class _SeededTorch:
    def __init__(self, seed):
        self._seed = seed

    def manual_seed(self, _):
        return torch.manual_seed(self._seed)

    def __getattr__(self, name):
        return getattr(torch, name)


if __name__ == "__main__":
    main()
