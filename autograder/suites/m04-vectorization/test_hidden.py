"""Hidden tests of m04-vectorization (grader only: never shipped to students).

Oracles (SciPy, NumPy, the grader's own loop) run here, on the trusted side. Speed is a ratio
measured in this run (the grader's loop vs a round-trip call into the student's worker) and
memory is the worker's peak RSS as read by the grader, never numbers the student reports.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes
from scipy.spatial.distance import cdist

from coursekit_student.testing import forbid, hint, kit, operators, part, points

# (not "torch": banning it would import it into every worker, ~10 s and ~200 MB per submission;
# the notebook asks for NumPy only, and the correctness tests compare against NumPy-exact oracles)
BANNED = ("scipy", "sklearn")


def grader_pairwise_loop(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The grader's copy of the notebook's loop baseline (the student may edit theirs)."""
    n, m = X.shape[0], Y.shape[0]
    D = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            D[i, j] = np.sqrt(np.sum((X[i] - Y[j]) ** 2))
    return D


def grader_data_chunks(n_rows: int, n_cols: int, seed: int, chunk_rows: int = 10_000):
    """The grader's copy of the notebook's stream (same numbers for the same arguments)."""
    for index, start in enumerate(range(0, n_rows, chunk_rows)):
        rows = min(chunk_rows, n_rows - start)
        chunk_rng = np.random.default_rng([seed, index])
        drift = 1e8 + 3.0 * np.sin(index / 7.0) + np.arange(n_cols)
        yield drift + chunk_rng.standard_normal((rows, n_cols))


# ------------------------------------------------------------------------------------ pairwise

@part("pairwise")
@points(3)
@hint("pairwise_dist_broadcast must equal sqrt(sum((x_i - y_j)^2)) for every pair: "
      "broadcast X[:, None, :] against Y[None, :, :] and sum over the last axis.")
@forbid(*BANNED)
def test_broadcast_matches_oracle(submission, rng):
    X, Y = rng.normal(size=(40, 7)), rng.normal(size=(30, 7))
    # the same elementwise arithmetic as cdist: only summation order differs (~1e-15 relative)
    np.testing.assert_allclose(submission.pairwise_dist_broadcast(X, Y), cdist(X, Y), rtol=1e-12)
    np.testing.assert_allclose(submission.pairwise_dist_broadcast(X[:1], Y), cdist(X[:1], Y), rtol=1e-12)


@part("pairwise")
@points(3)
@hint("pairwise_dist must match the loop to 1e-10 on random data: ||x||^2 - 2 x.y + ||y||^2, then sqrt; "
      "an empty Y (m = 0 rows) gives an (n, 0) result.")
@forbid(*BANNED)
def test_fast_matches_loop(submission, rng):
    X, Y = rng.normal(size=(60, 16)), rng.normal(size=(50, 16))
    # distances ~5.7; the expansion's rounding is ~1e-14 in d^2, far below the 1e-10
    np.testing.assert_allclose(submission.pairwise_dist(X, Y), grader_pairwise_loop(X, Y), rtol=0, atol=1e-10)
    # m = 0 is a valid (m, d) shape: D is (n, m) = (60, 0), like the loop's (a mean of no rows must not break it)
    assert np.shape(submission.pairwise_dist(X, Y[:0])) == (60, 0)


@part("pairwise")
@points(1)
@hint("Points far from the origin (around 1e5) lose digits in ||x||^2 - 2x.y + ||y||^2: "
      "shift X and Y by a common centre first (distances are shift-invariant).")
@forbid(*BANNED)
def test_far_from_origin(submission, rng):
    # a centre that differs between coordinates: one scalar shift (the mean of all entries) leaves ~1e5
    centre = 1e5 * np.array([1.0, -2.0, 3.0, 0.5, -1.0, 2.0, -3.0, 1.5])
    X, Y = centre + rng.normal(size=(40, 8)), centre + rng.normal(size=(30, 8))
    # after the shift norms are O(d) and the error ~1e-14; without it ||x||^2 ~ 8e10 leaves ~1e-5 of error
    np.testing.assert_allclose(submission.pairwise_dist(X, Y), grader_pairwise_loop(X, Y), rtol=0, atol=1e-8)


@part("pairwise")
@points(1)
@hint("pairwise_dist(X, X) must have a zero diagonal and no nan: rounding can make a squared "
      "distance slightly negative, so clamp at 0 before the square root.")
@forbid(*BANNED)
def test_self_distances_clamped(submission, rng):
    X = rng.normal(size=(200, 20)) * rng.uniform(0.1, 10.0, size=(200, 1))
    D = np.asarray(submission.pairwise_dist(X, X))
    assert not np.isnan(D).any()
    # sqrt of a cancelled d^2 ~1e-13 is ~3e-7: 1e-5 absolute is a safe bound on a clamped diagonal
    np.testing.assert_allclose(np.diag(D), 0.0, atol=1e-5)
    np.testing.assert_allclose(D, D.T, atol=1e-5)


@part("pairwise")
@points(1)
@hint("Both pairwise functions raise ValueError for a 1-D input or different numbers of columns.")
def test_pairwise_bad_shapes(submission):
    for fn in (submission.pairwise_dist_broadcast, submission.pairwise_dist):
        # a valid call first: the shape checks count only once the function works
        np.testing.assert_allclose(fn(np.array([[1.0, 1.0]]), np.array([[4.0, 5.0], [1.0, 1.0]])), [[5.0, 0.0]],
                                   atol=1e-12)
        with pytest.raises(ValueError):
            fn(np.ones((3, 2)), np.ones((3, 3)))
        with pytest.raises(ValueError):
            fn(np.ones(3), np.ones((3, 3)))


@part("pairwise")
@points(4)
@hint("pairwise_dist must be at least 20x faster than pairwise_loop on 300x300 points (d=32) and "
      "match it: no Python loops, one matrix product for the cross term.")
def test_speedup_over_loop(submission, rng, credit, record_metric):
    def best(fn, repeats):
        times = []
        for _ in range(repeats):
            X, Y = rng.normal(size=(300, 32)), rng.normal(size=(300, 32))  # fresh inputs: no caching
            start = time.perf_counter()
            out = fn(X, Y)
            times.append(time.perf_counter() - start)
        return min(times), X, Y, out

    loop_time, *_ = best(grader_pairwise_loop, 2)
    student_time, X, Y, out = best(submission.pairwise_dist, 7)  # round trips ~1 ms: the best of 7
    np.testing.assert_allclose(out, cdist(X, Y), rtol=0, atol=1e-10)
    ratio = loop_time / student_time
    record_metric("pairwise_speedup", ratio, threshold=20.0, higher_is_better=True)
    if ratio >= 20:
        return
    if ratio >= 5:
        credit.award(0.4, f"{ratio:.0f}x faster than the loop; 20x earns full marks")
    pytest.fail(f"pairwise_dist was only {ratio:.1f}x faster than the loop (needs 20x)")


# ------------------------------------------------------------------------------- one_hot_einsum

@part("one_hot_einsum")
@points(2)
@hint("one_hot must work for labels of any shape and return floats: out[..., k] = 1.0 where labels == k.")
@forbid(*BANNED)
def test_one_hot_random(submission, rng):
    labels = rng.integers(0, 7, size=(4, 9))
    labels[0, 0] = 6  # the largest allowed label, num_classes - 1
    out = np.asarray(submission.one_hot(labels, 7))
    np.testing.assert_array_equal(out, np.eye(7)[labels])
    assert out.dtype.kind == "f", f"one_hot returns a float array (the docstring), got {out.dtype}"
    flat = rng.integers(0, 3, size=50)
    np.testing.assert_array_equal(submission.one_hot(flat, 5), np.eye(5)[flat])
    assert np.shape(submission.one_hot(np.array([], dtype=int), 4)) == (0, 4)


@part("one_hot_einsum")
@points(1)
@hint("A label < 0 or >= num_classes (or a non-integer label) must raise ValueError, not give a zero row.")
def test_one_hot_rejects_bad_labels(submission):
    for labels, k in ((np.array([0, 5, 1]), 5), (np.array([-1, 0]), 3), (np.array([0.5, 1.0]), 3)):
        with pytest.raises(ValueError):
            submission.one_hot(labels, k)


@part("one_hot_einsum")
@points(2)
@hint("batched_matmul: C[b] = A[b] @ B[b], written as np.einsum('bij,bjk->bik', A, B).")
@forbid("numpy.matmul", "numpy.dot", "numpy.tensordot", "numpy.linalg", "@", *BANNED)
def test_batched_matmul_random(submission, rng):
    A, B = rng.normal(size=(6, 4, 5)), rng.normal(size=(6, 5, 3))
    # sums of 5 products: the summation order differs from BLAS by ~1e-16 relative
    np.testing.assert_allclose(submission.batched_matmul(A, B), np.matmul(A, B), rtol=1e-12, atol=1e-12)
    A1, B1 = rng.normal(size=(1, 1, 7)), rng.normal(size=(1, 7, 1))
    np.testing.assert_allclose(submission.batched_matmul(A1, B1), np.matmul(A1, B1), rtol=1e-12)


@part("one_hot_einsum")
@points(1)
@hint("batched_matmul raises ValueError when the batch sizes or inner sizes differ, or an input is not 3-D.")
def test_batched_matmul_bad_shapes(submission):
    # the last four have a size-1 batch or inner axis on one side only: np.einsum would broadcast it and
    # return a result, but the docstring says different batch or inner sizes raise ValueError
    for A, B in ((np.ones((2, 3, 4)), np.ones((3, 4, 5))), (np.ones((2, 3, 4)), np.ones((2, 3, 5))),
                 (np.ones((3, 4)), np.ones((4, 5))), (np.ones((2, 3, 4)), np.ones((2, 4))),
                 (np.ones((3, 4)), np.ones((3, 4, 5))),
                 (np.ones((1, 3, 4)), np.ones((2, 4, 5))), (np.ones((2, 3, 4)), np.ones((1, 4, 5))),
                 (np.ones((2, 3, 1)), np.ones((2, 4, 5))), (np.ones((2, 3, 4)), np.ones((2, 1, 5)))):
        with pytest.raises(ValueError):
            submission.batched_matmul(A, B)


@part("one_hot_einsum")
@points(2)
@hint("quadratic_forms: q[b] = sum_ij X[b,i] M[b,i,j] X[b,j] (M is not symmetric: mind the index order).")
@forbid("numpy.matmul", "numpy.dot", "numpy.tensordot", "numpy.linalg", "@", *BANNED)
def test_quadratic_forms_random(submission, rng):
    X, M = rng.normal(size=(8, 5)), rng.normal(size=(8, 5, 5))  # not symmetric on purpose
    expected = np.array([x @ m @ x for x, m in zip(X, M)])
    np.testing.assert_allclose(submission.quadratic_forms(X, M), expected, rtol=1e-10, atol=1e-12)
    # shapes that do not fit, including size-1 axes np.einsum would silently broadcast
    for Xb, Mb in ((X, M[:, :4, :]), (X, M[:1]), (X[:1], M), (X, M[:, :1, :]), (X, M[:, :, :1]), (X[0], M[0])):
        with pytest.raises(ValueError):
            submission.quadratic_forms(Xb, Mb)


# ------------------------------------------------------------------------------------- softmax

@part("softmax")
@points(2)
@hint("softmax and logsumexp must match the textbook definitions on ordinary inputs; logsumexp removes the "
      "reduced axis (a float for 1-D input).")
@forbid(*BANNED)
def test_softmax_random(submission, rng):
    z = rng.normal(scale=3.0, size=(5, 7))
    # both sides compute exp of shifted values: agreement to ~1e-15, 1e-10 leaves a wide margin
    np.testing.assert_allclose(submission.softmax(z), scipy.special.softmax(z, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(submission.logsumexp(z), scipy.special.logsumexp(z, axis=-1), rtol=1e-10)
    v = rng.normal(size=6)
    lse = submission.logsumexp(v)
    np.testing.assert_allclose(lse, scipy.special.logsumexp(v), rtol=1e-10)
    assert np.ndim(lse) == 0, "logsumexp of a 1-D array is a single number (the axis is removed)"
    # only the reduced axis goes: other axes of size 1 stay
    one_row = rng.normal(size=(1, 5))
    np.testing.assert_allclose(submission.logsumexp(one_row), scipy.special.logsumexp(one_row, axis=-1), rtol=1e-10)
    assert np.shape(submission.logsumexp(one_row)) == (1,)
    assert np.shape(submission.logsumexp(one_row.T, axis=0)) == (1,)


@part("softmax")
@points(3)
@hint("Inputs of +-1e4 must give finite, correct results: subtract each row's own maximum "
      "(keepdims=True, along the reduced axis) before exp.")
@forbid(*BANNED)
def test_softmax_extreme_rows(submission, rng):
    z = np.array([[1e4, 1e4 - 1.0, -1e4],
                  [-1e4, -1e4 + 1.0, -1e4 + 2.0],
                  [0.0, 0.0, 0.0]])
    z = np.vstack([z, rng.uniform(-1e4, 1e4, size=(4, 3))])
    p = np.asarray(submission.softmax(z))
    lse = np.asarray(submission.logsumexp(z))
    assert np.isfinite(p).all() and np.isfinite(lse).all()
    # probabilities are O(1): 1e-12 absolute; logsumexp values ~1e4 have float64 spacing ~2e-12
    np.testing.assert_allclose(p, scipy.special.softmax(z, axis=-1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(lse, scipy.special.logsumexp(z, axis=-1), rtol=1e-13)


@part("softmax")
@points(1)
@hint("The axis argument selects which axis sums to one (softmax) or is reduced (logsumexp).")
@forbid(*BANNED)
def test_softmax_axis(submission, rng):
    z = rng.normal(scale=50.0, size=(3, 4, 5))
    z[0] += 5e3  # one slice far above the rest: a max over the wrong axis underflows the others
    for axis in (0, 1):
        np.testing.assert_allclose(submission.softmax(z, axis=axis), scipy.special.softmax(z, axis=axis),
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(submission.logsumexp(z, axis=axis), scipy.special.logsumexp(z, axis=axis),
                                   rtol=1e-12)


@part("softmax")
@points(2)
@hint("log_softmax(z) = z - logsumexp(z): finite even where softmax rounds to 0 (never log(softmax(z))).")
@forbid(*BANNED)
def test_log_softmax_extreme(submission, rng):
    z = np.array([[0.0, -1e4, 5.0], [1e4, -1e4, 0.0]])
    out = np.asarray(submission.log_softmax(z))
    assert np.isfinite(out).all()
    # values reach 2e4, whose float64 spacing is ~4e-12: 1e-9 absolute
    np.testing.assert_allclose(out, scipy.special.log_softmax(z, axis=-1), rtol=0, atol=1e-9)
    w = rng.normal(size=(4, 3))
    np.testing.assert_allclose(submission.log_softmax(w, axis=0), scipy.special.log_softmax(w, axis=0),
                               rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------ batching

@part("batching")
@points(3)
@hint("nearest_neighbours must return the index of the closest row of X for every query, "
      "whatever the batch size (including one that does not divide the number of queries); "
      "batch_size < 1 and shapes that do not fit (1-D arrays, different numbers of columns) raise ValueError.")
@forbid(*BANNED)
def test_nearest_neighbours_matches_oracle(submission, rng):
    Q, X = rng.normal(size=(301, 6)), rng.normal(size=(500, 6))
    expected = cdist(Q, X, "sqeuclidean").argmin(axis=1)
    for batch_size in (1, 64, 1000):
        np.testing.assert_array_equal(submission.nearest_neighbours(Q, X, batch_size=batch_size), expected)
    # m = 1 is allowed (every query's nearest point is point 0)
    np.testing.assert_array_equal(submission.nearest_neighbours(Q[:5], X[:1], batch_size=2), np.zeros(5))
    for bad_batch in (0, -2):
        with pytest.raises(ValueError):
            submission.nearest_neighbours(Q, X, batch_size=bad_batch)
    # shapes that do not fit: 1-D queries or points, different numbers of columns
    for Qb, Xb in ((Q[0], X), (Q, X[0]), (Q, X[:, :5]), (Q[:0], X[:, :5])):
        with pytest.raises(ValueError):
            submission.nearest_neighbours(Qb, Xb, batch_size=64)


@part("batching")
@points(4)
@hint("With batch_size=128, nearest_neighbours on 2000 x 20000 points must stay under 150 MB above its "
      "starting memory: never build the full 2000 x 20000 distance matrix (320 MB).")
def test_nearest_neighbours_peak_memory(submission, rng, record_metric):
    Q, X = rng.normal(size=(2000, 16)), rng.normal(size=(20_000, 16))
    grader = kit(submission)
    grader.reset_peak_memory()
    start = grader.peak_memory_mb()
    idx = submission.nearest_neighbours(Q, X, batch_size=128)
    used = grader.peak_memory_mb() - start
    record_metric("nearest_neighbours_peak_mb", used, threshold=150.0, higher_is_better=False)
    # spot-check correctness on a sample of queries (the full oracle would itself need 320 MB)
    sample = rng.choice(2000, size=100, replace=False)
    np.testing.assert_array_equal(np.asarray(idx)[sample], cdist(Q[sample], X, "sqeuclidean").argmin(axis=1))
    # batched: ~3 blocks of 128 x 20000 float64 (20 MB each) alive at once; the full matrix is 320 MB
    assert used < 150, f"peak memory grew by {used:.0f} MB (limit 150 MB)"


def _expected_stream_stats(n_rows: int, n_cols: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # two passes over the grader's copy: the mean first, then squared deviations from it (stable)
    total = np.zeros(n_cols)
    for chunk in grader_data_chunks(n_rows, n_cols, seed):
        total += chunk.sum(axis=0)
    mean = total / n_rows
    sq = np.zeros(n_cols)
    for chunk in grader_data_chunks(n_rows, n_cols, seed):
        sq += ((chunk - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(sq / n_rows)


@part("batching")
@points(4)
@hint("streaming_stats: merge each chunk's (count, mean, M2) into the running ones with Chan's formula "
      "(including the delta^2 * n_a * n_b / n term); E[x^2] - E[x]^2 loses every digit near 1e8.")
@forbid(*BANNED)
def test_streaming_stats_correct(submission, rng):
    for n_rows, n_cols in ((123_457, 4), (9_999, 2), (1, 3)):
        seed = int(rng.integers(0, 2**31))
        stats = submission.streaming_stats(n_rows, n_cols, seed)
        mean, std = _expected_stream_stats(n_rows, n_cols, seed)
        assert np.asarray(stats["count"]).item() == n_rows
        # the mean ~1e8 is known to ~1e-15 relative; 1e-12 allows any summation order
        np.testing.assert_allclose(stats["mean"], mean, rtol=1e-12)
        # the std (~2.2, or 0 for one row) is stable to ~1e-9 absolute; the naive formula is off by O(1)
        np.testing.assert_allclose(stats["std"], std, rtol=1e-6, atol=1e-6)


@part("batching")
@points(2)
@hint("streaming_stats must not keep the chunks: its peak memory on a 96 MB stream must stay under "
      "40 MB above its starting point.")
def test_streaming_stats_peak_memory(submission, rng, record_metric):
    n_rows, n_cols = 1_500_000, 8  # 96 MB if stored
    seed = int(rng.integers(0, 2**31))
    grader = kit(submission)
    grader.reset_peak_memory()
    start = grader.peak_memory_mb()
    stats = submission.streaming_stats(n_rows, n_cols, seed)
    used = grader.peak_memory_mb() - start
    record_metric("streaming_stats_peak_mb", used, threshold=40.0, higher_is_better=False)
    mean, std = _expected_stream_stats(n_rows, n_cols, seed)
    np.testing.assert_allclose(stats["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(stats["std"], std, rtol=1e-6)
    # one 10000 x 8 chunk is 0.6 MB: a streaming pass needs a few MB; storing the stream needs 96+
    assert used < 40, f"peak memory grew by {used:.0f} MB (limit 40 MB)"


# ----------------------------------------------------------------------------------- profiling

PROGRAM = """
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def crunch():
    total = 0
    for i in range(400_000):
        total += i * i
    return total

def small():
    return sum(range(1000))

def main():
    for _ in range(50):
        small()
    crunch()
    return fib(15)
"""


@part("profiling")
@points(3)
@hint("Sort by tottime (a function's own time), not cumtime, and report the total number of calls "
      "(recursive calls included: stats[key][1]).")
def test_profiling_order_and_calls(submission):
    # crunch's own time is ~200x fib's; a scheduler pause on a loaded machine can still land in the
    # wrong frame once, so the ranking must come out right in one of three runs (cumtime never does)
    for _ in range(3):
        top = submission.top_functions(PROGRAM, "main", 2)
        if [row[0] for row in top] == ["crunch", "fib"]:
            break
    assert [row[0] for row in top] == ["crunch", "fib"], f"got {top}"
    every = submission.top_functions(PROGRAM, "main", 10)
    calls = {row[0]: np.asarray(row[1]).item() for row in every}
    # fib(15) makes 2*F(16) - 1 = 1973 calls in total
    assert calls == {"crunch": 1, "fib": 1973, "small": 50, "main": 1}, f"got {calls}"


@part("profiling")
@points(1)
@hint("Return at most k rows (name, calls, tottime) sorted by tottime, largest first, "
      "for the functions of the profiled source only.")
def test_profiling_rows(submission):
    rows = submission.top_functions(PROGRAM, "main", 10)
    assert len(rows) == 4
    times = [np.asarray(row[2]).item() for row in rows]
    assert all(t >= 0 for t in times) and times == sorted(times, reverse=True)
    assert len(submission.top_functions(PROGRAM, "main", 1)) == 1


# -------------------------------------------------------------------------------------- tensor

@part("tensor")
@points(1)
@hint("broadcast_shape: pad the shorter shape with 1s on the left; sizes must be equal or 1; return a tuple of ints.")
@forbid("numpy.broadcast_shapes", "numpy.broadcast", "numpy.broadcast_to", "numpy.broadcast_arrays", *BANNED)
def test_broadcast_shape_random(submission, rng):
    for _ in range(40):
        a = tuple(int(v) for v in rng.integers(1, 4, size=rng.integers(0, 4)))
        b = list(a[len(a) - int(rng.integers(0, len(a) + 1)):]) if a else []
        b = [1 if rng.random() < 0.3 else v for v in b]
        b = tuple([int(v) for v in rng.integers(1, 3, size=rng.integers(0, 2))] + b)
        if rng.random() < 0.5:
            a, b = b, a
        try:
            expected = np.broadcast_shapes(a, b)
        except ValueError:
            with pytest.raises(ValueError):
                submission.broadcast_shape(a, b)
            continue
        assert tuple(submission.broadcast_shape(a, b)) == expected, (a, b)
    assert tuple(submission.broadcast_shape((), (2, 3))) == (2, 3)
    assert tuple(submission.broadcast_shape((0, 1), (1, 5))) == (0, 5)
    # the docstring's return type: a tuple (a generator or a list is not one)
    shape = submission.broadcast_shape((4, 1), (3,))
    assert isinstance(shape, tuple) and shape == (4, 3), f"broadcast_shape must return a tuple, got {shape!r}"


# Property-based: hypothesis draws shape pairs freely (0-d, size-0 and size-1 axes, up to 5 axes);
# derandomize=True and no example database keep the examples identical on every grading run.
@part("tensor")
@points(1)
@hint("broadcast_shape must agree with NumPy on every pair of shapes: compatible ones (including () and "
      "axes of size 0 or 1) give NumPy's shape, incompatible ones raise ValueError.")
@forbid("numpy.broadcast_shapes", "numpy.broadcast", "numpy.broadcast_to", "numpy.broadcast_arrays", *BANNED)
def test_broadcast_shape_property(submission):
    # @given sits on an inner function: hypothesis probes the first argument of the function it wraps as a
    # possible test-class instance (getattr(..., "execute_example")), which must not be the submission proxy
    @settings(derandomize=True, database=None, max_examples=60, deadline=None, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data):
        if data.draw(st.booleans(), label="compatible"):
            a, b = data.draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=5, min_side=0,
                                                           max_side=4), label="shapes").input_shapes
        else:
            a = data.draw(array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4), label="a")
            b = data.draw(array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4), label="b")
        try:
            expected = np.broadcast_shapes(a, b)
        except ValueError:
            expected = "ValueError"
        # one call site, so that an error of the student's code (NotImplementedError, ...) is reported as
        # itself and not as several "distinct" hypothesis failures
        try:
            got = tuple(submission.broadcast_shape(a, b))
        except ValueError:
            got = "ValueError"
        assert got == expected, (a, b)

    check()


@part("tensor")
@points(1)
@hint("Incompatible shapes, e.g. (3,) and (4,), or (2, 3) and (3, 2), raise ValueError.")
@forbid("numpy.broadcast_shapes", "numpy.broadcast", "numpy.broadcast_to", "numpy.broadcast_arrays", *BANNED)
def test_broadcast_shape_incompatible(submission):
    for a, b in (((3,), (4,)), ((2, 3), (3, 2)), ((5, 1, 4), (2, 3, 1))):
        with pytest.raises(ValueError):
            submission.broadcast_shape(a, b)


@part("tensor")
@points(2)
@hint("Each operator, and its reflected form (2 - t calls t.__rsub__(2) and means 2 - t.data), "
      "must give the same numbers as NumPy, in a new Tensor.")
@operators
def test_tensor_arithmetic_matches_numpy(submission, rng):
    a = rng.uniform(0.5, 2.0, size=(3, 4))
    b = rng.uniform(0.5, 2.0, size=(3, 4))
    t, u = submission.Tensor(a), submission.Tensor(b)
    cases = {
        "t + u": ((t + u), a + b), "t - u": ((t - u), a - b), "t * u": ((t * u), a * b),
        "t / u": ((t / u), a / b), "t ** 2": ((t ** 2), a ** 2), "-t": ((-t), -a),
        "1.5 + t": ((1.5 + t), 1.5 + a), "2 - t": ((2 - t), 2 - a), "3 * t": ((3 * t), 3 * a),
        "2 / t": ((2 / t), 2 / a), "2 ** t": ((2 ** t), 2 ** a), "t - 1": ((t - 1), a - 1),
        "t + array": ((t + b), a + b),
    }
    for label, (got, expected) in cases.items():
        # identical float64 operations on both sides: exact equality up to 1 ulp
        np.testing.assert_allclose(got.data, expected, rtol=1e-15, err_msg=label)
    np.testing.assert_array_equal(t.data, a)  # operands are never modified


@part("tensor")
@points(2)
@hint("Elementwise operators broadcast like NumPy ((3, 1) with (4,) gives (3, 4)) and raise ValueError "
      "for incompatible shapes; an unsupported operand (a str, None, a list) must make Python raise TypeError, "
      "for @ and its reflected form too.")
@operators
def test_tensor_broadcasting_and_errors(submission, rng):
    a, b = rng.normal(size=(3, 1)), rng.normal(size=(4,))
    t, u = submission.Tensor(a), submission.Tensor(b)
    s = t + u
    assert tuple(s.shape) == (3, 4)
    np.testing.assert_allclose(s.data, a + b, rtol=1e-15)
    np.testing.assert_allclose((u * t).data, b * a, rtol=1e-15)
    with pytest.raises(ValueError):
        submission.Tensor(np.ones(3)) + submission.Tensor(np.ones(4))
    with pytest.raises(TypeError):
        t + "abc"
    with pytest.raises(TypeError):
        t * None
    # a list is not a Tensor, a number or an array: NotImplemented, so Python raises TypeError, for @ too
    with pytest.raises(TypeError):
        t + [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(TypeError):
        t @ [[1.0], [2.0]]
    with pytest.raises(TypeError):
        [[1.0, 2.0, 3.0]] @ t


@part("tensor")
@points(1)
@hint("len, indexing, iteration, .T, .sum(axis, keepdims) and @ must behave like the NumPy array inside.")
@operators
def test_tensor_protocols(submission, rng):
    a, m = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    t, tm = submission.Tensor(a), submission.Tensor(m)
    assert len(t) == 4 and tuple(t.shape) == (4, 3)
    np.testing.assert_array_equal(t[1].data, a[1])
    np.testing.assert_array_equal(t[-1].data, a[-1])
    rows = list(t)
    assert len(rows) == 4
    np.testing.assert_array_equal(rows[2].data, a[2])
    np.testing.assert_array_equal(t.T.data, a.T)
    # sums and products of a few float64 numbers: 1e-12 relative covers any summation order
    np.testing.assert_allclose(t.sum().data, a.sum(), rtol=1e-12)
    np.testing.assert_allclose(t.sum(axis=0).data, a.sum(axis=0), rtol=1e-12)
    assert tuple(t.sum(axis=1, keepdims=True).shape) == (4, 1)
    np.testing.assert_allclose((t @ tm).data, a @ m, rtol=1e-12)
    np.testing.assert_allclose((t @ m).data, a @ m, rtol=1e-12)
    # array @ Tensor: NumPy defers to the reflected method (Tensor.__array_ufunc__ = None), which Python
    # calls as t.__rmatmul__(array); the grader makes that call itself, in your worker
    left = rng.normal(size=(2, 4))
    np.testing.assert_allclose(t.__rmatmul__(left).data, left @ a, rtol=1e-12)


# ------------------------------------------------------------------------------------- dataset

@part("dataset")
@points(2)
@hint("ds[i] works for -N <= i < N (negative indices count from the end) and raises IndexError "
      "otherwise; ArrayDataset raises ValueError when X and y have different lengths.")
def test_dataset_indexing(submission, rng):
    X, y = rng.normal(size=(7, 3)), rng.integers(0, 4, size=7)
    ds = submission.ArrayDataset(X, y)
    assert len(ds) == 7
    x_last, y_last = ds[-1]
    np.testing.assert_array_equal(x_last, X[-1])
    assert np.asarray(y_last).item() == y[-1]
    x0, _ = ds[-7]
    np.testing.assert_array_equal(x0, X[0])
    for bad in (7, 100, -8):
        with pytest.raises(IndexError):
            ds[bad]
    with pytest.raises(ValueError):
        submission.ArrayDataset(X, y[:6])


@part("dataset")
@points(1)
@hint("Iterating over a dataset (for x, y in ds) must yield every example once, in order: "
      "Python calls ds[0], ds[1], ... until __getitem__ raises IndexError.")
def test_dataset_iteration(submission, rng):
    X, y = rng.normal(size=(5, 2)), np.arange(5)
    pairs = list(submission.ArrayDataset(X, y))
    assert len(pairs) == 5
    np.testing.assert_array_equal(np.stack([p[0] for p in pairs]), X)
    np.testing.assert_array_equal([np.asarray(p[1]).item() for p in pairs], y)


@part("dataset")
@points(2)
@hint("len(loader) is ceil(N / batch_size), or floor(N / batch_size) with drop_last=True; "
      "batch_size < 1 raises ValueError (1 is fine); each batch is a pair of arrays made with np.stack.")
def test_loader_len_and_batches(submission):
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    ds = submission.ArrayDataset(X, y)
    for batch_size, drop_last, n_batches, last in ((3, False, 4, 1), (3, True, 3, 3), (5, True, 2, 5),
                                                   (20, False, 1, 10), (20, True, 0, None)):
        loader = submission.DataLoader(ds, batch_size, drop_last=drop_last)
        assert len(loader) == n_batches, (batch_size, drop_last)
        batches = list(loader)
        assert len(batches) == n_batches
        if batches:
            assert np.shape(batches[0][0]) == (min(batch_size, 10), 2)
            assert len(batches[-1][1]) == last
    with pytest.raises(ValueError):
        submission.DataLoader(ds, 0)
    # batch_size = 1 is allowed: ten batches of one example, each an array (np.stack of one example)
    single = submission.DataLoader(ds, 1)
    assert len(single) == 10
    batches = list(single)
    assert len(batches) == 10
    for xb, yb in batches:
        assert isinstance(xb, np.ndarray) and isinstance(yb, np.ndarray), "batches are arrays (np.stack)"
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X)


@part("dataset")
@points(3)
@hint("Without shuffle, batches follow the dataset order; with shuffle, epoch e uses "
      "np.random.default_rng(seed + e).permutation(N), a new order on every iteration; "
      "X and y rows must stay paired.")
def test_loader_shuffles_every_epoch(submission, rng):
    n = 23
    seed, other_seed = (int(s) for s in rng.integers(0, 2**31, size=2))  # per-submission, like every hidden input
    X = np.stack([np.arange(n), 10 * np.arange(n)], axis=1).astype(float)
    y = np.arange(n)
    ds = submission.ArrayDataset(X, y)
    plain = list(submission.DataLoader(ds, 4))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in plain]), y)
    loader = submission.DataLoader(ds, 4, shuffle=True, seed=seed)
    for epoch in range(3):
        batches = list(loader)
        order = np.concatenate([b[1] for b in batches])
        np.testing.assert_array_equal(order, np.random.default_rng(seed + epoch).permutation(n))
        xs = np.concatenate([b[0] for b in batches])
        np.testing.assert_array_equal(xs[:, 1], 10 * order)  # rows stay paired with their labels
    dropped = list(submission.DataLoader(ds, 4, shuffle=True, seed=other_seed, drop_last=True))
    order = np.concatenate([b[1] for b in dropped])
    np.testing.assert_array_equal(order, np.random.default_rng(other_seed).permutation(n)[:20])
