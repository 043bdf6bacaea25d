"""Public tests (shipped to students): a worked example per part, with hints."""

import json
from pathlib import Path

import numpy as np
import pytest

from coursekit_student.testing import hint, part, points

# next to the notebook, in release/m17-rag/ as in source/m17-rag/
CORPUS = Path(__file__).resolve().parent.parent / "course_corpus.json"


def _tokens(corpus):
    import re

    # the notebook's tokenize, so that this example does not depend on a student's edit of it
    return [re.findall(r"[a-z0-9]+", (p["title"] + "\n" + p["text"]).lower()) for p in corpus]


@part("chunking")
@points(1)
@hint("Windows start size - overlap words apart; stop after the first window that reaches the last word.")
def test_chunk_fixed_example(submission):
    text = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
    assert submission.chunk_fixed(text, 4, 1) == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]


@part("chunking")
@points(1)
@hint("A heading is 1-6 '#' and a space at the start of a line, outside ``` fences; text before it counts only if not blank.")
def test_chunk_sections_example(submission):
    markdown = "# Intro\nHello.\n\n## Code\n```bash\n# not a heading\n```\n## Empty\n"
    assert submission.chunk_sections(markdown) == [
        {"title": "Intro", "text": "Hello."},
        {"title": "Code", "text": "```bash\n# not a heading\n```"},
        {"title": "Empty", "text": ""},
    ]


@part("tfidf")
@points(2)
@hint("idf = ln((1 + n) / (1 + df)) + 1, raw counts times idf, then divide each row by its norm.")
def test_tfidf_example(submission):
    docs = [["a", "b", "a"], ["b", "c"]]
    vocab, idf = submission.tfidf_fit(docs)
    assert list(vocab) == ["a", "b", "c"]
    np.testing.assert_allclose(idf, [np.log(3 / 2) + 1, 1.0, np.log(3 / 2) + 1], rtol=1e-12)
    X = np.asarray(submission.tfidf_transform(docs, vocab, idf))
    row = np.array([2 * (np.log(1.5) + 1), 1.0, 0.0])
    np.testing.assert_allclose(X[0], row / np.linalg.norm(row), rtol=1e-12)


@part("bm25")
@points(2)
@hint("Lucene BM25: idf = ln(1 + (n - df + 0.5) / (df + 0.5)), tf / (tf + k1 (1 - b + b |d| / avgdl)).")
def test_bm25_example(submission):
    docs = [["a", "b", "a"], ["b", "c"], ["c", "c", "d", "a"], ["e"]]
    scores = np.asarray(submission.bm25_scores(docs, ["a"]))
    avgdl, idf = 2.5, np.log(1 + 2.5 / 2.5)
    expected = [idf * 2 / (2 + 1.5 * (0.25 + 0.75 * 3 / avgdl)), 0.0, idf * 1 / (1 + 1.5 * (0.25 + 0.75 * 4 / avgdl)), 0.0]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    assert submission.bm25_search(docs, ["a"], 3) == [0, 2, 1]


@part("dense")
@points(1)
@hint("Take the right singular vectors (rows of Vt) of the largest singular values, as columns.")
def test_lsa_fit_example(submission):
    X = np.diag([3.0, 2.0, 1.0])
    V = np.asarray(submission.lsa_fit(X, 2))
    assert V.shape == (3, 2)
    np.testing.assert_allclose(np.abs(V), [[1, 0], [0, 1], [0, 0]], atol=1e-12)


@part("dense")
@points(1)
@hint("Cosine = dot / (norms); best first, ties by the smaller index; k larger than n returns all rows.")
def test_cosine_top_k_example(submission):
    M = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [1.0, 1.0]])
    assert submission.cosine_top_k(np.array([1.0, 0.0]), M, 10) == [0, 2, 3, 1]


@part("evaluation")
@points(2)
@hint("precision@k divides by k, recall@k by the number of relevant ids; MRR averages 1/position of the first hit.")
def test_evaluation_example(submission):
    ranked = [7, 3, 9, 1]
    assert submission.precision_at_k(ranked, {3, 1, 5}, 2) == pytest.approx(0.5)
    assert submission.recall_at_k(ranked, {3, 1, 5}, 4) == pytest.approx(2 / 3)
    assert submission.mean_reciprocal_rank([ranked, [5, 6]], [{9}, {1}]) == pytest.approx((1 / 3 + 0) / 2)


@part("answerer")
@points(2)
@hint("Each chosen sentence is followed by ' [id]'; citations lists the same ids in the same order.")
def test_answer_cites_the_perceptron_section(submission):
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    question = "How does the perceptron update its weights on a mistake?"
    # any retriever's scores will do; here the number of distinct question words each passage contains
    asked = set(_tokens([{"title": "", "text": question}])[0])
    reply = submission.answer(question, corpus, [len(asked & set(tokens)) for tokens in _tokens(corpus)])
    assert set(reply) == {"text", "citations"}
    assert 61 in reply["citations"]
    for cited in reply["citations"]:
        assert f"[{cited}]" in reply["text"]


@part("answerer")
@points(1)
@hint("With no matching passage (or no question tokens) return {'text': '', 'citations': []}.")
def test_answer_abstains(submission):
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    scores = [1.0] * len(corpus)  # every passage retrieved: only the sentences decide
    assert submission.answer("?!", corpus, scores) == {"text": "", "citations": []}
    assert submission.answer("zyzzyva qwxv", corpus, scores) == {"text": "", "citations": []}
