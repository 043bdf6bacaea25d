"""Public tests of m04-vectorization: shapes and small worked examples (the grader adds hidden tests)."""

import numpy as np

from coursekit_student.testing import forbid, hint, operators, part, points

# What the grader switches off inside your functions (see the notebook): write them with NumPy.
LIBRARIES = ("scipy", "sklearn")
EINSUM_ONLY = ("numpy.matmul", "numpy.dot", "numpy.tensordot", "numpy.linalg", "@")
BROADCAST_HELPERS = ("numpy.broadcast_shapes", "numpy.broadcast", "numpy.broadcast_to", "numpy.broadcast_arrays")


@part("pairwise")
@points(2)
@hint("For X=[[0,0],[3,4]], Y=[[0,0],[0,4]] the distances are [[0,4],[5,3]]: check the axes of your broadcast.")
@forbid(*LIBRARIES)
def test_pairwise_worked_example(submission):
    X = np.array([[0.0, 0.0], [3.0, 4.0]])
    Y = np.array([[0.0, 0.0], [0.0, 4.0]])
    expected = np.array([[0.0, 4.0], [5.0, 3.0]])
    for fn in (submission.pairwise_dist_broadcast, submission.pairwise_dist):
        D = fn(X, Y)
        assert np.shape(D) == (2, 2), f"expected shape (2, 2), got {np.shape(D)}"
        # exact up to the rounding of a handful of float64 operations
        np.testing.assert_allclose(D, expected, atol=1e-12)


@part("one_hot_einsum")
@points(2)
@hint("one_hot([2, 0], 3) is [[0,0,1],[1,0,0]]; batched_matmul of (b,n,k) and (b,k,m) is (b,n,m).")
@forbid(*LIBRARIES, *EINSUM_ONLY)
def test_one_hot_and_batched_matmul_shapes(submission):
    np.testing.assert_array_equal(submission.one_hot(np.array([2, 0]), 3), [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    A = np.arange(24.0).reshape(2, 3, 4)
    B = np.ones((2, 4, 5))
    C = submission.batched_matmul(A, B)
    assert np.shape(C) == (2, 3, 5), f"expected (2, 3, 5), got {np.shape(C)}"
    # row sums of A: integers, exact in float64
    np.testing.assert_allclose(C[:, :, 0], A.sum(axis=2))
    q = submission.quadratic_forms(np.array([[1.0, 2.0]]), np.array([[[1.0, 0.0], [0.0, 3.0]]]))
    np.testing.assert_allclose(q, [13.0])  # 1*1*1 + 2*3*2


@part("softmax")
@points(2)
@hint("Subtract the maximum along the axis before exp.")
@forbid(*LIBRARIES)
def test_softmax_worked_example(submission):
    z = np.array([1.0, 2.0, 3.0])
    expected = np.exp(z) / np.exp(z).sum()  # safe here: small inputs
    np.testing.assert_allclose(submission.softmax(z), expected, rtol=1e-12)
    np.testing.assert_allclose(submission.logsumexp(z), np.log(np.exp(z).sum()), rtol=1e-12)
    big = submission.softmax(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(big, [0.5, 0.5], rtol=1e-12)


@part("batching")
@points(2)
@hint("nearest_neighbours returns indices into X; streaming_stats returns count, mean and std per column.")
@forbid(*LIBRARIES)
def test_batching_small(submission):
    Q = np.array([[0.0, 0.0], [10.0, 10.0], [4.0, 0.0]])
    X = np.array([[9.0, 9.0], [1.0, 0.0], [5.0, 1.0]])
    for batch in (1, 2, 10):
        np.testing.assert_array_equal(submission.nearest_neighbours(Q, X, batch_size=batch), [1, 0, 2])
    stats = submission.streaming_stats(25_000, 3, 0)
    data = np.concatenate(list(submission.data_chunks(25_000, 3, 0)))  # small: fine to hold here
    assert stats["count"] == 25_000
    # float64 sums of 25k values near 1e8: agreement to 1e-9 relative for the mean, 1e-6 for the std
    np.testing.assert_allclose(stats["mean"], data.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats["std"], (data - data.mean(axis=0)).std(axis=0), rtol=1e-6)


@part("profiling")
@points(1)
@hint("Keep only entries whose file name is '<profiled>' and sort them by tottime.")
def test_profiling_finds_the_slow_function(submission):
    source = (
        "def slow():\n    s = 0\n    for i in range(300_000):\n        s += i\n    return s\n"
        "def fast():\n    return 1\n"
        "def main():\n    fast()\n    return slow()\n"
    )
    top = submission.top_functions(source, "main", 3)
    assert top[0][0] == "slow", f"expected 'slow' first, got {top}"
    assert {row[0] for row in top} == {"slow", "fast", "main"}


@part("tensor")
@points(2)
@hint("Pad the shorter shape with 1s on the left, then compare axis by axis.")
@forbid(*LIBRARIES, *BROADCAST_HELPERS)
@operators
def test_tensor_worked_example(submission):
    assert tuple(submission.broadcast_shape((8, 1, 6, 1), (7, 1, 5))) == (8, 7, 6, 5)
    t = submission.Tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((t + 1).data, [[2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_array_equal((10 - t).data, [[9.0, 8.0], [7.0, 6.0]])


@part("dataset")
@points(2)
@hint("len(ds) is the number of examples; ds[i] returns the pair (X[i], y[i]).")
def test_dataset_worked_example(submission):
    X = np.arange(10.0).reshape(5, 2)
    y = np.array([0, 1, 0, 1, 1])
    ds = submission.ArrayDataset(X, y)
    assert len(ds) == 5
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3, [6.0, 7.0])
    assert np.asarray(y3).item() == 1
    loader = submission.DataLoader(ds, batch_size=2)
    assert len(loader) == 3
    sizes = [len(yb) for _, yb in loader]
    assert sizes == [2, 2, 1], f"expected batch sizes [2, 2, 1], got {sizes}"
