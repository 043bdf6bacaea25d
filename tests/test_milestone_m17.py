"""Consistency checks and reference figures of milestone m17-rag (fast, no grading).

The hidden suite keeps its own copies of the notebook's given code (tokenizer, sentence splitter),
its own section splitter (which also cut the frozen corpus) and its own float64 BM25 and answerer;
these tests make sure they agree with the notebook and with bm25s, that the gold set fits the frozen
corpus, and that the retrieval thresholds separate the reference from the baselines recorded in
reference/m17-rag/README.md. Whole-notebook grading is `course validate` and tests/test_mutants.py.
"""

from __future__ import annotations

import types
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from tests.milestone_code import graded_namespace, load_suite_module

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "autograder" / "suites" / "m17-rag"
NOTEBOOK = ROOT / "source" / "m17-rag" / "m17-rag.ipynb"


def _load(name: str) -> types.ModuleType:
    return load_suite_module(SUITE.name, name)


CB, TR, GOLD_MODULE = _load("corpus_build"), _load("trusted_rag"), _load("gold")
CORPUS = CB.load_corpus()
TOKENS = [CB.tokenize(p["title"] + "\n" + p["text"]) for p in CORPUS]


@pytest.fixture(scope="module")
def notebook() -> dict:
    """The source notebook's graded code (solutions included), executed without the student package."""
    return graded_namespace(NOTEBOOK)


def _ranking(scores) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def _recall_mrr(rank_fn, gold, k: int = 5) -> tuple[float, float]:
    recalls, reciprocal = [], []
    for question, relevant in gold:
        ranked = rank_fn(question)
        recalls.append(len(set(ranked[:k]) & set(relevant)) / len(relevant))
        hits = [i for i, doc in enumerate(ranked, start=1) if doc in relevant]
        reciprocal.append(1 / hits[0] if hits else 0.0)
    return float(np.mean(recalls)), float(np.mean(reciprocal))


def test_mutants_find_exactly_once_and_cover_every_part():
    course = yaml.safe_load((ROOT / "course.yaml").read_text())
    parts = next(m for m in course["milestones"] if m["id"] == "m17-rag")["parts"]
    code = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    mutants = yaml.safe_load((ROOT / "tests" / "mutants" / "m17-rag.yaml").read_text())
    assert {m["part"] for m in mutants} == set(parts)
    for mutant in mutants:
        for replace in mutant["replace"]:
            assert sum(src.count(replace["find"]) for src in code) == 1, (mutant["name"], replace["find"])


def test_given_code_matches_the_suite_copies(notebook):
    samples = ["Top-k, KV cache!", "One. Two?\nStill two!  Three\n\n\nFour.", "", "$O(T^2)$ e.g. 3.5 x"]
    for text in samples:
        assert notebook["tokenize"](text) == CB.tokenize(text)
        assert notebook["split_sentences"](text) == CB.split_sentences(text)


def test_corpus_is_the_section_split_of_its_sources(notebook):
    assert [p["id"] for p in CORPUS] == list(range(len(CORPUS)))
    assert all(len(tokens) >= CB.MIN_WORDS for tokens in TOKENS)
    for source, text in CB._sources(ROOT):
        assert notebook["chunk_sections"](text) == CB.sections(text), source


def test_corpus_builder_is_deterministic():
    assert CB.build_corpus() == CB.build_corpus()


def test_gold_fits_the_frozen_corpus_and_differs_from_the_public_questions():
    nb_text = NOTEBOOK.read_text() + (ROOT / "source" / "m17-rag" / "tests" / "test_public.py").read_text()
    for question, relevant in GOLD_MODULE.GOLD:
        assert relevant and all(0 <= i < len(CORPUS) for i in relevant), question
        assert question not in nb_text
    assert len(GOLD_MODULE.GOLD) >= 30


def test_trusted_bm25_matches_bm25s():
    import bm25s

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retriever = bm25s.BM25()
        retriever.index(TOKENS, show_progress=False)
        for question, _ in GOLD_MODULE.GOLD[::5]:
            query = CB.tokenize(question) + ["attention", "attention"]
            np.testing.assert_allclose(TR.bm25_scores(TOKENS, query), retriever.get_scores(query), rtol=1e-5, atol=1e-6)


def test_trusted_answerer_matches_the_notebook(notebook):
    for question, _ in GOLD_MODULE.GOLD[::2] + [(q, None) for q in GOLD_MODULE.OFF_TOPIC]:
        for k in (1, 3):
            scores = TR.passage_scores(question, CORPUS, CB.tokenize)
            assert notebook["answer"](question, CORPUS, scores, k) == TR.answer(question, CORPUS, scores, k, CB.tokenize,
                                                                                CB.split_sentences)


def test_retrieval_thresholds_separate_reference_from_baselines():
    """The figures of reference/m17-rag/README.md: BM25 passes recall@5 >= 0.9 and MRR >= 0.8, baselines fail."""
    gold = GOLD_MODULE.GOLD
    bm25 = _recall_mrr(lambda q: _ranking(TR.bm25_scores(TOKENS, CB.tokenize(q))), gold)
    sets = [set(t) for t in TOKENS]
    overlap = _recall_mrr(lambda q: _ranking([len(set(CB.tokenize(q)) & s) for s in sets]), gold)
    rng = np.random.default_rng(0)
    random = _recall_mrr(lambda q: [int(i) for i in rng.permutation(len(CORPUS))], gold)
    assert bm25[0] >= 0.9 and bm25[1] >= 0.8
    assert not (overlap[0] >= 0.9 and overlap[1] >= 0.8)
    assert not (random[0] >= 0.9 or random[1] >= 0.8)
    assert bm25 == pytest.approx((0.944, 0.871), abs=1e-3)
    assert overlap == pytest.approx((0.847, 0.681), abs=1e-3)


def test_citation_threshold_separates_reference_from_baselines():
    """Reference answerer cites a gold passage for 35/36 questions; the test demands 0.9."""
    def accuracy(cite) -> float:
        return float(np.mean([bool(set(cite(q)) & set(rel)) for q, rel in GOLD_MODULE.GOLD]))

    reference = accuracy(lambda q: TR.answer(q, CORPUS, TR.passage_scores(q, CORPUS, CB.tokenize), 3, CB.tokenize,
                                             CB.split_sentences)["citations"])
    sets = [set(t) for t in TOKENS]
    overlap_top3 = accuracy(lambda q: _ranking([len(set(CB.tokenize(q)) & s) for s in sets])[:3])
    first_passage = accuracy(lambda q: [0])
    assert reference >= 0.9 > overlap_top3 and first_passage < 0.9
    assert reference == pytest.approx(35 / 36) and overlap_top3 == pytest.approx(32 / 36)
