"""Consistency checks and reference figures of milestone m10-sequence-models (fast, no grading).

The hidden suite keeps its own copies of what the notebook defines (tokeniser, vocabulary order, bag of words,
name batches, the generated topic corpus); these tests make sure they agree with the notebook, that every
mutant and alternative applies exactly once, and that each threshold sits between the baseline it must beat
and the reference (figures in reference/m10-sequence-models/README.md). Whole-notebook grading is
`course validate` and tests/test_mutants.py.
"""

from __future__ import annotations

import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from tests.milestone_code import graded_namespace, load_suite_module

ROOT = Path(__file__).resolve().parent.parent
MID = "m10-sequence-models"
SUITE = ROOT / "autograder" / "suites" / MID
NOTEBOOK = ROOT / "source" / MID / f"{MID}.ipynb"


def _load(name: str) -> types.ModuleType:
    return load_suite_module(SUITE.name, name)


TR = _load("trusted")


@pytest.fixture(scope="module")
def notebook() -> dict:
    """The source notebook's graded code (solutions included), executed without the student package."""
    return graded_namespace(NOTEBOOK)


def _code_cells() -> list[str]:
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("kind", ["mutants", "alternatives"])
def test_variants_find_exactly_once_and_cover_every_part(kind):
    course = yaml.safe_load((ROOT / "course.yaml").read_text())
    entry = next((m for m in course["milestones"] if m["id"] == MID), None)
    parts = set(entry["parts"]) if entry else {"vocab", "word2vec", "cells", "clipping", "char_model", "classifier",
                                                "evaluation"}
    code = _code_cells()
    variants = yaml.safe_load((ROOT / "tests" / kind / f"{MID}.yaml").read_text())
    assert {v["part"] for v in variants} == parts
    for variant in variants:
        for replace in variant["replace"]:
            assert sum(src.count(replace["find"]) for src in code) == 1, (variant["name"], replace["find"])


def test_trusted_copies_match_the_notebook(notebook):
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ09' .,!?-\n\té日")
    texts = ["".join(rng.choice(alphabet, size=30)) for _ in range(50)] + ["Don't STOP! 2 more", ""]
    for text in texts:
        assert notebook["tokenize"](text) == TR.oracle_tokenize(text)
    docs = [list(rng.choice(["a", "b", "ab", "ba", "the", "<unk>"], size=9)) for _ in range(20)]
    for min_freq in (1, 2, 4):
        assert notebook["build_vocab"](docs, min_freq=min_freq)[0] == TR.oracle_vocab(docs, min_freq)
    stoi = {t: i for i, t in enumerate(["<pad>", "<unk>", "a", "the", "2"])}
    np.testing.assert_array_equal(notebook["bag_of_words"](texts, stoi), TR.oracle_bag_of_words(texts, stoi))
    names = ["emma", "al", "zoey", "x"]
    for got, expected in zip(notebook["names_to_batch"](names), TR.names_batch(names)):
        assert torch.equal(got, expected)
    assert notebook["topic_corpus"](300, seed=5) == TR.topic_corpus(300, seed=5)
    assert notebook["TOPICS"] == TR.TOPICS and notebook["FILLER"] == TR.FILLER


def test_word2vec_bar_between_random_and_reference(notebook):
    """The reference's topic purity (seed 3, as graded) is >= 0.9; random vectors stay below 0.25."""
    bar = _load("test_word2vec").PURITY_BAR
    sentences = TR.topic_corpus(2000, seed=7)
    words = sorted({w for s in sentences for w in s})
    index = {w: i for i, w in enumerate(words)}
    ids = [[index[w] for w in s] for s in sentences]
    assert TR.topic_purity(notebook["train_word2vec"](ids, len(words), seed=3), words) >= max(bar, 0.9)
    rng = np.random.default_rng(0)
    random_scores = [TR.topic_purity(rng.normal(size=(len(words), 16)), words) for _ in range(20)]
    assert max(random_scores) < 0.25 < bar


def test_names_bar_below_the_bigram_baseline():
    """The add-one bigram model on the graded split scores ~2.45 nats: the bar 2.25 fails it by > 0.15."""
    from coursekit.data import load_dataset

    names = load_dataset("makemore_names")["names.txt"].split()
    perm = np.random.default_rng(1010).permutation(len(names))
    held, train = [names[i] for i in perm[:3000]], [names[i] for i in perm[3000:]]
    bigram = TR.bigram_heldout_loss(train, held)
    bar = _load("test_char_model").LOSS_BAR
    assert bigram > bar + 0.15
    assert TR.bigram_heldout_loss(train, train[:3000]) > bar + 0.15     # even scored on its own training names


def test_spam_bars_fail_the_trivial_classifier():
    """Always-ham on the graded held-out 20%: accuracy ~0.87 (< 0.95), spam F1 0 (< 0.85)."""
    from coursekit.data import load_dataset

    text = load_dataset("sms_spam")["SMSSpamCollection"]
    labels = np.array([int(line.split("\t", 1)[0] == "spam") for line in text.splitlines() if line.strip()])
    held = labels[np.random.default_rng(1011).permutation(len(labels))[int(0.8 * len(labels)):]]
    suite = _load("test_classifier")
    assert np.mean(held == 0) < suite.ACCURACY_BAR - 0.05
    assert suite.F1_BAR > 0.5
