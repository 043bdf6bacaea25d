"""Calibrate the m15 thresholds: fine-tune the base GPT with the source notebook's code and the hidden tests'
exact configurations (full, LoRA, soft prompt) for several seeds, and print held-out losses as JSON.

    python reference/m15-finetuning/calibrate.py --mode smoke --seeds 0 1 2 3 4 --out smoke-calibration.json
    python reference/m15-finetuning/calibrate.py --mode gpu --seeds 0           # the GPU configs (CPU or CUDA)

Baselines each bar must fail, scored by the suite's own `heldout_loss` on the same held-out names: the
un-fine-tuned base, the base behind the un-trained soft prompt, and count-based unigram and bigram models
(add-one counts of the TRAINING names). Also reports each run's peak RSS growth (ru_maxrss is a process
high-water mark, so runs are done in a fixed order and the growth is only indicative).
In-process (no sandbox): an instructor tool, run on the reference solution only. CPU seconds are
time.process_time() of this process with one torch thread.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
import types
from pathlib import Path

import nbformat
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
MILESTONE = "m15-finetuning"
SUITE = ROOT / "autograder" / "suites" / MILESTONE


def load_notebook(path: Path) -> types.ModuleType:
    """The notebook's graded code cells as a module (ungraded cells skipped)."""
    module = types.ModuleType("submission")
    module.__dict__["check"] = module.__dict__["check_all"] = lambda *a, **k: None
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code" and "ungraded" not in cell.metadata.get("tags", []):
            source = cell.source.replace("from coursekit_student import check, check_all", "")
            exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def load_suite_module(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"m15_{name}", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CountLM:
    """A count-based character model (order 0 or 1) as a callable returning (B, T, V) log-probabilities."""

    def __init__(self, ids: torch.Tensor, vocab: int, order: int) -> None:
        a = ids.numpy()
        if order == 0:
            counts = np.bincount(a, minlength=vocab) + 1.0
            self.table = torch.from_numpy(np.log(counts / counts.sum()))[None, :].expand(vocab, vocab)
        else:
            counts = np.ones((vocab, vocab))
            np.add.at(counts, (a[:-1], a[1:]), 1)
            self.table = torch.from_numpy(np.log(counts / counts.sum(1, keepdims=True)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.table[x]


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("smoke", "gpu"), default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--kinds", nargs="+", default=["full", "lora", "prompt"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = "cuda" if args.mode == "gpu" and torch.cuda.is_available() else "cpu"

    sys.path.insert(0, str(SUITE))
    conftest = load_suite_module("conftest")
    ft, pt = load_suite_module("test_finetune"), load_suite_module("test_prompt")
    nb = load_notebook(ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb")
    base = conftest.base.__wrapped__()
    names = conftest.names.__wrapped__(base)
    V = base.config["vocab_size"]
    loss = conftest.heldout_loss

    def fresh():
        return nb.GPT.from_state(base.config, base.state)

    newline = base.chars.index("\n")
    report = {"mode": args.mode, "device": device, "torch": torch.__version__, "baselines": {
        "base": loss(fresh(), names.heldout),
        "base_untrained_prompt": loss(nb.SoftPromptGPT(fresh(), pt.N_PROMPT, [newline] * pt.N_PROMPT), names.heldout),
        "unigram": loss(CountLM(names.train, V, 0), names.heldout),
        "bigram": loss(CountLM(names.train, V, 1), names.heldout)}, "runs": []}
    print(json.dumps(report["baselines"]), flush=True)
    configs = {"smoke": {"full": ft.SMOKE_FULL, "lora": ft.SMOKE_LORA, "prompt": pt.SMOKE},
               "gpu": {"full": ft.GPU_FULL, "lora": ft.GPU_LORA, "prompt": pt.GPU}}[args.mode]
    for seed in args.seeds:
        for kind in args.kinds:
            model = fresh()
            if kind == "lora":
                nb.apply_lora(model, ft.LORA_R, ft.LORA_ALPHA)
            if kind == "prompt":
                model = nb.SoftPromptGPT(model, pt.N_PROMPT, [newline] * pt.N_PROMPT)
            model.to(device)
            rss0, t0 = maxrss_mb(), time.process_time()
            if kind == "prompt":  # the hidden test's own loop (conftest.tune_prompt), as in test_prompt.py
                losses = conftest.tune_prompt(model, nb.gradients, names.train, dict(configs[kind], seed=seed))
            else:
                losses = nb.finetune(model, names.train, dict(configs[kind], seed=seed))
            seconds = time.process_time() - t0
            model.to("cpu")
            row = {"kind": kind, "seed": seed, "heldout": round(loss(model, names.heldout), 4),
                   "last_train_loss": round(losses[-1], 4), "cpu_seconds": round(seconds, 1),
                   "trainable_total": list(nb.count_parameters(model)), "maxrss_growth_mb": round(maxrss_mb() - rss0, 1)}
            report["runs"].append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
