"""Hidden tests of m17 parts chunking, tfidf, bm25 and dense (grader only).

Points per part (public + hidden) add up to course.yaml: chunking 2+13, tfidf 2+13, bm25 2+13, dense 2+13.
Oracles: the grader's own section splitter (corpus_build.sections), scikit-learn's TfidfVectorizer,
bm25s, NumPy's SVD; the student's tf-idf and BM25 run with sklearn/bm25s/rank_bm25 banned.
"""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from coursekit_student.testing import forbid, hint, part, points

SCRATCH = ("sklearn", "bm25s", "rank_bm25")
HERE = Path(__file__).resolve().parent


def _helper(name):
    # the grader imports suites with --import-mode=importlib: siblings are loaded by path
    spec = importlib.util.spec_from_file_location(f"_m17_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CB = _helper("corpus_build")
GOLD = _helper("gold").GOLD
CORPUS = CB.load_corpus()
CORPUS_TOKENS = [CB.tokenize(p["title"] + "\n" + p["text"]) for p in CORPUS]


def _windows(words, size, overlap):
    """Trusted fixed windows: starts 0, s, 2s, ... up to the first window reaching the end."""
    stride, out, start = size - overlap, [], 0
    while start < len(words):
        out.append(" ".join(words[start:start + size]))
        if start + size >= len(words):
            break
        start += stride
    return out


def _bm25s_scores(docs, query, k1=1.5, b=0.75):
    import bm25s

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(docs, show_progress=False)
        return np.asarray(retriever.get_scores(query), dtype=float)


def _random_docs(rng, n, vocab_size, max_len):
    words = [f"w{i}" for i in range(vocab_size)]
    return [[words[j] for j in rng.integers(0, vocab_size, size=rng.integers(1, max_len + 1))] for _ in range(n)]


# ---------------------------------------------------------------- chunking

@part("chunking")
@points(4)
@hint("Random texts, sizes and overlaps: window j covers words [j*(size-overlap), j*(size-overlap)+size).")
def test_chunk_fixed_random(submission, rng):
    for _ in range(25):
        n = int(rng.integers(1, 60))
        words = [f"t{int(v)}" for v in rng.integers(0, 1000, size=n)]
        size = int(rng.integers(1, 15))
        overlap = int(rng.integers(0, size))
        text = "  \n".join(words) if rng.random() < 0.3 else " ".join(words)
        assert submission.chunk_fixed(text, size, overlap) == _windows(words, size, overlap)


@part("chunking")
@points(3)
@hint("Empty text gives []; a window that reaches the last word is the last one; size larger than the text gives one window.")
def test_chunk_fixed_boundaries(submission):
    words = [f"x{i}" for i in range(10)]
    text = " ".join(words)
    assert submission.chunk_fixed("", 3, 1) == []
    assert submission.chunk_fixed(" \n\t ", 3, 1) == []
    assert submission.chunk_fixed(text, 20, 5) == [text]
    assert submission.chunk_fixed(text, 5, 0) == [" ".join(words[:5]), " ".join(words[5:])]
    assert submission.chunk_fixed(text, 4, 2) == _windows(words, 4, 2)
    assert len(submission.chunk_fixed(text, 4, 2)) == 4  # starts 0, 2, 4, 6: the window at 6 reaches the end
    assert submission.chunk_fixed(text, 1, 0) == words


@part("chunking")
@points(1)
@hint("size < 1, overlap < 0 and overlap >= size raise ValueError.")
def test_chunk_fixed_raises(submission):
    for size, overlap in ((0, 0), (3, -1), (3, 3), (2, 5)):
        with pytest.raises(ValueError):
            submission.chunk_fixed("a b c d", size, overlap)


@part("chunking")
@points(3)
@hint("Only '#'..'######' followed by a space starts a heading, never inside ``` fences; empty-bodied sections are kept.")
def test_chunk_sections_edge_cases(submission):
    cases = [
        "",
        "   \n\n",
        "plain text, no heading",
        "preamble\n# One\nbody one\n\n#Not a heading\n####### seven hashes\n## Two ##\n",
        "# A\n```python\n# comment\nx = 1\n```\nafter\n  ```\n## inside an indented fence\n  ```\n# B",
        "# Only\n# Headings\n# Here",
        "   # indented is not a heading\ntext\n# Real\n\n\n  spaced body  \n\n",
        "\n\n# After blank lines\nbody",          # blank text before the first heading: no "" section
        "  \n\t\n# After white space\nbody\n# Next",
    ]
    for markdown in cases:
        assert submission.chunk_sections(markdown) == CB.sections(markdown)


@part("chunking")
@points(2)
@hint("Splitting the course's own documents must give exactly the sections of the shipped corpus.")
def test_chunk_sections_course_documents(submission):
    by_source = {}
    for p in CORPUS:
        heading = "# " + p["title"] if p["title"] else ""
        by_source.setdefault(p["source"], []).append(f"{heading}\n{p['text']}")
    for texts in list(by_source.values())[::3]:
        markdown = "\n\n".join(texts)
        assert submission.chunk_sections(markdown) == CB.sections(markdown)


# ---------------------------------------------------------------- tfidf

def _sklearn_tfidf(fit_docs, transform_docs):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=lambda tokens: tokens)  # same defaults the notebook states
    vectorizer.fit(fit_docs)
    return list(vectorizer.get_feature_names_out()), vectorizer.idf_, vectorizer.transform(transform_docs).toarray()


@part("tfidf")
@points(5)
@hint("On the course corpus your vocabulary, idf and rows must equal scikit-learn's TfidfVectorizer defaults.")
@forbid(*SCRATCH)
def test_tfidf_course_corpus(submission):
    vocab, idf, X = _sklearn_tfidf(CORPUS_TOKENS, CORPUS_TOKENS)
    got_vocab, got_idf = submission.tfidf_fit(CORPUS_TOKENS)
    assert list(got_vocab) == vocab
    # float64 logs and sums of a few hundred terms: 1e-10 relative
    np.testing.assert_allclose(got_idf, idf, rtol=1e-10)
    np.testing.assert_allclose(submission.tfidf_transform(CORPUS_TOKENS, got_vocab, got_idf), X, rtol=1e-9, atol=1e-12)


@part("tfidf")
@points(4)
@hint("Random collections, including repeated tokens and terms in every document.")
@forbid(*SCRATCH)
def test_tfidf_random(submission, rng):
    for _ in range(5):
        docs = _random_docs(rng, int(rng.integers(1, 12)), int(rng.integers(1, 9)), 12)
        vocab, idf, X = _sklearn_tfidf(docs, docs)
        got_vocab, got_idf = submission.tfidf_fit(docs)
        assert list(got_vocab) == vocab
        np.testing.assert_allclose(got_idf, idf, rtol=1e-10)
        np.testing.assert_allclose(submission.tfidf_transform(docs, got_vocab, got_idf), X, rtol=1e-9, atol=1e-12)


@part("tfidf")
@points(3)
@hint("Queries: unknown tokens are ignored, a query without known tokens is a zero row (no NaN).")
@forbid(*SCRATCH)
def test_tfidf_queries_unknown_tokens(submission):
    docs = [["alpha", "beta"], ["beta", "gamma", "gamma"], ["delta"]]
    queries = [["gamma", "zzz", "gamma"], ["zzz"], [], ["alpha", "delta", "beta"]]
    _, _, expected = _sklearn_tfidf(docs, queries)
    vocab, idf = submission.tfidf_fit(docs)
    got = np.asarray(submission.tfidf_transform(queries, vocab, idf))
    assert got.shape == (4, 4) and np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@part("tfidf")
@points(1)
@hint("An empty collection has no vocabulary: raise ValueError.")
@forbid(*SCRATCH)
def test_tfidf_empty_raises(submission):
    with pytest.raises(ValueError):
        submission.tfidf_fit([])


# ---------------------------------------------------------------- bm25

@part("bm25")
@points(5)
@hint("Your scores on the course corpus must equal bm25s (Lucene variant, k1=1.5, b=0.75), repeated query words counting twice.")
@forbid(*SCRATCH)
def test_bm25_course_corpus_against_bm25s(submission):
    # few queries: each call runs under the ban's profile hook, which slows pure Python ~5x
    for question, _ in GOLD[::12] + [("attention attention cache zzz", None)]:
        query = CB.tokenize(question)
        # bm25s stores scores in float32: 1e-5 relative (plus 1e-6 absolute for zeros)
        np.testing.assert_allclose(submission.bm25_scores(CORPUS_TOKENS, query), _bm25s_scores(CORPUS_TOKENS, query),
                                   rtol=1e-5, atol=1e-6)


@part("bm25")
@points(3)
@hint("Random collections and other k1, b: use the parameters you are given.")
@forbid(*SCRATCH)
def test_bm25_random_parameters(submission, rng):
    for k1, b in ((1.5, 0.75), (0.9, 0.4), (2.0, 1.0), (1.2, 0.0)):
        docs = _random_docs(rng, int(rng.integers(2, 15)), 10, 20)
        query = [f"w{int(i)}" for i in rng.integers(0, 12, size=4)]
        np.testing.assert_allclose(submission.bm25_scores(docs, query, k1=k1, b=b), _bm25s_scores(docs, query, k1, b),
                                   rtol=1e-5, atol=1e-6)


@part("bm25")
@points(3)
@hint("Ties go to the smaller index; k = 0 gives [], k > n gives all n; an empty query scores 0 everywhere; k < 0 raises ValueError.")
@forbid(*SCRATCH)
def test_bm25_search_ties_and_k(submission):
    docs = [["x", "y"], ["a", "b"], ["x", "y"], ["a", "x"], ["q"]]
    assert submission.bm25_search(docs, ["y"], 5) == [0, 2, 1, 3, 4]
    assert submission.bm25_search(docs, ["y"], 50) == [0, 2, 1, 3, 4]
    assert submission.bm25_search(docs, ["y"], 0) == []
    assert submission.bm25_search(docs, [], 3) == [0, 1, 2]
    np.testing.assert_array_equal(submission.bm25_scores(docs, []), np.zeros(5))
    with pytest.raises(ValueError):
        submission.bm25_search(docs, ["y"], -1)


@part("bm25")
@points(2)
@hint("BM25 over the course corpus must find the right passages for the grader's questions (recall@5 and MRR).")
def test_bm25_retrieval_quality(submission):
    # reference: recall@5 0.94, MRR 0.87; word-overlap baseline 0.85 / 0.68; random 0.11 / 0.07
    recalls, reciprocal = [], []
    for question, relevant in GOLD:
        ranked = submission.bm25_search(CORPUS_TOKENS, CB.tokenize(question), 10)
        recalls.append(len(set(ranked[:5]) & set(relevant)) / len(relevant))
        hits = [i for i, doc in enumerate(ranked, start=1) if doc in relevant]
        reciprocal.append(1 / hits[0] if hits else 0.0)
    assert np.mean(recalls) >= 0.9 and np.mean(reciprocal) >= 0.8


# ---------------------------------------------------------------- dense

def _projector(V):
    V = np.asarray(V, dtype=float)
    return V @ V.T


@part("dense")
@points(4)
@hint("lsa_fit returns the right singular vectors of the dim largest singular values, as orthonormal columns.")
def test_lsa_fit_random(submission, rng):
    for n, v, dim in ((12, 7, 3), (5, 20, 5), (30, 30, 10), (8, 6, 1)):   # dim = 1 and dim = min(n, V) allowed
        X = rng.normal(size=(n, v))  # continuous random matrices: distinct singular values almost surely
        V = np.asarray(submission.lsa_fit(X, dim))
        assert V.shape == (v, dim)
        _, _, Vt = np.linalg.svd(X, full_matrices=False)
        # float64 SVD of well-separated spectra: 1e-8
        np.testing.assert_allclose(V.T @ V, np.eye(dim), atol=1e-8)
        np.testing.assert_allclose(_projector(V), _projector(Vt[:dim].T), atol=1e-8)
        np.testing.assert_allclose(np.abs(np.sum(V * Vt[:dim].T, axis=0)), np.ones(dim), atol=1e-8)  # order


@part("dense")
@points(3)
@hint("lsa_embed: X @ components, each non-zero row divided by its norm; zero rows stay zero.")
def test_lsa_embed(submission, rng):
    X = rng.normal(size=(9, 6))
    X[4] = 0.0
    C = np.linalg.qr(rng.normal(size=(6, 3)))[0]
    E = X @ C
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    expected = np.divide(E, norms, out=np.zeros_like(E), where=norms > 0)
    got = np.asarray(submission.lsa_embed(X, C))
    assert got.shape == (9, 3) and np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1e-12)


@part("dense")
@points(3)
@hint("Random vectors with exact ties (integer entries, repeated rows): best cosine first, ties by the smaller index.")
def test_cosine_top_k_random(submission, rng):
    for _ in range(6):
        # entries in {-1, 0, 1} and scaling by 2: equal cosines are equal floats for any sound formula
        M = rng.integers(-1, 2, size=(15, 3)).astype(float)
        M[rng.integers(0, 15, size=4)] = M[0]  # duplicated rows tie exactly
        M[[3, 7]] *= 2.0  # a scaled copy has the same cosine
        q = rng.integers(-2, 3, size=3).astype(float) + np.array([0.0, 0.0, 0.5])
        denom = np.linalg.norm(M, axis=1) * np.linalg.norm(q)
        sims = np.divide(M @ q, denom, out=np.zeros(15), where=denom > 0)
        expected = sorted(range(15), key=lambda i: (-sims[i], i))
        got = submission.cosine_top_k(q, M, 7)
        assert len(got) == 7
        assert got == expected[:7]


@part("dense")
@points(2)
@hint("A zero query (or zero row) has cosine 0; k > n returns every row; k < 0 raises ValueError.")
def test_cosine_top_k_edges(submission):
    M = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    assert submission.cosine_top_k(np.zeros(2), M, 10) == [0, 1, 2, 3]
    assert submission.cosine_top_k(np.array([1.0, 0.0]), M, 10) == [2, 0, 3, 1]
    assert submission.cosine_top_k(np.array([1.0, 0.0]), M, 0) == []
    with pytest.raises(ValueError):
        submission.cosine_top_k(np.array([1.0, 0.0]), M, -2)


@part("dense")
@points(1)
@hint("dim must lie in [1, min(n, V)]; otherwise raise ValueError.")
def test_lsa_fit_raises(submission):
    X = np.ones((4, 6))
    for dim in (0, 5, -1):
        with pytest.raises(ValueError):
            submission.lsa_fit(X, dim)
