"""Trusted oracles of the m10 hidden suite (loaded by path: the grader imports suites with --import-mode=importlib).

Nothing here is sent to the student's process.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

CHARS = ".abcdefghijklmnopqrstuvwxyz"


def oracle_tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def oracle_vocab(token_lists, min_freq=1, specials=("<pad>", "<unk>")) -> list[str]:
    counts = Counter(t for tokens in token_lists for t in tokens)
    itos = []
    for s in specials:
        if s not in itos:
            itos.append(s)
    return itos + sorted((t for t, c in counts.items() if c >= min_freq and t not in itos), key=lambda t: (-counts[t], t))


def oracle_bag_of_words(texts, stoi) -> np.ndarray:
    X = np.zeros((len(texts), len(stoi)), dtype=np.float32)
    for r, text in enumerate(texts):
        for t in oracle_tokenize(text):
            X[r, stoi.get(t, stoi["<unk>"])] += 1
    return X


def names_batch(names) -> tuple:
    import torch

    T = max(len(n) for n in names) + 1
    x = torch.zeros(len(names), T, dtype=torch.long)
    y = torch.full((len(names), T), -100, dtype=torch.long)
    for r, name in enumerate(names):
        ids = [CHARS.index(c) for c in name]
        x[r, 1:len(ids) + 1] = torch.tensor(ids)
        y[r, :len(ids) + 1] = torch.tensor(ids + [0])
    return x, y


def bigram_heldout_loss(train, held) -> float:
    """Add-one-smoothed bigram model fitted on train: mean nats per character (end marks included) on held."""
    N = np.ones((27, 27))
    for name in train:
        s = [0] + [CHARS.index(c) for c in name] + [0]
        np.add.at(N, (s[:-1], s[1:]), 1)
    logP = np.log(N / N.sum(axis=1, keepdims=True))
    total, count = 0.0, 0
    for name in held:
        s = [0] + [CHARS.index(c) for c in name] + [0]
        total -= logP[s[:-1], s[1:]].sum()
        count += len(s) - 1
    return total / count


TOPICS = {
    "fruit": ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"],
    "animal": ["cat", "dog", "horse", "lion", "mouse", "rabbit", "tiger", "wolf"],
    "vehicle": ["bicycle", "bus", "car", "ferry", "plane", "scooter", "train", "truck"],
    "weather": ["cloud", "fog", "frost", "hail", "rain", "snow", "storm", "wind"],
    "music": ["cello", "drum", "flute", "guitar", "harp", "piano", "trumpet", "violin"],
    "body": ["arm", "ear", "elbow", "finger", "knee", "nose", "shoulder", "toe"],
}
FILLER = ["the", "a", "and", "of", "with", "very", "some", "is"]


def topic_corpus(n_sentences: int, seed: int, length: int = 8, p_filler: float = 0.3) -> list[list[str]]:
    """The notebook's generated corpus (a copy: the student may have edited theirs)."""
    rng = np.random.default_rng(seed)
    topics = list(TOPICS.values())
    sentences = []
    for _ in range(n_sentences):
        words = topics[rng.integers(len(topics))]
        sentences.append([FILLER[rng.integers(len(FILLER))] if rng.random() < p_filler
                          else words[rng.integers(len(words))] for _ in range(length)])
    return sentences


def topic_purity(E: np.ndarray, itos: list[str], k: int = 5) -> float:
    """Mean over the 48 topic words of the fraction of their k cosine-nearest words in the same topic."""
    topic_of = {w: t for t, words in TOPICS.items() for w in words}
    E = np.asarray(E, dtype=np.float64)
    unit = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-300)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    scores = []
    for i, w in enumerate(itos):
        if w in topic_of:
            nearest = np.argsort(-sims[i], kind="stable")[:k]
            scores.append(np.mean([topic_of.get(itos[j]) == topic_of[w] for j in nearest]))
    return float(np.mean(scores))


def ref_char_rnn():
    """The notebook's CharRNN architecture (attribute names fixed by its docstring), built here to replay training."""
    import torch.nn as nn

    class RefCharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(27, 32)
            self.rnn = nn.GRU(32, 128, batch_first=True)
            self.head = nn.Linear(128, 27)

        def forward(self, x):
            return self.head(self.rnn(self.emb(x))[0])

    return RefCharRNN()


def char_heldout_loss(model, held) -> float:
    """Mean cross-entropy per character (end marks included, padding excluded) of the model on held-out names.

    model is the student's model (a handle): only the ids go to it; the targets stay here.
    """
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    for start in range(0, len(held), 500):
        x, y = names_batch(held[start:start + 500])
        logits = torch.as_tensor(model(x)).double()
        assert tuple(logits.shape) == (*x.shape, 27)
        total += float(F.cross_entropy(logits.reshape(-1, 27), y.reshape(-1), ignore_index=-100, reduction="sum"))
        count += int((y != -100).sum())
    return total / count
