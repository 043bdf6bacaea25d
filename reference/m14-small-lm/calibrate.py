"""Calibrate the m14 training threshold: train the source notebook's model with the hidden test's exact
configuration for several seeds and print the held-out losses as JSON.

    python reference/m14-small-lm/calibrate.py --mode gpu --seeds 0 1 2      # on a CUDA machine
    python reference/m14-small-lm/calibrate.py --mode smoke --seeds 0 1 2    # on one CPU core

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
MILESTONE = "m14-small-lm"


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


def load_suite_module(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "autograder" / "suites" / MILESTONE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["gpu", "smoke"], default="gpu" if torch.cuda.is_available() else "smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--notebook", type=Path, default=ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb")
    args = parser.parse_args()
    if args.mode == "smoke":
        torch.set_num_threads(1)  # the CPU smoke budget is for one core
    suite = load_suite_module("test_training")
    config = suite.GPU if args.mode == "gpu" else suite.SMOKE
    threshold = suite.GPU_THRESHOLD if args.mode == "gpu" else suite.SMOKE_THRESHOLD
    device = "cuda" if args.mode == "gpu" else "cpu"
    from coursekit.data import load_dataset

    text = load_dataset("tinyshakespeare")["input.txt"]
    nb = load_notebook(args.notebook)
    chars = "".join(sorted(set(text)))
    split = int(0.9 * len(text))
    val = np.array([chars.index(c) for c in text[split:]], dtype=np.int64)
    runs = []
    for seed in args.seeds:
        start, cpu = time.perf_counter(), time.process_time()
        model = nb.train_char_lm(text[:split], chars, dict(config, device=device, seed=seed))
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        model.to("cpu").eval()
        with torch.no_grad():
            loss = suite.heldout_loss(model, val, config["block_size"], np.random.default_rng(seed))
        runs.append({"seed": seed, "val_loss": round(loss, 4), "train_seconds": round(seconds, 1),
                     "cpu_seconds": round(cpu_seconds, 1)})
        print(json.dumps(runs[-1]), flush=True)
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(json.dumps({"milestone": MILESTONE, "mode": args.mode, "device": device_name, "threshold": threshold,
                      "config": config, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
