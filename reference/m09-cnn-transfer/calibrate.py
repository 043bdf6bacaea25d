"""Calibrate m09's transfer-learning bars: scratch vs feature extraction vs fine-tuning on 100 MNIST labels
per class, with the grader's pretrained Fashion-MNIST backbone, over seeds and epoch budgets.

    nice -n 10 .venv/bin/python reference/m09-cnn-transfer/calibrate.py [--epochs 3,10] [--seeds 0,1,2]

Uses the hidden suite's own conftest (the cached backbone, the training recipe) so the figures are those of
the graded path; writes reference/m09-cnn-transfer/calibration.json. One thread, as one grading core.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "autograder" / "suites" / "m09-cnn-transfer"


def suite_conftest():
    spec = importlib.util.spec_from_file_location("m09_conftest", SUITE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, to_input) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(to_input(images[i:i + 1000])).argmax(1) for i in range(0, len(images), 1000)])
    return float((pred.numpy() == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", default="3,10")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    c = suite_conftest()
    fashion, mnist = c.load_dataset("fashion-mnist"), c.load_dataset("mnist")
    state = c.cached_pretrained_state(fashion)
    backbone_state = {k[2:]: v for k, v in state.items() if k.startswith("0.")}
    (x_train, y_train), (x_test, y_test) = mnist["train"], mnist["test"]
    idx = np.concatenate([np.flatnonzero(y_train == k)[:100] for k in range(10)])
    rows = []
    for epochs in [int(e) for e in args.epochs.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            for mode in ("scratch", "extract", "finetune"):
                torch.manual_seed(seed)                     # as the graded test: seed, backbone, then head
                b = c.backbone()
                if mode != "scratch":
                    b.load_state_dict(backbone_state)
                if mode == "extract":
                    for p in b.parameters():
                        p.requires_grad_(False)
                model = nn.Sequential(b, nn.Linear(c.FEATURES, 10))
                t0 = time.process_time()
                c.train(model, x_train[idx], y_train[idx], epochs, 50, 1e-3, seed)
                rows.append({"epochs": epochs, "seed": seed, "mode": mode,
                             "accuracy": accuracy(model, x_test, y_test, c.to_input),
                             "cpu_seconds": round(time.process_time() - t0, 1)})
                print(rows[-1], flush=True)
    out = {"load_average": os.getloadavg()[0], "rows": rows}
    (Path(__file__).parent / "calibration.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
