"""Fixtures of the m18 hidden suite: tiny shakespeare and the course's base GPT, built on the trusted side."""

from __future__ import annotations

import pytest

from coursekit.data import load_dataset
from coursekit_student.base_gpt import load_base_gpt, split_ids


@pytest.fixture(scope="session")
def shakespeare() -> str:
    return load_dataset("tinyshakespeare")["input.txt"]


@pytest.fixture(scope="session")
def base_bundle(shakespeare):
    """(base GPT, tokenizer, train ids, held-out ids); the held-out ids never enter the student's process."""
    model, tok = load_base_gpt("base", text=shakespeare)
    train_ids, heldout_ids = split_ids(shakespeare, tok)
    return model, tok, train_ids, heldout_ids
