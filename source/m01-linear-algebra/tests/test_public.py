"""Public tests for milestone 1 (run them with check("<part>") in the notebook).

The autograder runs these plus hidden tests on random shapes and edge cases.
"""

import numpy as np
import pytest

from coursekit_student.testing import forbid, hint, part, points

# What the grader switches off inside your functions for the from-scratch parts (see the notebook).
SCRATCH = ("numpy.linalg", "numpy.dot", "numpy.matmul", "numpy.einsum", "numpy.tensordot", "numpy.inner", "@")


@part("matmul")
@points(2)
@hint("C[i, j] is the sum over p of A[i, p] * B[p, j]; the result has shape (rows of A, columns of B).")
@forbid(*SCRATCH)
def test_matmul_worked_example(submission):
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    B = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    C = submission.matmul(A, B)
    assert np.shape(C) == (2, 2)
    np.testing.assert_allclose(C, [[4.0, 5.0], [10.0, 11.0]])


@part("matmul")
@points(1)
@hint("transpose of an (n, m) array is (m, n) with T[j, i] = A[i, j].")
@forbid(*SCRATCH, "numpy.transpose", "numpy.swapaxes")
def test_transpose_worked_example(submission):
    T = submission.transpose(np.array([[1, 2, 3], [4, 5, 6]]))
    np.testing.assert_array_equal(T, [[1, 4], [2, 5], [3, 6]])


@part("solve")
@points(2)
@hint("Eliminate below each pivot, then back-substitute from the last row up.")
@forbid(*SCRATCH)
def test_solve_worked_example(submission):
    A = np.array([[2.0, 1.0, -1.0], [-3.0, -1.0, 2.0], [-2.0, 1.0, 2.0]])
    b = np.array([8.0, -11.0, -3.0])
    np.testing.assert_allclose(submission.solve(A, b), [2.0, 3.0, -1.0], rtol=1e-10)


@part("solve")
@points(1)
@hint("A zero on the diagonal is not singular: swap in the row with the largest |entry| in the column.")
@forbid(*SCRATCH)
def test_solve_needs_pivoting(submission):
    A = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(submission.solve(A, np.array([3.0, 7.0])), [7.0, 3.0])


@part("det_inv")
@points(2)
@hint("det = (-1)^(number of row swaps) * product of the pivots; Gauss-Jordan on [A | I] gives the inverse.")
@forbid(*SCRATCH)
def test_det_inverse_worked_example(submission):
    A = np.array([[4.0, 7.0], [2.0, 6.0]])
    assert submission.det(A) == pytest.approx(10.0)
    np.testing.assert_allclose(submission.inverse(A), [[0.6, -0.7], [-0.2, 0.4]], atol=1e-12)


@part("power_iteration")
@points(2)
@hint("Repeat x <- A x / ||A x||; the eigenvalue is the Rayleigh quotient x^T A x.")
@forbid("numpy.linalg")
def test_power_iteration_diagonal(submission):
    value, vector = submission.power_iteration(np.diag([3.0, 1.0, 0.5]))
    assert value == pytest.approx(3.0, abs=1e-8)
    np.testing.assert_allclose(np.abs(vector), [1.0, 0.0, 0.0], atol=1e-6)


@part("pca")
@points(3)
@hint("Centre X, covariance = Xc^T Xc / (n - 1), eigenvectors sorted by decreasing eigenvalue.")
@forbid("numpy.linalg.svd", "numpy.cov", "numpy.corrcoef", "numpy.linalg.pinv", "numpy.linalg.lstsq", "sklearn")
def test_pca_on_a_line(submission):
    # Points on the line y = 2x (plus the mean (1, 1)): one component explains everything.
    t = np.linspace(-1, 1, 11)
    X = np.stack([t, 2 * t], axis=1) + 1.0
    model = submission.pca_fit(X, 1)
    np.testing.assert_allclose(model["mean"], [1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(model["components"]), [[1 / np.sqrt(5), 2 / np.sqrt(5)]], atol=1e-8)
    np.testing.assert_allclose(model["explained_variance"], [5 * t.var(ddof=1)], rtol=1e-8)
    np.testing.assert_allclose(model["explained_variance_ratio"], [1.0], rtol=1e-8)
    Z = submission.pca_transform(X, model)
    assert np.shape(Z) == (11, 1)
    np.testing.assert_allclose(submission.pca_inverse_transform(Z, model), X, atol=1e-8)


@part("svd_compression")
@points(2)
@hint("Keep the first k singular triplets; the relative error is sqrt(sum of the dropped s^2 / sum of all s^2).")
def test_svd_diagonal_example(submission):
    A = np.diag([3.0, 2.0, 1.0])
    np.testing.assert_allclose(submission.low_rank_approx(A, 1), np.diag([3.0, 0.0, 0.0]), atol=1e-12)
    np.testing.assert_allclose(submission.rank_error_curve(A, [1, 2, 3]),
                               [np.sqrt(5 / 14), np.sqrt(1 / 14), 0.0], atol=1e-12)
    assert submission.compression_ratio(100, 200, 10) == pytest.approx(10 * 301 / 20000)
