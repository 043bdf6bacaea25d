"""Trusted-side fixtures for the m09 hidden suite: MNIST, Fashion-MNIST and the grader's own pretrained backbone.

The grader pretrains the transfer-learning backbone itself, on the trusted side, instead of running the
student's pretraining: it takes ~100 s of one core (too slow to repeat per submission) and would make
the transfer grade depend on two of the student's functions at once. It is trained deterministically
(seed 0, one thread) on first use and cached next to the data sets, so later submissions load it in
well under a second. The weights are not a secret: the held-out MNIST labels are.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit.data import cache_dir, load_dataset

FEATURES = 32 * 7 * 7
PRETRAIN = {"epochs": 2, "batch_size": 64, "lr": 1e-3, "seed": 0}   # 0.884 on the Fashion-MNIST test set


def backbone() -> nn.Sequential:
    """The notebook's build_backbone(), written here independently (same layer indices, so same state keys)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())


def to_input(images: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(images)).float().div(255.0).unsqueeze(1)


def train(model: nn.Module, images, labels, epochs: int, batch_size: int, lr: float, seed: int) -> nn.Module:
    """The notebook's train_classifier recipe: Adam on the trainable parameters, seeded shuffles, mean CE."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    x, y = to_input(images), torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def pretrain_classifier(fashion: dict) -> nn.Sequential:
    """backbone + Linear(1568, 10) trained on all 60,000 Fashion-MNIST training images (deterministic on CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # one thread: the same float sums, so the same weights, on every run
    try:
        torch.manual_seed(PRETRAIN["seed"])
        model = nn.Sequential(backbone(), nn.Linear(FEATURES, 10))
        return train(model, *fashion["train"], PRETRAIN["epochs"], PRETRAIN["batch_size"], PRETRAIN["lr"],
                     PRETRAIN["seed"])
    finally:
        torch.set_num_threads(threads)


def backbone_cache_path():
    return cache_dir() / f"m09-grader-backbone-v1-torch{torch.__version__.split('+')[0]}.pt"


def cached_pretrained_state(fashion: dict) -> dict[str, torch.Tensor]:
    """State dict of the pretrained classifier ("0.*" backbone, "1.*" head), trained once and cached."""
    path = backbone_cache_path()
    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception:              # a torn write: train again
            path.unlink(missing_ok=True)
    state = {k: v.detach().clone() for k, v in pretrain_classifier(fashion).state_dict().items()}
    tmp = path.with_suffix(f".tmp{np.random.randint(1 << 30)}")
    try:
        torch.save(state, tmp)
        tmp.replace(path)              # atomic: a concurrent grader never reads half a file
    except OSError:                    # a read-only cache: grade anyway, pretraining again next time
        tmp.unlink(missing_ok=True)
    return state


@pytest.fixture(scope="session")
def mnist() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return load_dataset("mnist")


@pytest.fixture(scope="session")
def fashion() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return load_dataset("fashion-mnist")


def pytest_collection_finish(session):
    """Pretrain (first time on a machine: 60-110 CPU-s) or load the backbone now, outside every test's
    timeout: pytest-timeout counts a session fixture's setup in the first test that asks for it."""
    if not session.config.option.collectonly and not backbone_cache_path().exists():
        cached_pretrained_state(load_dataset("fashion-mnist"))


@pytest.fixture(scope="session")
def pretrained(fashion) -> dict[str, torch.Tensor]:
    return cached_pretrained_state(fashion)
