"""Public tests for milestone 2 (run them with check("<part>") in the notebook).

Functions handed to your code (np.sin, rosen, spiral...) are taken from your notebook's namespace
(submission.np.sin), so keep the setup cell as it is.
"""

import numpy as np
import pytest

from coursekit_student.testing import hint, part, points


@part("derivatives")
@points(2)
@hint("forward: (f(x+h) - f(x)) / h; central: (f(x+h) - f(x-h)) / (2h); second: (f(x+h) - 2f(x) + f(x-h)) / h^2.")
def test_derivatives_of_exp(submission):
    exp = submission.np.exp
    assert submission.forward_diff(exp, 0.0, 1e-3) == pytest.approx((np.exp(1e-3) - 1) / 1e-3, rel=1e-12)
    assert submission.central_diff(exp, 0.0, 1e-3) == pytest.approx(np.sinh(1e-3) / 1e-3, rel=1e-12)
    assert submission.second_diff(exp, 0.0, 1e-2) == pytest.approx(1.0, rel=1e-4)


@part("gradients")
@points(2)
@hint("One central difference per coordinate; the Jacobian has one row per output and one column per input.")
def test_gradient_and_jacobian_shapes(submission):
    from scipy.optimize import rosen_der

    x = np.array([0.5, -0.3, 1.2])
    np.testing.assert_allclose(submission.numerical_gradient(submission.rosen, x), rosen_der(x), rtol=1e-6)
    J = submission.numerical_jacobian(submission.spiral, np.array([2.0, 0.5]))
    assert np.shape(J) == (3, 2)
    np.testing.assert_allclose(J[:, 0], [np.cos(0.5), np.sin(0.5), 0.5], rtol=1e-8)


@part("optimizers")
@points(3)
@hint("Check one step of each rule by hand: momentum v = beta v + g; Adam's first step moves each coordinate by about lr.")
def test_one_step_each(submission):
    x, g = np.array([1.0, -2.0]), np.array([0.5, -4.0])
    np.testing.assert_allclose(submission.gd_step(x, g, 0.1), [0.95, -1.6])
    x1, v1 = submission.momentum_step(x, np.array([1.0, 1.0]), g, 0.1, beta=0.9)
    np.testing.assert_allclose(v1, [1.4, -3.1])
    np.testing.assert_allclose(x1, [0.86, -1.69])
    # First Adam step: bias correction makes m_hat = g and s_hat = g^2, so the step is lr * sign(g).
    x1, m1, s1 = submission.adam_step(x, np.zeros(2), np.zeros(2), 1, g, 0.01)
    np.testing.assert_allclose(x1, x - 0.01 * np.sign(g), rtol=1e-6)
    path = submission.optimize(submission.rosen_der, [0.0, 0.0], "gd", 1e-3, 5)
    assert np.shape(path) == (6, 2)


@part("lr_study")
@points(1)
@hint("On a quadratic with largest eigenvalue L, gradient descent converges for lr < 2/L and diverges above.")
def test_lr_sweep_small(submission):
    finals = submission.lr_sweep(np.diag([1.0, 4.0]), np.array([1.0, 1.0]), np.zeros(2), [0.1, 0.7], 200)
    assert finals[0] == pytest.approx(-0.625, rel=1e-6)   # f* = -b^T A^{-1} b / 2
    assert finals[1] > 1e6                                 # 0.7 > 2/4: diverges


@part("curve_fit")
@points(2)
@hint("Column j of the design matrix is x**j; the normal equations are X^T X w = X^T y.")
def test_fit_exact_line(submission):
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    X = submission.design_matrix(x, 2)
    np.testing.assert_allclose(X, [[1, -1, 1], [1, 0, 0], [1, 1, 1], [1, 2, 4]])
    y = 1.0 + 2.0 * x
    np.testing.assert_allclose(submission.fit_closed_form(X, y), [1.0, 2.0, 0.0], atol=1e-10)
    w, losses = submission.fit_gd(X, y, 0.05, 10)
    assert np.shape(w) == (3,) and np.shape(losses) == (11,)
    assert losses[0] == pytest.approx(np.mean(y ** 2))


@part("newton")
@points(2)
@hint("x <- x - f(x) / f'(x); for minimisation solve H(x) d = grad(x) and step x <- x - d.")
def test_newton_examples(submission):
    root, iterations = submission.newton_root(submission.np.sin, submission.np.cos, 3.0)
    assert root == pytest.approx(np.pi, abs=1e-12)
    assert iterations <= 6
    path = submission.newton_minimize(submission.rosen_der, submission.rosen_hess, [-1.2, 1.0], 10)
    assert np.shape(path) == (11, 2)
    np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-8)
