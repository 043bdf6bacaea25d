"""Trusted re-implementations for the m17 hidden suite: BM25 in float64 and the extractive answerer.

bm25s (the oracle of the BM25 tests) scores in float32, whose rounding can reorder near-ties; the
answerer's exact-match tests need the float64 ranking the notebook's docstrings promise, so the grader
keeps its own. tests/test_milestone_m17.py checks these against bm25s and against the notebook.
"""

from __future__ import annotations

import math
from collections import Counter


def bm25_scores(docs_tokens: list[list[str]], query_tokens: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    n = len(docs_tokens)
    lengths = [len(doc) for doc in docs_tokens]
    avgdl = sum(lengths) / n
    counts = [Counter(doc) for doc in docs_tokens]
    df: Counter = Counter()
    for c in counts:
        df.update(c.keys())
    scores = [0.0] * n
    for term in query_tokens:
        if term not in df:
            continue
        idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
        for i, c in enumerate(counts):
            tf = c.get(term, 0)
            scores[i] += idf * tf / (tf + k1 * (1 - b + b * lengths[i] / avgdl))
    return scores


def top_k(scores: list[float], k: int) -> list[int]:
    """Best first, ties by the smaller index (the docstrings' rule)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]


def passage_scores(question: str, passages: list[dict], tokenize) -> list[float]:
    """BM25 of the question over the passages' title + text, as the notebook's pipeline computes it."""
    return bm25_scores([tokenize(p["title"] + "\n" + p["text"]) for p in passages], tokenize(question))


def answer(question: str, passages: list[dict], scores: list[float], k: int, tokenize, split_sentences) -> dict:
    """The notebook's rules 1-4, written independently of the notebook's solution."""
    q = tokenize(question)
    if not q or not passages:
        return {"text": "", "citations": []}
    wanted = set(q)
    pieces, cited = [], []
    for i in top_k(scores, k):
        if scores[i] <= 0:
            break
        best, best_count = None, 0
        for sentence in split_sentences(passages[i]["text"]):
            count = len(set(tokenize(sentence)) & wanted)
            if count > best_count:
                best, best_count = sentence, count
        if best is None:
            continue
        pieces.append(f"{best} [{passages[i]['id']}]")
        cited.append(passages[i]["id"])
    return {"text": " ".join(pieces), "citations": cited}
