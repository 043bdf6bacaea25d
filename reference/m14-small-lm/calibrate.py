"""Calibrate the m14 training threshold: train the source notebook's model with the hidden test's exact
configuration for several seeds and print the held-out losses as JSON.

    python reference/m14-small-lm/calibrate.py --mode gpu --seeds 0 1 2      # on a CUDA machine
    python reference/m14-small-lm/calibrate.py --mode smoke --seeds 0 1 2 3 4 --out smoke-calibration.json

Also measures the baseline the CPU bar must beat: a count-based character bigram model (the best a
bigram can do: add-alpha counts of the same 90 % training text, alpha chosen on the held-out text itself,
plus the "oracle" bigram fitted on the held-out text), scored by the hidden test's own `heldout_loss` on
the same held-out windows as the trained model (window seed = run seed).
In-process (no sandbox): an instructor tool, run on the reference solution only. CPU seconds are
time.process_time() of this process (one thread in smoke mode), not wall time.
"""

from __future__ import annotations

import argparse
import functools
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


class BigramLM:
    """A character bigram model as a callable returning (B, T, V) logits: log P(next | current)."""

    def __init__(self, counts: np.ndarray, alpha: float) -> None:
        smoothed = counts + alpha
        self.log_probs = torch.from_numpy(np.log(smoothed / smoothed.sum(axis=1, keepdims=True)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_probs[x]


def bigram_counts(tokens: np.ndarray, vocab: int) -> np.ndarray:
    counts = np.zeros((vocab, vocab))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    return counts


def bigram_baselines(train: np.ndarray, val: np.ndarray, vocab: int, block_size: int, seed: int,
                     heldout_loss) -> dict[str, float]:
    """Held-out loss of the best count-based bigram (alpha tuned on val) and of one fitted on val itself."""
    train_counts = bigram_counts(train, vocab)
    fitted = {alpha: heldout_loss(BigramLM(train_counts, alpha), val, block_size, np.random.default_rng(seed))
              for alpha in (1e-3, 1e-2, 0.1, 0.5, 1.0)}
    oracle = heldout_loss(BigramLM(bigram_counts(val, vocab), 1e-3), val, block_size, np.random.default_rng(seed))
    return {"bigram_val_loss": round(min(fitted.values()), 4), "bigram_oracle_val_loss": round(oracle, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["gpu", "smoke"], default="gpu" if torch.cuda.is_available() else "smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--notebook", type=Path, default=ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb")
    parser.add_argument("--out", type=Path, help="also write the JSON summary to this file (in this folder)")
    parser.add_argument("--max-steps", type=int, help="override the test configuration's max_steps (exploration)")
    args = parser.parse_args()
    if args.mode == "smoke":
        torch.set_num_threads(1)  # the CPU smoke budget is for one core
    suite = load_suite_module("test_training")
    config = dict(suite.GPU if args.mode == "gpu" else suite.SMOKE)
    if args.max_steps:
        config["max_steps"] = args.max_steps
    threshold = suite.GPU_THRESHOLD if args.mode == "gpu" else suite.SMOKE_THRESHOLD
    device = "cuda" if args.mode == "gpu" else "cpu"
    from coursekit.data import load_dataset

    text = load_dataset("tinyshakespeare")["input.txt"]
    nb = load_notebook(args.notebook)
    chars = "".join(sorted(set(text)))
    split = int(0.9 * len(text))
    val = np.array([chars.index(c) for c in text[split:]], dtype=np.int64)
    train = np.array([chars.index(c) for c in text[:split]], dtype=np.int64)
    # the GPU test scores 64 windows per length (its big model is evaluated on one CPU thread), smoke 512
    heldout_loss = functools.partial(suite.heldout_loss, per_length=64 if args.mode == "gpu" else 512)
    runs = []
    for seed in args.seeds:
        start, cpu = time.perf_counter(), time.process_time()
        model = nb.train_char_lm(text[:split], chars, dict(config, device=device, seed=seed))
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        model.to("cpu").eval()
        with torch.no_grad():
            loss = heldout_loss(model, val, config["block_size"], np.random.default_rng(seed))
        runs.append({"seed": seed, "val_loss": round(loss, 4), "train_seconds": round(seconds, 1),
                     "cpu_seconds": round(cpu_seconds, 1),
                     **bigram_baselines(train, val, len(chars), config["block_size"], seed, heldout_loss)})
        print(json.dumps(runs[-1]), flush=True)
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    summary = {"milestone": MILESTONE, "mode": args.mode, "device": device_name, "threads": torch.get_num_threads(),
               "threshold": threshold, "config": config, "runs": runs,
               "worst_val_loss": max(r["val_loss"] for r in runs),
               "best_bigram_val_loss": min(r["bigram_val_loss"] for r in runs),
               "best_bigram_oracle_val_loss": min(r["bigram_oracle_val_loss"] for r in runs)}
    print(json.dumps(summary, indent=1))
    if args.out:
        (Path(__file__).resolve().parent / args.out.name).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
