"""Hidden tests, part `evaluation`: win-rate with ties, the bootstrap interval replayed exactly, best-of-n."""

import numpy as np
import pytest

from coursekit_student.testing import hint, part, points


def oracle_win(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.mean((a > b) + 0.5 * (a == b)))


@part("evaluation")
@points(3)
@hint("win_rate: 1 for a > b, 1/2 for a tie, 0 otherwise, averaged over prompts.")
def test_win_rate_random_with_ties(submission, rng):
    for n in (1, 10, 333):
        a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)   # small integers: many ties
        assert np.isclose(float(submission.win_rate(a.tolist(), b.tolist())), oracle_win(a, b), rtol=0, atol=1e-12)
        x, y = rng.normal(size=n), rng.normal(size=n)
        assert np.isclose(float(submission.win_rate(x, y)), oracle_win(x, y), rtol=0, atol=1e-12)


@part("evaluation")
@points(1)
@hint("win_rate and bootstrap_win_rate raise ValueError for different lengths (either one longer), empty inputs, "
      "or inputs that are not 1-D.")
def test_win_rate_raises(submission):
    bad = (([1.0, 2.0], [1.0]), ([1.0], [1.0, 2.0]), ([], []), ([[1.0, 2.0]], [[0.0, 1.0]]),
           ([1.0, 2.0], [[0.0, 1.0]]))
    for a, b in bad:
        with pytest.raises(ValueError):
            submission.win_rate(a, b)
    # bootstrap_win_rate's docstring: "Raises: ValueError: as win_rate" (a b longer than a would otherwise
    # resample without an error)
    for a, b in bad:
        with pytest.raises(ValueError):
            submission.bootstrap_win_rate(a, b, n_boot=20)


@part("evaluation")
@points(4)
@hint("Exactly: rng = np.random.default_rng(seed); idx = rng.integers(0, n, size=(n_boot, n)); the win-rate of "
      "each row (pairs resampled together); np.quantile at (1 - level)/2 and (1 + level)/2.")
def test_bootstrap_win_rate_exact(submission, rng):
    for n, n_boot, seed, level in ((40, 500, 3, 0.95), (7, 2000, 11, 0.8), (100, 1000, 0, 0.9)):
        a, b = rng.normal(size=n).round(1), rng.normal(size=n).round(1)
        low, high = submission.bootstrap_win_rate(a, b, n_boot=n_boot, seed=seed, level=level)
        g = np.random.default_rng(seed)
        idx = g.integers(0, n, size=(n_boot, n))
        stats = ((a[idx] > b[idx]) + 0.5 * (a[idx] == b[idx])).mean(axis=1)
        expected = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
        np.testing.assert_allclose([float(low), float(high)], expected, rtol=0, atol=1e-12)
    a = rng.normal(size=30)
    low, high = submission.bootstrap_win_rate(a, a - 1.0)   # defaults; a always wins
    assert float(low) == 1.0 and float(high) == 1.0
    # lists, as win_rate takes (the docstring: "as win_rate's, 1-D array-likes"): the same interval
    a, b = rng.integers(0, 3, 25), rng.integers(0, 3, 25)
    idx = np.random.default_rng(5).integers(0, 25, size=(300, 25))
    stats = ((a[idx] > b[idx]) + 0.5 * (a[idx] == b[idx])).mean(axis=1)
    low, high = submission.bootstrap_win_rate(a.tolist(), b.tolist(), n_boot=300, seed=5, level=0.9)
    np.testing.assert_allclose([float(low), float(high)], np.quantile(stats, [0.05, 0.95]), rtol=0, atol=1e-12)


@part("evaluation")
@points(4)
@hint("best_of_n: among the first n candidates of each prompt pick the largest proxy score (the first on a tie) "
      "and average the TRUE score of the picks.")
def test_best_of_n(submission, rng):
    for m, k in ((1, 1), (20, 8), (50, 16)):
        proxy = rng.integers(0, 5, size=(m, k)).astype(float)   # ties: the first index wins
        true = rng.normal(size=(m, k))
        for n in sorted({1, (k + 1) // 2, k}):
            pick = np.argmax(proxy[:, :n], axis=1)
            expected = true[np.arange(m), pick].mean()
            assert np.isclose(float(submission.best_of_n(proxy, true, n)), expected, rtol=0, atol=1e-12)
    # nested lists (the docstring's "array-likes"): the second candidate wins the first prompt, a tie the second
    assert np.isclose(float(submission.best_of_n([[1, 3, 2], [5, 5, 0]], [[0.1, 0.7, 0.2], [0.4, 0.9, 0.6]], 3)),
                      (0.7 + 0.4) / 2, rtol=0, atol=1e-12)


@part("evaluation")
@points(1)
@hint("best_of_n raises ValueError when the shapes differ, the arrays are not 2-D, or n is not in 1..k.")
def test_best_of_n_raises(submission):
    proxy = np.zeros((3, 4))
    for args in ((proxy, np.zeros((3, 5)), 2), (proxy, proxy, 0), (proxy, proxy, 5), (np.zeros(4), np.zeros(4), 1)):
        with pytest.raises(ValueError):
            submission.best_of_n(*args)
