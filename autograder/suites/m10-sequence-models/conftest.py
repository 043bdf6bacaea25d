"""Trusted helpers of the m10 hidden suite: data splits the student's code never sees, and oracles.

Everything here runs on the grader's side; none of it is sent to the student's process.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from coursekit.data import load_dataset

CHARS = ".abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="session")
def names_split() -> SimpleNamespace:
    """makemore names: 3,000 held out (a fixed permutation), the other 29,032 for training."""
    names = load_dataset("makemore_names")["names.txt"].split()
    perm = np.random.default_rng(1010).permutation(len(names))
    return SimpleNamespace(held=[names[i] for i in perm[:3000]], train=[names[i] for i in perm[3000:]])


@pytest.fixture(scope="session")
def sms_split() -> SimpleNamespace:
    """SMS spam: 80% for training, 20% (1,115 messages) held out, by a fixed permutation."""
    text = load_dataset("sms_spam")["SMSSpamCollection"]
    rows = [line.split("\t", 1) for line in text.splitlines() if line.strip()]
    texts, labels = [r[1] for r in rows], np.array([int(r[0] == "spam") for r in rows])
    perm = np.random.default_rng(1011).permutation(len(texts))
    cut = int(0.8 * len(texts))
    tr, te = perm[:cut], perm[cut:]
    return SimpleNamespace(train_texts=[texts[i] for i in tr], train_labels=labels[tr],
                           test_texts=[texts[i] for i in te], test_labels=labels[te])
