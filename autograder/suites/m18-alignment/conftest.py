"""Fixtures of the m18 hidden suite: tiny shakespeare and the course's base GPT, built on the trusted side."""

from __future__ import annotations

import pytest

from coursekit.data import load_dataset
from coursekit_student.base_gpt import load_base_gpt, split_ids


def pytest_collection_finish(session):
    """Load (or, the first time on a machine, build: ~2.5 CPU-minutes) the base GPT now, outside every
    test's timeout: pytest-timeout counts a session fixture's setup in the first test that asks for it,
    and a cold cache (a fresh CI machine) ran past that test's limit."""
    if not session.config.option.collectonly:
        load_base_gpt("base", text=load_dataset("tinyshakespeare")["input.txt"])


@pytest.fixture(scope="session")
def shakespeare() -> str:
    return load_dataset("tinyshakespeare")["input.txt"]


@pytest.fixture(scope="session")
def base_bundle(shakespeare):
    """(base GPT, tokenizer, train ids, held-out ids); the held-out ids never enter the student's process."""
    model, tok = load_base_gpt("base", text=shakespeare)
    train_ids, heldout_ids = split_ids(shakespeare, tok)
    return model, tok, train_ids, heldout_ids
