"""Calibrate the m12 hidden suite's bars: the reference over seeds against trivial baselines.

Runs the source notebook's graded code (solutions included) in this process, trains exactly what the
CPU-smoke tests train, and scores it with the suite's trusted helpers (conftest.py). Writes
reference/m12-generative/calibration.json. Usage (one core, ~3 min):
    nice -n 10 .venv/bin/python reference/m12-generative/calibrate.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import nbformat
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "autograder" / "suites" / "m12-generative"
NOTEBOOK = ROOT / "source" / "m12-generative" / "m12-generative.ipynb"


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_namespace(source: Path = NOTEBOOK) -> dict:
    """The notebook's graded cells executed here (what the grader imports as `submission`)."""
    cells = nbformat.read(source, as_version=4).cells
    namespace: dict = {}
    for cell in cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "ungraded" not in tags and "check" not in tags:
            exec(compile(cell.source.replace("from coursekit_student import check, check_all", ""), "<m12>", "exec"),
                 namespace)
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    args = parser.parse_args()
    torch.set_num_threads(1)                      # grading runs on one core
    conf = load_module("m12_trusted", SUITE / "trusted.py")
    settings = load_module("m12_settings", SUITE / "settings.py")
    nb = notebook_namespace(args.notebook)
    data = conf.load_dataset("mnist")
    (x_train, _), (x_test, _) = data["train"], data["test"]
    held_out = conf.as_float(x_test[:settings.N_HELD_OUT])
    out: dict = {"load_average_start": os.getloadavg(), "threads": 1}

    # autoencoder: held-out MSE, reference per seed vs the mean training image
    mean_image = conf.as_float(x_train[:settings.AE_TRAIN]).mean(0, keepdim=True)
    out["ae_mean_image_mse"] = float(((held_out - mean_image) ** 2).mean())
    out["ae_reference_mse"], out["ae_seconds"] = [], []
    for seed in args.seeds:
        t0 = time.process_time()
        torch.manual_seed(seed)
        model = nb["train_autoencoder"](nb["Autoencoder"](), x_train[:settings.AE_TRAIN], epochs=settings.AE_EPOCHS,
                                        seed=seed)
        out["ae_seconds"].append(round(time.process_time() - t0, 1))
        with torch.no_grad():
            out["ae_reference_mse"].append(float(((model(held_out) - held_out) ** 2).mean()))

    # VAE: held-out -ELBO (nats per image) with the suite's own noise, vs the best constant decoder
    p = mean_image.clamp(1e-4, 1 - 1e-4)
    logits = torch.log(p / (1 - p)).expand(len(held_out), 784)
    zeros = torch.zeros(len(held_out), settings.LATENT)
    out["vae_mean_image_nelbo"] = conf.negative_elbo(held_out, zeros, zeros, logits)
    eps = torch.randn(len(held_out), settings.LATENT, generator=torch.Generator().manual_seed(settings.EPS_SEED))
    z_prior = torch.randn(settings.N_SAMPLES, settings.LATENT,
                          generator=torch.Generator().manual_seed(settings.PRIOR_SEED))
    train_ref = x_train[:settings.VAE_TRAIN].astype(np.float64) / 255.0
    for key in ("vae_reference_nelbo", "vae_seconds", "vae_untrained_nelbo", "sample_confidence", "sample_coverage",
                "sample_nn_median", "sample_near_copy_fraction"):
        out[key] = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        untrained = nb["VAE"](latent_dim=settings.LATENT)
        with torch.no_grad():
            mu, logvar = untrained.encode(held_out)
            out["vae_untrained_nelbo"].append(conf.negative_elbo(
                held_out, mu, logvar, untrained.decode(mu + torch.exp(0.5 * logvar) * eps)))
        t0 = time.process_time()
        model = nb["train_vae"](nb["VAE"](latent_dim=settings.LATENT), x_train[:settings.VAE_TRAIN],
                                epochs=settings.VAE_EPOCHS, seed=seed)
        out["vae_seconds"].append(round(time.process_time() - t0, 1))
        with torch.no_grad():
            mu, logvar = model.encode(held_out)
            out["vae_reference_nelbo"].append(conf.negative_elbo(
                held_out, mu, logvar, model.decode(mu + torch.exp(0.5 * logvar) * eps)))
            samples = torch.sigmoid(model.decode(z_prior)).numpy().reshape(-1, 28, 28)
        conf_, cov = conf.sample_scores(samples)
        dist = conf.nn_distances(samples, train_ref)
        out["sample_confidence"].append(conf_)
        out["sample_coverage"].append(cov)
        out["sample_nn_median"].append(float(np.median(dist)))
        out["sample_near_copy_fraction"].append(float(np.mean(dist < settings.NEAR_COPY)))

    # the baselines the sample checks must fail
    rng = np.random.default_rng(0)
    baselines = {
        "uniform_noise": rng.random((settings.N_SAMPLES, 28, 28)),
        "mean_image": np.repeat(mean_image.numpy().reshape(1, 28, 28), settings.N_SAMPLES, axis=0),
        "training_copies": train_ref[rng.choice(len(train_ref), settings.N_SAMPLES, replace=False)].reshape(-1, 28, 28),
        "mode_collapse": np.repeat(x_test[5000:5001] / 255.0, settings.N_SAMPLES, axis=0),  # one clear digit
        "held_out_real": x_test[5000:5000 + settings.N_SAMPLES] / 255.0,
    }
    out["baselines"] = {}
    for name, images in baselines.items():
        c, v = conf.sample_scores(images)
        dist = conf.nn_distances(images, train_ref)
        out["baselines"][name] = {"confidence": c, "coverage": v, "nn_median": float(np.median(dist)),
                                  "near_copy_fraction": float(np.mean(dist < settings.NEAR_COPY))}
    out["load_average_end"] = os.getloadavg()
    (Path(__file__).parent / "calibration.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
