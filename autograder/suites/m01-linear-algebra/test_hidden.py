"""Hidden tests for milestone 1: random shapes against NumPy, edge cases, from-scratch bans.

Points per part (public + hidden) must add up to course.yaml:
matmul 3+7 (one hypothesis property test), solve 3+7, det_inv 2+8, power_iteration 2+8, pca 3+12, svd_compression 2+8.
Every promise of a docstring (Raises, boundaries such as k = d or n = 2, dtypes, the seed, the
relative singular/warning thresholds, the choice of pivot) has a test here.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coursekit_student.testing import forbid, hint, part, points

# The from-scratch parts run with the library shortcuts switched off inside the student's code.
SCRATCH = ("numpy.linalg", "numpy.dot", "numpy.matmul", "numpy.einsum", "numpy.tensordot", "numpy.inner", "@")


def hilbert(n: int) -> np.ndarray:
    return 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1)


def well_conditioned(rng: np.random.Generator, n: int) -> np.ndarray:
    # A diagonal shift keeps kappa small (< ~100), so 1e-9 relative tolerances are generous.
    return rng.normal(size=(n, n)) + n * np.eye(n) * rng.choice([-1, 1])


# ------------------------------------------------------------------ matmul (7)
@part("matmul")
@points(3)
@hint("Check every shape combination, including 1x1, a single row times a single column, and non-square.")
@forbid(*SCRATCH)
def test_matmul_random_shapes(submission, rng, credit):
    shapes = [(1, 1, 1), (1, 5, 1), (5, 1, 4), (3, 7, 2), (6, 6, 6), (2, 3, 9)]
    ok = 0
    for n, k, m in shapes:
        A, B = rng.normal(size=(n, k)), rng.normal(size=(k, m))
        C = np.asarray(submission.matmul(A, B))
        # float64 sums of <= 7 products of O(1) numbers: 1e-12 absolute is ~1e4 ulps of slack.
        ok += C.shape == (n, m) and np.allclose(C, A @ B, rtol=1e-10, atol=1e-12)
    credit.award(ok / len(shapes), f"{ok}/{len(shapes)} shapes right")
    assert ok == len(shapes)


# Property-based: hypothesis draws shapes (1..6 per side) and entries (ints, or floats over 12 orders of
# magnitude of either sign); derandomized, no example database.
@part("matmul")
@points(1)
@hint("matmul(A, B) must equal A @ B for any (n, k) and (k, m) arrays, integer or float entries of any size.")
@forbid(*SCRATCH)
def test_matmul_property(submission):
    # @given on an inner function: hypothesis must not probe the submission proxy (docs/AUTHORING.md)
    @settings(derandomize=True, database=None, max_examples=40, deadline=None, report_multiple_bugs=False)
    @given(data=st.data())
    def check(data):
        n, k, m = (data.draw(st.integers(1, 6), label=name) for name in "nkm")
        if data.draw(st.booleans(), label="ints"):
            elements = st.integers(-1000, 1000)
            A = data.draw(arrays(np.int64, (n, k), elements=elements), label="A")
            B = data.draw(arrays(np.int64, (k, m), elements=elements), label="B")
        else:
            elements = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
            A = data.draw(arrays(np.float64, (n, k), elements=elements), label="A")
            B = data.draw(arrays(np.float64, (k, m), elements=elements), label="B")
        expected = A.astype(float) @ B.astype(float)
        # <= 6 products of magnitude <= 1e12 each: float64 sums carry ~1e-3 absolute rounding at most
        scale = max(1.0, float(np.abs(A).max()) * float(np.abs(B).max()) * k)
        np.testing.assert_allclose(np.asarray(submission.matmul(A, B)), expected, rtol=1e-12, atol=1e-13 * scale)

    check()


@part("matmul")
@points(1)
@hint("Integer inputs (and nested lists) give the exact product as a float array.")
@forbid(*SCRATCH)
def test_matmul_integers_and_lists(submission):
    A = [[1, 2], [3, 4], [5, 6]]
    B = [[7, 8, 9], [10, 11, 12]]
    C = np.asarray(submission.matmul(A, B))
    np.testing.assert_allclose(C, np.array(A) @ np.array(B))
    assert C.dtype.kind == "f", f"matmul returns a float array (the docstring), got {C.dtype}"


@part("matmul")
@points(1)
@hint("Raise ValueError when A.shape[1] != B.shape[0] or either input is not 2-D, instead of broadcasting "
      "(also when one of the inner dimensions is 1, where NumPy would broadcast silently).")
@forbid(*SCRATCH)
def test_matmul_rejects_bad_shapes(submission, rng):
    with pytest.raises(ValueError):
        submission.matmul(rng.normal(size=(2, 3)), rng.normal(size=(2, 3)))
    # an inner dimension of 1 on either side broadcasts in `A[i, :] * B[:, j]`: the check must come first
    with pytest.raises(ValueError):
        submission.matmul(rng.normal(size=(2, 1)), rng.normal(size=(3, 2)))
    with pytest.raises(ValueError):
        submission.matmul(rng.normal(size=(2, 3)), rng.normal(size=(1, 2)))
    with pytest.raises(ValueError):
        submission.matmul(rng.normal(size=3), rng.normal(size=(3, 2)))
    with pytest.raises(ValueError):
        submission.matmul(rng.normal(size=(2, 3)), rng.normal(size=3))  # B must be 2-D too


@part("matmul")
@points(1)
@hint("transpose must work for non-square and 1xN arrays, and for nested lists (array-like), and satisfy "
      "(AB)^T = B^T A^T; a non-2-D input raises ValueError.")
@forbid(*SCRATCH, "numpy.transpose", "numpy.swapaxes")
def test_transpose_random(submission, rng):
    for shape in [(1, 1), (1, 6), (5, 2), (4, 4)]:
        A = rng.normal(size=shape)
        T = np.asarray(submission.transpose(A))
        assert T.shape == shape[::-1]
        np.testing.assert_array_equal(T, A.T)
    nested = [[1, 2.5, 3], [4, 5, -6]]  # array-like: nested lists
    np.testing.assert_array_equal(np.asarray(submission.transpose(nested)), np.array(nested).T)
    with pytest.raises(ValueError):
        submission.transpose(rng.normal(size=4))


# ------------------------------------------------------------------ solve (7)
@part("solve")
@points(1)
@hint("Check random systems of every size from 1x1 up, with pivoting on.")
@forbid(*SCRATCH)
def test_solve_random(submission, rng, credit):
    sizes = [1, 2, 3, 5, 8, 12]
    ok = 0
    for n in sizes:
        A, b = well_conditioned(rng, n), rng.normal(size=n)
        x = np.asarray(submission.solve(A, b))
        # kappa(A) < ~100 and float64: 1e-9 relative error leaves 4+ orders of margin.
        ok += x.shape == (n,) and np.allclose(x, np.linalg.solve(A, b), rtol=1e-9, atol=1e-12)
    credit.award(ok / len(sizes), f"{ok}/{len(sizes)} sizes right")
    assert ok == len(sizes)


@part("solve")
@points(1)
@hint("A and b are array-likes: integer arrays and nested lists must give the same float solution as floats "
      "(convert them to float copies before eliminating in place).")
@forbid(*SCRATCH)
def test_solve_integer_and_list_inputs(submission):
    A = np.array([[2, 1, 1], [4, -6, 0], [-2, 7, 2]])
    b = np.array([5, -2, 9])
    expected = np.linalg.solve(A.astype(float), b.astype(float))  # (1, 1, 2)
    for args in ((A, b), (A.tolist(), b.tolist()), (A, b[:, None])):
        x = np.asarray(submission.solve(*args))
        assert x.dtype.kind == "f"
        # kappa(A) ~ 10 in float64: 1e-12 relative
        np.testing.assert_allclose(x.reshape(-1), expected, rtol=1e-12)


@part("solve")
@points(1)
@hint("Partial pivoting: without a row swap, a tiny pivot like 1e-17 destroys the answer.")
@forbid(*SCRATCH)
def test_solve_tiny_pivot(submission):
    # Without pivoting the multiplier is 1e17 and x comes out as (0, 1) instead of (1, 1).
    A = np.array([[1e-17, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(submission.solve(A, np.array([1.0, 2.0])), [1.0, 1.0], rtol=1e-12)


@part("solve")
@points(1)
@hint("A matrix right-hand side (n, k) means k systems: apply the same row operations to every column.")
@forbid(*SCRATCH)
def test_solve_matrix_rhs(submission, rng):
    A, B = well_conditioned(rng, 5), rng.normal(size=(5, 3))
    X = np.asarray(submission.solve(A, B))
    assert X.shape == (5, 3)
    np.testing.assert_allclose(X, np.linalg.solve(A, B), rtol=1e-9, atol=1e-12)


@part("solve")
@points(1)
@hint("Singular matrices (a pivot below 1e-12 * max|A|, with max|A| the largest ABSOLUTE entry; the zero "
      "matrix too) must raise ValueError; so must a non-square A (wide, tall or 1-D) or a b without n rows "
      "(too few or too many).")
@forbid(*SCRATCH)
def test_solve_singular_raises(submission, rng):
    for A in (np.array([[1.0, 2.0], [2.0, 4.0]]), -np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((2, 2))):
        with pytest.raises(ValueError):
            submission.solve(A, np.array([1.0, 2.0]))
    u = rng.normal(size=4)
    with pytest.raises(ValueError):
        submission.solve(np.outer(u, rng.normal(size=4)), rng.normal(size=4))  # rank 1
    for shape in ((3, 4), (2, 3), (4, 3), (3,)):   # not square, including 1-D
        with pytest.raises(ValueError):
            submission.solve(rng.normal(size=shape), rng.normal(size=shape[0]))
    for n, b_shape in ((3, (4,)), (3, (2,)), (1, (2,)), (3, (4, 2)), (3, (2, 2))):   # b needs exactly n rows
        with pytest.raises(ValueError):
            submission.solve(well_conditioned(rng, n), rng.normal(size=b_shape))


@part("solve")
@points(1)
@hint("An ill-conditioned matrix (a pivot below 1e-8 * max|A|) must give a RuntimeWarning but still return x.")
@forbid(*SCRATCH)
def test_solve_ill_conditioned_warns(submission, rng):
    # Hilbert(8): kappa ~1.5e10, smallest pivot ~1.2e-9 * max|A| (between the two thresholds).
    H = hilbert(8)
    b = H @ np.ones(8)
    # catch_warnings (not pytest.warns) so that an unimplemented solve fails with its own error.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = np.asarray(submission.solve(H, b))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    # The residual stays small even when x itself is inaccurate (backward stability).
    assert np.abs(H @ x - b).max() < 1e-8
    # max|A| is the largest ABSOLUTE entry: -H (all entries negative) warns just the same
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        submission.solve(-H, -b)
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a well-conditioned system must not warn
        submission.solve(well_conditioned(rng, 4), rng.normal(size=4))
    # The thresholds are strict (< in the docstring). A diagonal matrix is not changed by elimination, so its
    # pivots are exactly its diagonal: a pivot of exactly 1e-12 * max|A| is not singular (it warns), and one
    # of exactly 1e-8 * max|A| does not warn.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = np.asarray(submission.solve(np.diag([1.0, 1e-12]), np.array([1.0, 1e-12])))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    np.testing.assert_allclose(x, [1.0, 1.0], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x = np.asarray(submission.solve(np.diag([1.0, 1e-8]), np.array([2.0, 1e-8])))
    np.testing.assert_allclose(x, [2.0, 1.0], rtol=1e-12)


@part("solve")
@points(1)
@hint("Pivot on the LARGEST |A[p, j]| at or below row j (absolute value, even when the current pivot is "
      "non-zero and above the thresholds); the thresholds are relative to max|A|, so scaling A changes nothing.")
@forbid(*SCRATCH)
def test_solve_pivot_choice_and_scale(submission, rng):
    # Leading pivots of 1e-10 are non-zero and above both thresholds, so "swap only when zero / when
    # below the threshold" keeps them: multipliers of 1e10 cost ~6 digits and trigger the warning.
    # The second matrix catches a pivot chosen by the largest signed value (1e-10 > -1).
    for A in (np.array([[1e-10, 1.0], [1.0, 1.0]]), np.array([[1e-10, 1.0], [-1.0, 1.0]]),
              np.array([[1e-10, 2.0, 1.0], [1e-9, 1.0, 3.0], [-4.0, 1.0, 1.0]])):
        b = A @ np.ones(len(A))
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # with pivoting every pivot is O(1): no warning
            x = np.asarray(submission.solve(A, b))
        np.testing.assert_allclose(x, np.ones(len(A)), rtol=1e-12)
    # a well-conditioned system scaled by 1e-14: its pivots (~1e-14) are tiny in absolute terms only
    A, b = well_conditioned(rng, 4), rng.normal(size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x = np.asarray(submission.solve(1e-14 * A, b))
    np.testing.assert_allclose(x, np.linalg.solve(1e-14 * A, b), rtol=1e-9)


# ------------------------------------------------------------------ det_inv (8)
@part("det_inv")
@points(3)
@hint("det: the sign flips with every row swap; check 1x1, permutation matrices and negative determinants.")
@forbid(*SCRATCH)
def test_det_random(submission, rng, credit):
    # [[0, 1], [-1, 0]]: the pivot is the largest |entry| (-1), not the largest signed one (0, singular)
    mats = [np.array([[-3.5]]), np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [-1.0, 0.0]]),
            np.eye(4)[[2, 0, 3, 1]]]
    mats += [rng.normal(size=(n, n)) for n in (2, 3, 5, 7)]
    ok = 0
    for A in mats:
        # product of n pivots each with ~1e-15 relative error: 1e-9 relative is generous.
        ok += np.isclose(submission.det(A), np.linalg.det(A), rtol=1e-9, atol=1e-12)
    credit.award(ok / len(mats), f"{ok}/{len(mats)} determinants right")
    assert ok == len(mats)


@part("det_inv")
@points(1)
@hint("A singular matrix (a pivot below 1e-12 * max|A|, relative, with max|A| the largest ABSOLUTE entry; "
      "check every column's pivot, the last one too) has determinant exactly 0.0 (return it, do not raise); a "
      "pivot of exactly 1e-12 * max|A| is not singular; a non-square matrix raises ValueError.")
@forbid(*SCRATCH)
def test_det_singular_and_bad_shape(submission, rng):
    u = rng.normal(size=5)
    assert submission.det(np.outer(u, rng.normal(size=5))) == 0.0
    assert submission.det(np.zeros((3, 3))) == 0.0
    assert submission.det(-np.ones((3, 3))) == 0.0
    # only the LAST pivot (1e-13, exactly, as elimination leaves a diagonal matrix unchanged) is below the threshold
    assert submission.det(np.diag([1.0, 1.0, 1e-13])) == 0.0
    # the threshold is strict: a pivot of exactly 1e-12 * max|A| (= 1e-12 * 1.0, no rounding) is not singular
    assert submission.det(np.diag([1.0, 1e-12])) == pytest.approx(1e-12, rel=1e-12, abs=0)
    # the singular threshold is relative to max|A|: a tiny but well-conditioned matrix is not singular
    assert submission.det(1e-13 * np.eye(3)) == pytest.approx(1e-39, rel=1e-12, abs=0)
    assert submission.det(-1e-13 * np.eye(3)) == pytest.approx(-1e-39, rel=1e-12, abs=0)
    with pytest.raises(ValueError):
        submission.det(rng.normal(size=(2, 3)))


@part("det_inv")
@points(3)
@hint("Gauss-Jordan: pivot on the largest |entry| of the column, normalise the pivot row and eliminate the "
      "pivot column from every other row, above and below.")
@forbid(*SCRATCH)
def test_inverse_random(submission, rng, credit):
    # tiny but non-zero leading pivots (1e-10, condition numbers < 3): without the swap to the largest
    # |pivot| the inverse loses ~6 digits (relative error ~1e-6); with it, ~1e-16
    # [[0, 1], [-1, 0]]: the largest |entry| (-1), not the largest signed one (0), is the pivot.
    # The relative thresholds: 1e-13 * I is tiny but not singular; diag(1, 1e-12) has a pivot of exactly
    # 1e-12 * max|A|, which the strict < keeps.
    mats = [np.array([[4.0]]), np.array([[0.0, 2.0], [3.0, 0.0]]), np.array([[1e-10, 1.0], [1.0, 0.3]]),
            np.array([[1e-10, 3.0, 1.0], [2.0, 1.0, 3.0], [-4.0, 1.0, 1.0]]), np.array([[0.0, 1.0], [-1.0, 0.0]]),
            1e-13 * np.eye(3), np.diag([1.0, 1e-12])]
    mats += [well_conditioned(rng, n) for n in (3, 6, 9)]
    ok = 0
    for A in mats:
        X = np.asarray(submission.inverse(A))
        ok += X.shape == A.shape and np.allclose(X, np.linalg.inv(A), rtol=1e-9, atol=1e-12)
    credit.award(ok / len(mats), f"{ok}/{len(mats)} inverses right")
    assert ok == len(mats)
    # array-like input: nested lists of ints
    np.testing.assert_allclose(np.asarray(submission.inverse([[2, 1], [1, 1]])), [[1.0, -1.0], [-1.0, 2.0]],
                               rtol=1e-12)


@part("det_inv")
@points(1)
@hint("inverse must raise ValueError for singular or non-square matrices; the threshold is 1e-12 times the "
      "largest ABSOLUTE entry of A.")
@forbid(*SCRATCH)
def test_inverse_singular_raises(submission, rng):
    # singular, all entries negative, and a pivot 1e-13 * max|A| on a matrix with max|A| = 1000
    for A in (np.array([[1.0, 2.0], [3.0, 6.0]]), -np.array([[1.0, 2.0], [3.0, 6.0]]), np.diag([1e3, 1e-10])):
        with pytest.raises(ValueError):
            submission.inverse(A)
    with pytest.raises(ValueError):
        submission.inverse(rng.normal(size=(3, 2)))


# ------------------------------------------------------------------ power_iteration (8)
def random_symmetric(rng: np.random.Generator, eigenvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return (Q * eigenvalues) @ Q.T, Q


@part("power_iteration")
@points(2)
@hint("Compare your eigenpair with np.linalg.eigh on random symmetric matrices (eigenvectors up to sign).")
@forbid("numpy.linalg")
def test_power_iteration_random_symmetric(submission, rng, credit):
    ok = 0
    for n in (2, 5, 10, 20):
        A = rng.normal(size=(n, n))
        A = A @ A.T + np.eye(n)
        w, V = np.linalg.eigh(A)
        value, vector = submission.power_iteration(A, num_iters=5000, tol=1e-12, seed=1)
        vector = np.asarray(vector)
        # Random Wishart spectra have gaps |l2/l1| <~ 0.8, so 5000 steps converge to ~1e-12;
        # 1e-6 on the vector (sign-free) and 1e-8 relative on the eigenvalue are loose.
        ok += (np.isclose(value, w[-1], rtol=1e-8) and np.isclose(np.sqrt(vector @ vector), 1.0, atol=1e-10)
               and abs(abs(vector @ V[:, -1]) - 1) < 1e-6)
    credit.award(ok / 4, f"{ok}/4 matrices right")
    assert ok == 4


@part("power_iteration")
@points(2)
@hint("The eigenvalue keeps its sign: use the Rayleigh quotient x^T A x, not ||A x||.")
@forbid("numpy.linalg")
def test_power_iteration_negative_dominant(submission, rng):
    A, Q = random_symmetric(rng, np.array([-6.0, 3.0, 1.0, 0.5]))
    value, vector = submission.power_iteration(A, num_iters=2000, tol=1e-12, seed=3)
    assert value == pytest.approx(-6.0, rel=1e-8)
    assert abs(abs(np.asarray(vector) @ Q[:, 0]) - 1) < 1e-6


@part("power_iteration")
@points(1)
@hint("Works for a non-symmetric matrix with a real dominant eigenvalue, and for 1x1.")
@forbid("numpy.linalg")
def test_power_iteration_nonsymmetric_and_1x1(submission, rng):
    A = np.array([[2.0, 1.0], [0.0, 0.5]])  # eigenvalues 2 and 0.5; top eigenvector (1, 0)
    value, vector = submission.power_iteration(A, num_iters=500, tol=1e-12, seed=0)
    assert value == pytest.approx(2.0, rel=1e-8)
    np.testing.assert_allclose(np.abs(vector), [1.0, 0.0], atol=1e-6)
    value, vector = submission.power_iteration(np.array([[-4.0]]))
    assert value == pytest.approx(-4.0)
    np.testing.assert_allclose(np.abs(vector), [1.0])


@part("power_iteration")
@points(1)
@hint("Stop after num_iters steps even if not converged, start from np.random.default_rng(seed) (the seed "
      "decides the result), accept nested lists (array-like), stop when A x is exactly 0 (A = 0) with a unit "
      "vector and eigenvalue 0.0, and reject non-square input (1-D, 3-D, non-square 2-D) with ValueError.")
@forbid("numpy.linalg")
def test_power_iteration_budget_and_errors(submission, rng):
    # With |l2/l1| = 0.999 and 3 steps, the vector cannot be converged: a solver that ignores
    # num_iters would return the converged eigenvector.
    A, Q = random_symmetric(rng, np.array([1.0, 0.999, 0.1]))
    _, vector = submission.power_iteration(A, num_iters=3, tol=0.0, seed=0)
    assert abs(abs(np.asarray(vector) @ Q[:, 0]) - 1) > 1e-4
    # the start vector comes from np.random.default_rng(seed): same seed, same result; another seed,
    # another (unconverged) vector
    again = np.asarray(submission.power_iteration(A, num_iters=3, tol=0.0, seed=0)[1])
    np.testing.assert_array_equal(again, vector)
    other = np.asarray(submission.power_iteration(A, num_iters=3, tol=0.0, seed=1)[1])
    assert min(np.abs(other - vector).max(), np.abs(other + vector).max()) > 1e-6, "the seed is not used"
    for shape in ((2, 3), (3,), (2, 2, 2)):
        with pytest.raises(ValueError):
            submission.power_iteration(rng.normal(size=shape))
    # array-like: nested lists of ints (eigenvalues 3 and 1, top eigenvector (1, 1) / sqrt 2)
    value, vector = submission.power_iteration([[2, 1], [1, 2]], num_iters=500, tol=1e-12)
    assert value == pytest.approx(3.0, rel=1e-8)
    np.testing.assert_allclose(np.abs(vector), [2 ** -0.5, 2 ** -0.5], atol=1e-6)
    # A = 0: A x is exactly 0 at the first step; the docstring says stop there, eigenvalue 0.0, unit x
    value, vector = submission.power_iteration(np.zeros((3, 3)), num_iters=10, tol=0.0, seed=2)
    vector = np.asarray(vector, dtype=float)
    assert value == 0.0 and np.all(np.isfinite(vector))
    assert np.sqrt(vector @ vector) == pytest.approx(1.0, abs=1e-12)


def angle_to(vector, q: np.ndarray) -> float:
    """Distance from a unit vector to the unit vector q, up to sign."""
    vector = np.asarray(vector, dtype=float)
    return float(min(np.sqrt(((vector - q) ** 2).sum()), np.sqrt(((vector + q) ** 2).sum())))


@part("power_iteration")
@points(1)
@hint("Stop at the FIRST step where the unit iterate changes by less than tol, measured up to sign: "
      "min(||x_new - x||, ||x_new + x||) with both the Euclidean norm (for a negative dominant eigenvalue the "
      "iterate flips sign every step). Neither later nor earlier.")
@forbid("numpy.linalg")
def test_power_iteration_stopping_rule(submission, rng):
    # Eigenvalue ratio |l2 / l1| = 0.5: the angle to v1 halves per step and the change per step is about
    # (1 - 0.5) * angle, so stopping at the first change < tol = 1e-4 leaves an angle between ~0.25 tol and
    # 2 tol (whichever iterate is returned, for any random start): measured 2e-5 .. 1.5e-4. Running on to
    # convergence gives ~1e-16; stopping on a wrong measure of change gives < 1e-8 or > 5e-4.
    for eigenvalues in ([4.0, 2.0, 0.4, 0.1, 0.05], [-4.0, 2.0, -0.4, 0.1, 0.05], [3.0, -1.5, 1.0, 0.2]):
        A, Q = random_symmetric(rng, np.array(eigenvalues))
        for seed in (0, 1):
            _, vector = submission.power_iteration(A, num_iters=10_000, tol=1e-4, seed=seed)
            assert 1e-6 < angle_to(vector, Q[:, 0]) < 5e-4


@part("power_iteration")
@points(1)
@hint("num_iters counts the steps x <- A x / ||A x||: with num_iters = 0 the normalised start vector comes "
      "back (unit norm), with num_iters = k exactly k steps are taken (when tol does not stop it first).")
@forbid("numpy.linalg")
def test_power_iteration_step_count(submission, rng):
    # A = Q J Q^T with J = [[3, 0, 0], [0, 0, 1], [0, 0, 0]] (eigenvalues 3, 0, 0; dominant 3, strictly):
    # in the basis Q a start vector (c0, c1, c2) becomes (3 c0, c2, 0) after one step and (9 c0, 0, 0) after
    # two, exactly. So after exactly one step the q2-component is 0 (rounding, ~1e-16) and the q1-component is
    # not (|c2| > 1e-6 for any continuous random start, except with probability ~1e-6).
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    A = Q @ np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]) @ Q.T
    for seed in (0, 1):
        _, one = submission.power_iteration(A, num_iters=1, tol=0.0, seed=seed)
        one = np.asarray(one, dtype=float)
        assert abs(one @ Q[:, 2]) < 1e-12 and abs(one @ Q[:, 1]) > 1e-6
        _, two = submission.power_iteration(A, num_iters=2, tol=0.0, seed=seed)
        assert angle_to(two, Q[:, 0]) < 1e-12
    # num_iters = 0: the normalised start vector and its Rayleigh quotient
    B = rng.normal(size=(10, 10))
    for seed in (0, 3):
        value, start = submission.power_iteration(B, num_iters=0, seed=seed)
        start = np.asarray(start, dtype=float)
        assert np.sqrt(start @ start) == pytest.approx(1.0, abs=1e-12)
        assert value == pytest.approx(start @ B @ start, rel=1e-10, abs=1e-12)


# ------------------------------------------------------------------ pca (12)
PCA_FORBID = ("numpy.linalg.svd", "numpy.cov", "numpy.corrcoef", "numpy.linalg.pinv", "numpy.linalg.lstsq", "sklearn")


def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data


def sign_aligned(W: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Flip each row of W to agree in sign with the matching row of V."""
    signs = np.sign((W * V).sum(axis=1))
    signs[signs == 0] = 1
    return W * signs[:, None]


@part("pca")
@points(4)
@hint("Components: orthonormal rows, sorted by decreasing variance; they must match the SVD of the centred data up to sign.")
@forbid(*PCA_FORBID)
def test_pca_components_match_svd_on_digits(submission):
    X = digits()
    k = 10
    model = submission.pca_fit(X, k)
    W = np.asarray(model["components"])
    assert W.shape == (k, 64)
    np.testing.assert_allclose(W @ W.T, np.eye(k), atol=1e-8)   # orthonormal rows
    _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    # The top-10 eigenvalue gaps of digits are >= 3% so eigenvectors are well determined: 1e-6.
    np.testing.assert_allclose(sign_aligned(W, Vt[:k]), Vt[:k], atol=1e-6)
    np.testing.assert_allclose(model["mean"], X.mean(axis=0), atol=1e-10)


@part("pca")
@points(3)
@hint("explained_variance = eigenvalues (denominator n - 1); the ratio divides by the TOTAL variance (all d eigenvalues).")
@forbid(*PCA_FORBID)
def test_pca_explained_variance(submission, rng):
    from sklearn.decomposition import PCA

    X = digits()
    for k in (1, 5, 20):
        model = submission.pca_fit(X, k)
        ref = PCA(n_components=k, svd_solver="full").fit(X)
        np.testing.assert_allclose(model["explained_variance"], ref.explained_variance_, rtol=1e-8)
        np.testing.assert_allclose(model["explained_variance_ratio"], ref.explained_variance_ratio_, rtol=1e-8)
    # Anisotropic Gaussian data with a non-zero mean.
    X = rng.normal(size=(50, 4)) * [5.0, 2.0, 1.0, 0.1] + [10.0, -3.0, 0.0, 7.0]
    model = submission.pca_fit(X, 4)
    ref = PCA(n_components=4, svd_solver="full").fit(X)
    np.testing.assert_allclose(model["explained_variance"], ref.explained_variance_, rtol=1e-8)
    assert np.sum(model["explained_variance_ratio"]) == pytest.approx(1.0, abs=1e-10)


@part("pca")
@points(3)
@hint("transform = (X - mean) W^T with the model's (training) mean, also for new data; inverse_transform = "
      "Z W + mean. Reconstruction error must match sklearn's PCA.")
@forbid(*PCA_FORBID)
def test_pca_reconstruction_on_digits(submission):
    from sklearn.decomposition import PCA

    X = digits()
    for k in (2, 16, 40):
        model = submission.pca_fit(X, k)
        Z = np.asarray(submission.pca_transform(X, model))
        ref = PCA(n_components=k, svd_solver="full").fit(X)
        Zr = ref.transform(X)
        assert Z.shape == (len(X), k)
        # Coordinates agree up to the sign of each component.
        np.testing.assert_allclose(np.abs(Z), np.abs(Zr), atol=1e-6)
        X_hat = np.asarray(submission.pca_inverse_transform(Z, model))
        mse, mse_ref = ((X_hat - X) ** 2).mean(), ((ref.inverse_transform(Zr) - X) ** 2).mean()
        assert mse == pytest.approx(mse_ref, rel=1e-8)
    # New data is centred with the TRAINING mean stored in the model, not with its own mean.
    model = submission.pca_fit(X[:1000], 16)
    ref = PCA(n_components=16, svd_solver="full").fit(X[:1000])
    Z = np.asarray(submission.pca_transform(X[1000:1010], model))
    np.testing.assert_allclose(np.abs(Z), np.abs(ref.transform(X[1000:1010])), atol=1e-6)
    # All components: reconstruction is exact.
    model = submission.pca_fit(X, 64)
    X_hat = np.asarray(submission.pca_inverse_transform(submission.pca_transform(X, model), model))
    np.testing.assert_allclose(X_hat, X, atol=1e-8)


@part("pca")
@points(2)
@hint("Validate inputs: k must be between 1 and the number of features (both allowed), X must be 2-D "
      "with >= 2 rows (2 is allowed; a single feature, d = 1, is allowed too); nested lists are array-like.")
@forbid(*PCA_FORBID)
def test_pca_bad_input(submission, rng):
    X = rng.normal(size=(10, 3))
    for k in (0, 4):
        with pytest.raises(ValueError):
            submission.pca_fit(X, k)
    with pytest.raises(ValueError):
        submission.pca_fit(rng.normal(size=10), 1)
    for d in (1, 2, 3):
        with pytest.raises(ValueError):
            submission.pca_fit(rng.normal(size=(1, d)), 1)  # one row: no sample covariance
    # the smallest valid input: 2 rows, k = d
    X2 = rng.normal(size=(2, 3))
    model = submission.pca_fit(X2, 3)
    np.testing.assert_allclose(model["explained_variance"][0], ((X2[0] - X2[1]) ** 2).sum() / 2, rtol=1e-10)
    # one feature (d = 1), as nested lists: the only component is +-1, its variance the sample variance
    X1 = [[1.0], [2.0], [4.0], [7.0]]
    model = submission.pca_fit(X1, 1)
    np.testing.assert_allclose(np.abs(np.asarray(model["components"])), [[1.0]], atol=1e-12)
    np.testing.assert_allclose(model["explained_variance"], [np.var(X1, ddof=1)], rtol=1e-12)
    np.testing.assert_allclose(model["mean"], [3.5], rtol=1e-12)


# ------------------------------------------------------------------ svd_compression (8)
def china_gray() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    # Downsampled by 4 for speed: (107, 160) grayscale in [0, 1].
    return load_sample_image("china.jpg")[::4, ::4].mean(axis=2) / 255.0


@part("svd_compression")
@points(3)
@hint("A_k = U[:, :k] diag(s[:k]) Vt[:k]: exactly k singular triplets, largest first.")
def test_low_rank_approx_image(submission):
    img = china_gray()
    U, s, Vt = np.linalg.svd(img, full_matrices=False)
    for k in (1, 7, 30, min(img.shape)):
        Ak = np.asarray(submission.low_rank_approx(img, k))
        assert Ak.shape == img.shape
        np.testing.assert_allclose(Ak, (U[:, :k] * s[:k]) @ Vt[:k], atol=1e-9)
        # Eckart-Young: the error is sqrt of the dropped s^2 (and the rank is exactly k).
        assert np.linalg.norm(img - Ak) == pytest.approx(np.sqrt((s[k:] ** 2).sum()), abs=1e-8)
        assert np.linalg.matrix_rank(Ak) == k


@part("svd_compression")
@points(3)
@hint("Relative error sqrt(sum_{i>k} s_i^2 / sum_i s_i^2): squared singular values, and the tail starts at index k.")
def test_rank_error_curve_image(submission, record_metric):
    img = china_gray()
    s2 = np.linalg.svd(img, compute_uv=False) ** 2
    ranks = [1, 2, 5, 10, 20, 50, 100, min(img.shape)]
    curve = np.asarray(submission.rank_error_curve(img, ranks))
    expected = np.array([np.sqrt(s2[k:].sum() / s2.sum()) for k in ranks])
    np.testing.assert_allclose(curve, expected, atol=1e-10)
    assert np.all(np.diff(curve) <= 1e-12)
    record_metric("china_rank20_relative_error", float(curve[ranks.index(20)]), threshold=None,
                  higher_is_better=False)


@part("svd_compression")
@points(1)
@hint("Random non-square matrices (tall and wide) must work too, and nested lists (array-like); "
      "rank_error_curve returns a NumPy float array (not a list).")
def test_svd_random_shapes(submission, rng):
    for shape in [(1, 1), (3, 8), (9, 4)]:
        A = rng.normal(size=shape)
        k = min(shape)
        np.testing.assert_allclose(submission.low_rank_approx(A, k), A, atol=1e-10)
        np.testing.assert_allclose(submission.rank_error_curve(A, [k]), [0.0], atol=1e-7)
    nested = [[3, 0], [0, 4], [0, 0]]   # singular values 4 and 3
    np.testing.assert_allclose(submission.low_rank_approx(nested, 1), [[0, 0], [0, 4], [0, 0]], atol=1e-12)
    curve = submission.rank_error_curve(nested, [1, 2])
    assert isinstance(curve, np.ndarray) and curve.shape == (2,) and curve.dtype.kind == "f"
    np.testing.assert_allclose(curve, [0.6, 0.0], atol=1e-12)   # sqrt(9 / 25) and 0
    assert submission.compression_ratio(427, 640, 50) == pytest.approx(50 * 1068 / (427 * 640))


@part("svd_compression")
@points(1)
@hint("k outside [1, min(h, w)] or a non-2-D array must raise ValueError.")
def test_svd_bad_input(submission, rng):
    A = rng.normal(size=(4, 6))
    for k in (0, 5):
        with pytest.raises(ValueError):
            submission.low_rank_approx(A, k)
    for bad in ([5], [0], [2, 7]):
        with pytest.raises(ValueError):
            submission.rank_error_curve(A, bad)
    with pytest.raises(ValueError):
        submission.low_rank_approx(rng.normal(size=(2, 3, 3)), 1)
    with pytest.raises(ValueError):   # a stack of matrices is not 2-D
        submission.rank_error_curve(rng.normal(size=(2, 3, 3)), [1])
