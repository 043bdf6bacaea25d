"""Hidden tests, part `word2vec`: skip-gram pairs, the noise distribution, the SGNS loss and gradients against
torch autograd, nearest neighbours, and the trained vectors' structure on a generated topic corpus.

The structure test trains the student's train_word2vec on sentences generated here and measures, on the
trusted side, how many of each topic word's 5 nearest neighbours share its topic (reference/m10-sequence-
models/README.md: the reference scores 1.00 on seeds 0-4; random vectors 0.10-0.15; the bar is 0.60).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit_student.testing import hint, kit, part, points, timeout

_SPEC = importlib.util.spec_from_file_location("_m10_trusted", Path(__file__).with_name("trusted.py"))
T = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(T)

PURITY_BAR = 0.60


def _pairs(ids, window):
    return [(ids[i], ids[j]) for i in range(len(ids)) for j in range(max(0, i - window), min(len(ids), i + window + 1))
            if j != i]


@part("word2vec")
@points(3)
@hint("For each position i (left to right) and each j in [i - window, i + window] inside the sentence, j != i, "
      "in increasing j: the pair (ids[i], ids[j]).")
def test_skipgram_pairs_random(submission, rng):
    for _ in range(12):
        ids = rng.integers(0, 50, size=int(rng.integers(2, 15))).tolist()
        window = int(rng.integers(1, 5))
        got = [tuple(int(v) for v in p) for p in submission.skipgram_pairs(ids, window)]
        assert got == _pairs(ids, window)


@part("word2vec")
@points(1)
@hint("Fewer than 2 ids give no pairs; window < 1 raises ValueError.")
def test_skipgram_pairs_edges(submission):
    assert list(submission.skipgram_pairs([4], 3)) == []
    assert list(submission.skipgram_pairs([], 1)) == []
    with pytest.raises(ValueError):
        submission.skipgram_pairs([1, 2, 3], 0)


@part("word2vec")
@points(2)
@hint("probs = counts**power / sum(counts**power), float64; a zero count gets probability 0.")
def test_negative_distribution(submission, rng):
    counts = rng.integers(0, 1000, size=30)
    counts[3] = 0
    for power in (0.75, 1.0, 0.5):
        got = np.asarray(submission.negative_distribution(counts.tolist(), power=power))
        expected = counts.astype(float) ** power / (counts.astype(float) ** power).sum()
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(submission.negative_distribution(counts)),
                               counts ** 0.75 / (counts ** 0.75).sum(), rtol=1e-12)


def _torch_sgns(v, u_pos, u_neg):
    v, u_pos, u_neg = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (v, u_pos, u_neg))
    pos = (u_pos * v).sum(-1)
    neg = torch.einsum("bkd,bd->bk", u_neg, v)
    loss = -(torch.nn.functional.logsigmoid(pos).sum() + torch.nn.functional.logsigmoid(-neg).sum())
    loss.backward()
    return loss.item(), v.grad.numpy(), u_pos.grad.numpy(), u_neg.grad.numpy()


@part("word2vec")
@points(4)
@hint("loss = sum over the batch of -log sigmoid(u_o.v) - sum_k log sigmoid(-u_k.v); dv = -sigmoid(-u_o.v) u_o + "
      "sum_k sigmoid(u_k.v) u_k, du_o = -sigmoid(-u_o.v) v, du_k = sigmoid(u_k.v) v.")
def test_sgns_loss_matches_autograd(submission, rng):
    for B, K, d in ((1, 1, 3), (7, 5, 4), (32, 3, 16)):
        v, u_pos, u_neg = rng.normal(size=(B, d)), rng.normal(size=(B, d)), rng.normal(size=(B, K, d))
        got = submission.sgns_loss(v, u_pos, u_neg)
        expected = _torch_sgns(v, u_pos, u_neg)
        # float64 throughout: agreement to ~1e-15 relative; 1e-9 is generous
        np.testing.assert_allclose(float(got[0]), expected[0], rtol=1e-9)
        for g, e in zip(got[1:], expected[1:]):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-9, atol=1e-12)


@part("word2vec")
@points(1)
@hint("Compute log sigmoid stably (log_sigmoid(x) = -logaddexp(0, -x)): a score of 800 must not give inf or nan.")
def test_sgns_loss_stable_at_extremes(submission):
    v = np.array([[40.0, 0.0], [-40.0, 0.0]])
    u_pos = np.array([[20.0, 0.0], [20.0, 0.0]])            # u.v = +-800
    u_neg = np.array([[[20.0, 0.0]], [[-20.0, 0.0]]])
    got = submission.sgns_loss(v, u_pos, u_neg)
    expected = _torch_sgns(v, u_pos, u_neg)
    np.testing.assert_allclose(float(got[0]), expected[0], rtol=1e-9)
    for g, e in zip(got[1:], expected[1:]):
        assert np.all(np.isfinite(np.asarray(g)))
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-9, atol=1e-12)


@part("word2vec")
@points(2)
@hint("Rank the other words by cosine similarity (not the dot product), highest first; equal similarities by "
      "smaller id; never the word itself.")
def test_nearest_neighbours(submission, rng):
    E = rng.normal(size=(40, 6))
    E[7] = 5 * E[3] + 0.3 * E[8]                             # a near neighbour of 3 with another length
    for word in (3, 0, 39):
        got = [int(i) for i in submission.nearest_neighbours(E, word, 6)]
        unit = E / np.linalg.norm(E, axis=1, keepdims=True)
        sims = unit @ unit[word]
        expected = sorted((i for i in range(40) if i != word), key=lambda i: (-sims[i], i))[:6]
        assert got == expected
    # exact ties (vectors along one axis: cosines exactly 1) go by increasing id
    ties = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [1.0, 1.0]])
    assert [int(i) for i in submission.nearest_neighbours(ties, 1, 4)] == [2, 3, 4, 0]


@part("word2vec")
@points(4)
@timeout(120)
@hint("train_word2vec: pairs of every sentence, unigram^0.75 negatives, W_in uniform in [-0.5/d, 0.5/d), W_out zeros, "
      "shuffled batches, SGD with np.add.at so repeated words sum their gradients. Topic words must end up "
      "nearest to words of their own topic.")
def test_word2vec_learns_topics(submission):
    sentences = T.topic_corpus(2000, seed=7)
    words = sorted({w for s in sentences for w in s})         # the test's own ids: not the student's vocabulary
    index = {w: i for i, w in enumerate(words)}
    ids = [[index[w] for w in s] for s in sentences]
    with kit(submission).deadline(100):
        E = np.asarray(submission.train_word2vec(ids, len(words), seed=3))
    assert E.shape == (len(words), 16)
    assert T.topic_purity(E, words) >= PURITY_BAR


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@part("word2vec")
@points(2)
@hint("train_word2vec: W_in uniform in [-0.5/d, 0.5/d), W_out zeros; every epoch visits each pair exactly once in "
      "batches of batch_size (the last may be smaller); each batch's gradients are computed with the vectors as they "
      "were at the start of the batch and summed per word with np.add.at; W -= lr * gradient; exactly `epochs` epochs.")
def test_word2vec_training_mechanics(submission):
    """Two runs with the same seed and lr = 0 / lr = 0.03 draw the same random numbers whatever their order (lr
    changes no draw), so the lr = 0 run returns the initial W_in of the other. On a corpus made of one word (id 0,
    and an id 1 that never occurs: count 0, never a negative) every pair is (0, 0) and every negative is 0, so
    the order of the pairs and the negatives drawn cannot matter: the SGD steps are replayed here exactly."""
    d, window, K, lr, epochs, batch_size = 4, 2, 3, 0.03, 3, 16
    sentences = [[0] * 5 for _ in range(3)]            # 14 pairs per sentence: 42 per epoch, batches 16, 16, 10
    kwargs = dict(dim=d, window=window, negatives=K, epochs=epochs, batch_size=batch_size, seed=2)
    W0 = np.asarray(submission.train_word2vec(sentences, 2, lr=0.0, **kwargs), dtype=np.float64)
    W1 = np.asarray(submission.train_word2vec(sentences, 2, lr=lr, **kwargs), dtype=np.float64)
    assert W0.shape == W1.shape == (2, d)
    assert np.all((W0 >= -0.5 / d) & (W0 < 0.5 / d))
    n_pairs = sum(len(_pairs(s, window)) for s in sentences)
    v, u = W0[0].copy(), np.zeros(d)
    for _ in range(epochs):
        for start in range(0, n_pairs, batch_size):
            b = min(batch_size, n_pairs - start)        # b identical pairs, each with K negatives equal to word 0
            score = u @ v
            g_pos, g_neg = -_sigmoid(-score), _sigmoid(score)
            v, u = v - lr * b * (g_pos + K * g_neg) * u, u - lr * b * (g_pos + K * g_neg) * v
    # float64, 9 steps of a 4-dimensional recursion: the reference agrees to ~1e-15 relative; one step or one
    # pair more or less, another batch size or a missing update moves W_in by > 2e-3 relative
    np.testing.assert_allclose(W1[0], v, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(W1[1], W0[1])       # a word that never occurs is never updated

    # the initialisation itself, on many words: uniform on [-0.5/d, 0.5/d)
    d = 16
    W = np.asarray(submission.train_word2vec([[0, 1]], 300, dim=d, lr=0.0, epochs=0, seed=4), dtype=np.float64)
    assert W.shape == (300, d) and np.all((W >= -0.5 / d) & (W < 0.5 / d))
    # 4,800 uniform draws: min/max within 1% of the ends, mean within 0.05/d and std within 5% of 1/(d sqrt 12)
    # fail with probability < 1e-9
    assert W.min() < -0.49 / d and W.max() > 0.49 / d and abs(W.mean()) < 0.05 / d
    assert abs(W.std() * d * np.sqrt(12) - 1) < 0.05
