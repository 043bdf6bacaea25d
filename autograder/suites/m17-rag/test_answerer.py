"""Hidden tests of m17 parts evaluation and answerer (grader only).

Points per part (public + hidden) add up to course.yaml: evaluation 2+13, answerer 3+17.
Metrics are checked on hand-made cases and against a trusted computation on random rankings; the
answerer against the grader's own implementation of the notebook's rules (trusted_rag.answer), for
support (each cited sentence is in its passage) and for citation accuracy on gold questions only the
grader holds. No @forbid here: the ban's profile hook slows every Python call of the student's
pipeline ~5x, and the shortcut libraries are already banned where they would help (tf-idf, BM25 parts).
"""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from coursekit_student.testing import hint, part, points

HERE = Path(__file__).resolve().parent


def _helper(name):
    # the grader imports suites with --import-mode=importlib: siblings are loaded by path
    spec = importlib.util.spec_from_file_location(f"_m17a_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CB = _helper("corpus_build")
TR = _helper("trusted_rag")
_gold = _helper("gold")
GOLD, OFF_TOPIC = _gold.GOLD, _gold.OFF_TOPIC
CORPUS = CB.load_corpus()


def _scores(question, passages=CORPUS):
    # the grader's float64 BM25: the answerer part never depends on the student's bm25 part
    return TR.passage_scores(question, passages, CB.tokenize)


def _trusted_answer(question, passages, k=3):
    return TR.answer(question, passages, _scores(question, passages), k, CB.tokenize, CB.split_sentences)


# ---------------------------------------------------------------- evaluation

@part("evaluation")
@points(2)
@hint("Hand-made cases: no hit, hit at the last position, k beyond the list (precision still divides by k).")
def test_precision_recall_hand_cases(submission):
    s = submission
    assert s.precision_at_k([1, 2, 3], {9}, 3) == 0.0
    assert s.recall_at_k([1, 2, 3], {3, 4}, 3) == pytest.approx(0.5)
    assert s.recall_at_k([1, 2, 3], {3, 4}, 2) == 0.0
    assert s.precision_at_k([5, 6], {5, 6}, 4) == pytest.approx(0.5)
    assert s.precision_at_k([0, 1, 2, 3, 4], {4, 0}, 5) == pytest.approx(0.4)
    assert s.recall_at_k([0, 1, 2, 3, 4], [4, 0], 10) == pytest.approx(1.0)
    assert s.precision_at_k([1, 2, 3], {2}, 1) == 0.0          # only the first k ids count
    assert s.recall_at_k([1, 2, 3], {1, 5, 6}, 1) == pytest.approx(1 / 3)  # |R| > k: still divided by |R|


@part("evaluation")
@points(2)
@hint("MRR: positions count from 1; a query without a relevant result (or an empty ranking) contributes 0.")
def test_mrr_hand_cases(submission):
    s = submission
    assert s.mean_reciprocal_rank([[4, 5, 6, 7]], [{7}]) == pytest.approx(0.25)
    assert s.mean_reciprocal_rank([[1], [2, 1], []], [{1}, {1, 2}, {3}]) == pytest.approx(2 / 3)
    assert s.mean_reciprocal_rank([[3, 1, 2]], [{1, 2}]) == pytest.approx(0.5)
    # relevant ids in other collections: tuples, lists with repeats
    assert s.mean_reciprocal_rank([[3, 1, 2], [5], [8, 9]], [(1, 2), (7, 5), [9, 9]]) == pytest.approx(
        (0.5 + 1 + 0.5) / 3)


def _trusted_metrics(ranked, relevant, k):
    hits = len(set(ranked[:k]) & set(relevant))
    first = next((i for i, d in enumerate(ranked, start=1) if d in relevant), None)
    return hits / k, hits / len(set(relevant)), (1 / first if first else 0.0)


def _random_cases(rng):
    for _ in range(30):
        ranked = [int(x) for x in rng.permutation(40)[: int(rng.integers(0, 15))]]
        relevant = [int(x) for x in rng.integers(0, 40, size=int(rng.integers(1, 6)))]
        yield ranked, relevant, int(rng.integers(1, 20))


@part("evaluation")
@points(3)
@hint("Random rankings against the definitions (relevant sets may repeat ids; count each id once).")
def test_precision_recall_random(submission, rng):
    for ranked, relevant, k in _random_cases(rng):
        precision, recall, _ = _trusted_metrics(ranked, relevant, k)
        assert submission.precision_at_k(ranked, relevant, k) == pytest.approx(precision, abs=1e-12)
        assert submission.recall_at_k(ranked, relevant, k) == pytest.approx(recall, abs=1e-12)


@part("evaluation")
@points(2)
@hint("MRR of 30 random rankings against the definition.")
def test_mrr_random(submission, rng):
    cases = list(_random_cases(rng))
    expected = np.mean([_trusted_metrics(ranked, relevant, k)[2] for ranked, relevant, k in cases])
    got = submission.mean_reciprocal_rank([c[0] for c in cases], [c[1] for c in cases])
    assert got == pytest.approx(expected, abs=1e-12)


@part("evaluation")
@points(2)
@hint("Raise ValueError for k < 1, repeated ranked ids and an empty relevant set.")
def test_metrics_raise(submission):
    for fn in (submission.precision_at_k, submission.recall_at_k):
        with pytest.raises(ValueError):
            fn([1, 2], {1}, 0)
        with pytest.raises(ValueError):
            fn([1, 2, 1], {1}, 2)
        with pytest.raises(ValueError):
            fn([1, 2], set(), 2)


@part("evaluation")
@points(2)
@hint("MRR raises ValueError for no queries, lists of different lengths, repeated ids or an empty relevant set.")
def test_mrr_raises(submission):
    for rankings, relevants in (([], []), ([[1]], [{1}, {2}]), ([[1, 1]], [{1}]), ([[1]], [set()])):
        with pytest.raises(ValueError):
            submission.mean_reciprocal_rank(rankings, relevants)


# ---------------------------------------------------------------- answerer

_CITED = re.compile(r"(.+?) \[(\d+)\](?: |$)")


def _segments(text):
    """'S1 [3] S2 [7]' -> [('S1', 3), ('S2', 7)]; None when the text does not follow the format."""
    pieces = [(m.group(1), int(m.group(2))) for m in _CITED.finditer(text)]
    rebuilt = " ".join(f"{s} [{i}]" for s, i in pieces)
    return pieces if rebuilt == text else None


@part("answerer")
@points(6)
@hint("Your answers to questions about the course must follow rules 1-4 exactly (ranking, sentence choice, format).")
def test_answer_matches_rules(submission):
    cases = [(question, 3) for question, _ in GOLD[::3]] + [(question, 1) for question, _ in GOLD[1::6]]
    for question, k in cases:
        assert submission.answer(question, CORPUS, _scores(question), k) == _trusted_answer(question, CORPUS, k)


@part("answerer")
@points(3)
@hint("Every sentence of the answer must be copied from the passage it cites, and citations must match the text.")
def test_answer_is_supported(submission):
    by_id = {p["id"]: " ".join(p["text"].split()) for p in CORPUS}
    for question, _ in GOLD[1::3]:
        reply = submission.answer(question, CORPUS, _scores(question), 3)
        pieces = _segments(reply["text"])
        assert pieces, "answer text does not follow 'sentence [id] sentence [id]'"
        assert [i for _, i in pieces] == list(reply["citations"])
        assert len(set(reply["citations"])) == len(reply["citations"])
        for sentence, cited in pieces:
            assert sentence in by_id[cited]


@part("answerer")
@points(4)
@hint("On the grader's questions about the course, your citations must include a right passage often enough.")
def test_answer_citation_accuracy(submission):
    # reference 35/36 (0.97); citing the top 3 of a word-overlap ranking: 32/36 (0.89); 3 random passages: 0.06
    cited_right = [bool(set(submission.answer(q, CORPUS, _scores(q), 3)["citations"]) & set(relevant))
                   for q, relevant in GOLD]
    assert np.mean(cited_right) >= 0.9


@part("answerer")
@points(2)
@hint("Abstain ({'text': '', 'citations': []}) when the question has no tokens or nothing in the passages matches it.")
def test_answer_abstains(submission):
    empty = {"text": "", "citations": []}
    for question in OFF_TOPIC + ["", "... ?"]:
        assert submission.answer(question, CORPUS, _scores(question), 3) == empty
    # the word only appears in a title: the passage matches but no sentence does
    passages = [{"id": 5, "title": "Quokka facts", "text": "Nothing here. Really nothing."},
                {"id": 9, "title": "Other", "text": "Unrelated words only."}]
    assert submission.answer("quokka", passages, _scores("quokka", passages), 3) == empty
    # every score 0 (a retriever that found nothing): abstain even though a sentence shares words
    assert submission.answer("nothing here", passages, [0.0, 0.0], 3) == empty


@part("answerer")
@points(2)
@hint("k limits the passages read (k = 0 abstains; a kept passage without a matching sentence still counts), ids come from the passages given; k < 0 or a wrong number of scores raises ValueError.")
def test_answer_k_and_ids(submission):
    passages = [{"id": 40 + i, "title": p["title"], "text": p["text"]} for i, p in enumerate(CORPUS[76:84])]
    question = "How do queries and keys give attention weights in a transformer?"
    scores = _scores(question, passages)
    assert submission.answer(question, passages, scores, 0) == {"text": "", "citations": []}
    for k in (2, 20):
        reply = submission.answer(question, passages, scores, k)
        assert reply == _trusted_answer(question, passages, k)
        assert set(reply["citations"]) <= {p["id"] for p in passages}
    # rule 2 keeps the first k passages by score; one whose sentences miss the question (rule 3) is skipped but
    # still counts: the next passage is not read in its place
    fixed = [{"id": 7, "title": "Quokka facts", "text": "Nothing here. Really nothing."},
             {"id": 8, "title": "Quokka habitat", "text": "The quokka lives on Rottnest Island."}]
    assert submission.answer("quokka", fixed, [2.0, 1.0], 1) == {"text": "", "citations": []}
    assert submission.answer("quokka", fixed, [2.0, 1.0], 2) == {
        "text": "The quokka lives on Rottnest Island. [8]", "citations": [8]}
    with pytest.raises(ValueError):
        submission.answer(question, passages, scores, -1)
    with pytest.raises(ValueError):
        submission.answer(question, passages, scores[:-1], 2)
