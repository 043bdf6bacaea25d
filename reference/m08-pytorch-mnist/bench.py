"""Re-measure the m08 reference figures.

    python reference/m08-pytorch-mnist/bench.py cpu [seeds...]     # the graded CPU recipe (> 98 %), one thread
    python reference/m08-pytorch-mnist/bench.py full --device cuda [seeds...]   # the graded GPU recipe

Uses the source notebook's build_model/train_model/predict exactly as the hidden tests do (cpu: 60,000
images, 1 epoch, batch 128; full: 60,000 images, 3 epochs, batch 128) and evaluates on the 10,000 MNIST
test images. Writes reference/m08-pytorch-mnist/cpu.json or full-<device>.json. CPU seconds are
time.process_time() of this process (one thread unless --threads), wall seconds depend on the load.
"""
import argparse
import json
import platform
import time
from pathlib import Path

import nbformat
import numpy as np
import torch

from coursekit.data import load_dataset

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parents[1] / "source" / "m08-pytorch-mnist" / "m08-pytorch-mnist.ipynb"
RECIPES = {"full": dict(n_train=60_000, epochs=3, batch_size=128, threshold=0.98, budget_s=120),
           # what CPU grading runs since issue 14 (it replaced a 5,000-image smoke run graded at 90 %):
           # the roadmap's > 98 % on one core, one epoch of all 60,000 images
           "cpu": dict(n_train=60_000, epochs=1, batch_size=128, threshold=0.98, budget_s=450)}


def load_reference() -> dict:
    """Execute the notebook's graded cells (not the `ungraded` demos nor the checks)."""
    namespace: dict = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code" and not {"ungraded", "check"} & set(cell.metadata.get("tags", [])):
            exec(cell.source, namespace)
    return namespace


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.machine()}), {torch.get_num_threads()} thread(s)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=sorted(RECIPES))
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = RECIPES[args.mode]
    ns = load_reference()
    data = load_dataset("mnist")
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    rows = []
    for seed in args.seeds:
        if args.device == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        model = ns["train_model"](ns["build_model"](), x_train[:recipe["n_train"]], y_train[:recipe["n_train"]],
                                  epochs=recipe["epochs"], batch_size=recipe["batch_size"], device=args.device,
                                  seed=seed)
        if args.device == "cuda":
            torch.cuda.synchronize()
        train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall = time.perf_counter()
        accuracy = float(np.mean(ns["predict"](model, x_test, device=args.device) == y_test))
        rows.append({"seed": seed, "train_wall_seconds": round(train_wall, 2), "train_cpu_seconds": round(train_cpu, 2),
                     "predict_wall_seconds": round(time.perf_counter() - wall, 2), "test_accuracy": accuracy})
        print(rows[-1], flush=True)
    out = {"device": device_name(args.device), "torch": torch.__version__, "recipe": recipe,
           "model": "Conv16-BN-ReLU-Pool, Conv32-BN-ReLU-Pool, Linear(1568,128)-ReLU-Dropout(0.25)-Linear(128,10); "
                    "Adam + OneCycle(max_lr 3e-3)",
           "runs": rows, "min_accuracy": min(r["test_accuracy"] for r in rows)}
    suffix = "" if args.mode == "cpu" and args.device == "cpu" else f"-{args.device}"
    (HERE / f"{args.mode}{suffix}.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
