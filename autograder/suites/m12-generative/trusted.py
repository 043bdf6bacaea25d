"""Trusted helpers for the m12 hidden suite: the grader's own digit classifier, the held-out ELBO, the
train_vae oracle's architecture. Loaded by path (the grader imports suites with --import-mode=importlib).

Everything here runs on the grader's side. The classifier that scores the student's samples is trained
HERE on MNIST (never by the student, never sent to the student's process), once per grading process, with
a fixed seed, so it is the same judge for every submission. The held-out ELBO is computed here from the
numbers the student's encoder and decoder return, with noise the test draws itself.
"""

from __future__ import annotations

import functools
import zlib
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit.data import load_dataset


def load_sibling(name: str):
    """A module of this suite by path (settings, trusted)."""
    spec = importlib.util.spec_from_file_location(f"_m12_{name}", Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_float(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 784) in [0, 1]: the notebook's to_float, kept here so a wrong
    to_float (part autoencoder) cannot change what the other parts' tests feed the student's models."""
    return torch.from_numpy(np.asarray(images)).float().div(255.0).reshape(len(images), 784)


@functools.lru_cache(maxsize=1)
def grader_classifier() -> nn.Module:
    """An MLP 784-256-10 trained on the 60,000 MNIST training images (2 epochs, Adam 1e-3, batch 128, seed 0),
    made to say "unsure" where it should: ~96 % test accuracy, ~5 CPU-s, deterministic (fixed seeds).

    A plain MLP is overconfident off the data: it gave uniform noise a mean top probability of 0.90 and the
    mean image 0.68, more than a trained VAE's samples (0.71), so its confidence could not tell digits from
    junk. Two standard calibration devices fix that: mixup (Zhang et al. 2018: each batch also holds blends
    lam*x_a + (1-lam)*x_b with soft targets lam*y_a + (1-lam)*y_b, so blends of digits get mixed
    probabilities) and outlier exposure (Hendrycks et al. 2019: 16 uniform-noise images per batch with the
    uniform target). Measured scores: reference/m12-generative/calibration.json."""
    images, labels = load_dataset("mnist")["train"]
    x = as_float(images)
    y = F.one_hot(torch.from_numpy(np.asarray(labels)).long(), 10).float()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    with torch.enable_grad():             # callers may be inside no_grad
        for _ in range(2):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), 128):
                idx = order[start:start + 128]
                xb, yb = x[idx], y[idx]
                lam = torch.rand(len(xb), 1, generator=generator)
                partner = torch.randperm(len(xb), generator=generator)
                noise = torch.rand(16, 784, generator=generator)
                xb = torch.cat([xb, lam * xb + (1 - lam) * xb[partner], noise])
                yb = torch.cat([yb, lam * yb + (1 - lam) * yb[partner], torch.full((16, 10), 0.1)])
                loss = -(yb * F.log_softmax(model(xb), dim=1)).sum(1).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return model.eval()


def classifier_probs(images) -> np.ndarray:
    """The grader classifier's class probabilities (n, 10) for images (n, 28, 28) or (n, 784) in [0, 1]."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 784)
    with torch.no_grad():
        return F.softmax(grader_classifier()(x), dim=1).double().numpy()


def sample_scores(images) -> tuple[float, float]:
    """(mean largest probability, fraction of the 10 classes that are some sample's argmax)."""
    probs = classifier_probs(images)
    return float(probs.max(axis=1).mean()), len(np.unique(probs.argmax(axis=1))) / 10


def nn_distances(samples, reference) -> np.ndarray:
    """Euclidean distance of each sample (flattened) to its nearest reference image, float64, exact."""
    s = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    r = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    d2 = (s ** 2).sum(1)[:, None] + (r ** 2).sum(1)[None, :] - 2 * s @ r.T
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def negative_elbo(x: torch.Tensor, mu, logvar, logits) -> float:
    """Mean over images of  BCE(x, sigmoid(logits)) summed over pixels  +  KL(N(mu, e^logvar) || N(0, I)),
    in nats per image: a one-sample estimate of -ELBO, float64 on the grader's side."""
    x, mu, logvar, logits = (_data(a).double() for a in (x, mu, logvar, logits))
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
    return float((recon + kl).mean())


class RefVAE(nn.Module):
    """The notebook's VAE architecture on the grader's side, for the train_vae oracle."""

    def __init__(self, latent_dim: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())
        self.mu_head, self.logvar_head = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def encode(self, x):
        h = self.body(x)
        return self.mu_head(h), self.logvar_head(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decoder(z), mu, logvar


def _data(a) -> torch.Tensor:
    return a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))


def ref_vae_like(state: dict, student_encode, student_decode, latent_dim: int,
                 hidden: int) -> tuple[RefVAE, dict[str, str]]:
    """A RefVAE holding the student's VAE's parameters, and {ref name: student name}.

    The student may name the layers as they like, so parameters are matched by shape; the two heads share
    a shape (and the two (hidden,) biases too), so the assignment is the one under which RefVAE's encode and
    decoder agree with the student's on a probe batch. Raises AssertionError when none reproduces the student's."""
    ref = RefVAE(latent_dim, hidden)
    names = [k for k, v in state.items() if v.dtype.is_floating_point]
    by_shape: dict[tuple, list[str]] = {}
    for k in names:
        by_shape.setdefault(tuple(state[k].shape), []).append(k)
    probe = torch.rand(5, 784, generator=torch.Generator().manual_seed(0))
    mu_s, logvar_s = (_data(a) for a in student_encode(probe))
    head_w, head_b = by_shape.get((latent_dim, hidden), []), by_shape.get((latent_dim,), [])
    assert len(names) == 10 and len(head_w) == 2 and len(head_b) == 2, "parameters differ from the documented VAE"
    h_biases = by_shape[(hidden,)]                  # the body's and the decoder's first bias: either order
    for (wm, bm), (wl, bl) in (((head_w[0], head_b[0]), (head_w[1], head_b[1])),
                               ((head_w[1], head_b[1]), (head_w[0], head_b[0]))):
        for body_bias, dec_bias in ((h_biases[0], h_biases[1]), (h_biases[1], h_biases[0])):
            mapping = {"body.0.weight": by_shape[(hidden, 784)][0], "body.0.bias": body_bias,
                       "mu_head.weight": wm, "mu_head.bias": bm, "logvar_head.weight": wl, "logvar_head.bias": bl,
                       "decoder.0.weight": by_shape[(hidden, latent_dim)][0], "decoder.0.bias": dec_bias,
                       "decoder.2.weight": by_shape[(784, hidden)][0], "decoder.2.bias": by_shape[(784,)][0]}
            ref.load_state_dict({k: state[v].clone() for k, v in mapping.items()})
            with torch.no_grad():
                mu, logvar = ref.encode(probe)
                # the decoder's bias is found by the decoder: compare decode on the probe codes too
                same_decoder = torch.allclose(ref.decoder(mu), _data(student_decode(mu)),
                                              atol=1e-5)
            if torch.allclose(mu, mu_s, atol=1e-5) and torch.allclose(logvar, logvar_s, atol=1e-5) and same_decoder:
                return ref, mapping
    raise AssertionError("the VAE's encoder does not match the documented architecture")


def shape_keyed_state(state: dict, seed: int = 0) -> dict:
    """Values for a model's state dict (the student's keys, or an oracle's) that depend only on each entry's
    shape and kind (learnable / running_mean / running_var), never on its name or position.

    Loading it into the student's model and into an oracle built from the documented layers gives both the
    same numbers wherever the architectures agree, whatever the student named or nested the layers. Entries of
    one shape share one value (e.g. a Linear bias and the BatchNorm weight and bias after it), so the oracle's
    outputs do not depend on which of them is which. Integer buffers (num_batches_tracked) are kept."""
    out = {}
    for key, value in state.items():
        value = _data(value)
        if not value.dtype.is_floating_point:
            out[key] = value.clone()
            continue
        kind = ("running_var" if key.endswith("running_var") else
                "running_mean" if key.endswith("running_mean") else "param")
        shape = tuple(value.shape)
        g = torch.Generator().manual_seed(seed + zlib.crc32(f"{kind}{shape}".encode()))
        if kind == "running_var":
            t = 0.5 + torch.rand(shape, generator=g)
        elif kind == "running_mean" or len(shape) == 1:
            t = torch.randn(shape, generator=g)
        else:                                   # weights: about unit-variance outputs
            t = torch.randn(shape, generator=g) / np.sqrt(max(1, value.numel() // shape[0]))
        out[key] = t.to(value.dtype)
    return out
