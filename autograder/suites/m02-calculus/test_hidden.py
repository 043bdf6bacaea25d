"""Hidden tests for milestone 2: error orders, oracles (exact derivatives, torch.optim, lstsq), edge cases.

Points per part (public + hidden) add up to course.yaml:
derivatives 2+8, gradients 2+8, optimizers 3+12, lr_study 1+4, curve_fit 2+8, newton 2+8.
Every docstring promise (optional arguments such as h, tol, max_halvings and the optimisers'
hyper-parameters, int input, dtypes, boundaries such as steps=0) has a test here.

Callables the student's code needs (np.sin, rosen, spiral...) must live in the student's worker,
so they are taken from the submission's namespace and first checked against the trusted versions
(`worker_fn`): a notebook that redefined them cannot make a wrong answer pass.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess

from coursekit_student.testing import forbid, hint, part, points

FD_SHORTCUTS = ("numpy.gradient", "scipy.optimize.approx_fprime", "scipy.optimize.check_grad",
                "scipy.differentiate", "torch")


def spiral_true(p: np.ndarray) -> np.ndarray:
    r, t = p
    return np.array([r * np.cos(t), r * np.sin(t), r * t])


def spiral_jacobian(p: np.ndarray) -> np.ndarray:
    r, t = p
    return np.array([[np.cos(t), -r * np.sin(t)], [np.sin(t), r * np.cos(t)], [t, r]])


TRUSTED = {"np.sin": np.sin, "np.cos": np.cos, "np.exp": np.exp, "np.log": np.log, "np.reciprocal": np.reciprocal,
           "np.cosh": np.cosh, "np.sinh": np.sinh, "np.tanh": np.tanh,
           "np.negative": np.negative, "np.sum": np.sum, "np.ones_like": np.ones_like, "rosen": rosen, "rosen_der": rosen_der, "rosen_hess": rosen_hess, "spiral": spiral_true}


def worker_fn(submission, name: str, probes: list) -> object:
    """The worker-side callable `name`, after checking it agrees with the trusted function."""
    fn = getattr(submission.np, name[3:]) if name.startswith("np.") else getattr(submission, name)
    for probe in probes:
        np.testing.assert_allclose(fn(probe), TRUSTED[name](probe), rtol=1e-13, atol=1e-13,
                                   err_msg=f"{name} in the notebook was changed; keep the setup cell as given")
    return fn


# ------------------------------------------------------------------ derivatives (8)
@part("derivatives")
@points(3)
@hint("Forward differences are first order: halving h should roughly halve the error (not quarter it).")
@forbid(*FD_SHORTCUTS)
def test_forward_error_order(submission, rng):
    sin = worker_fn(submission, "np.sin", [0.3, 1.0])
    for x in rng.uniform(-2, 2, size=3).tolist():   # Python floats (numpy scalars cross as arrays)
        if abs(np.sin(x)) < 0.2:      # the h f''/2 term would vanish; the order is then not visible
            x += 1.0
        h = 1e-3
        e1 = abs(submission.forward_diff(sin, x, h) - np.cos(x))
        e2 = abs(submission.forward_diff(sin, x, h / 2) - np.cos(x))
        # error = h |sin x| / 2 + O(h^2): the ratio is 2 within ~1% at h = 1e-3 (rounding ~1e-13 is negligible).
        assert 1.9 < e1 / e2 < 2.1
        assert e1 == pytest.approx(h * abs(np.sin(x)) / 2, rel=0.01)


@part("derivatives")
@points(3)
@hint("Central differences are second order: halving h should divide the error by about 4.")
@forbid(*FD_SHORTCUTS)
def test_central_error_order(submission, rng):
    exp = worker_fn(submission, "np.exp", [0.0, 1.5])
    for x in rng.uniform(-1, 1, size=3).tolist():
        h = 1e-2
        e1 = abs(submission.central_diff(exp, x, h) - np.exp(x))
        e2 = abs(submission.central_diff(exp, x, h / 2) - np.exp(x))
        # error = h^2 e^x / 6 + O(h^4): ratio 4 within ~0.1%; rounding (~1e-14) is 1e-9 of the error.
        assert 3.9 < e1 / e2 < 4.1
        assert e1 == pytest.approx(h ** 2 * np.exp(x) / 6, rel=0.01)


@part("derivatives")
@points(2)
@hint("second_diff: (f(x+h) - 2 f(x) + f(x-h)) / h^2, second order in h.")
@forbid(*FD_SHORTCUTS)
def test_second_diff(submission, rng):
    sin = worker_fn(submission, "np.sin", [0.3, 1.0])
    for x in rng.uniform(0.5, 2.5, size=3).tolist():  # sin x > 0.4 here, so f'''' = sin x is not small
        h = 1e-2
        e1 = abs(submission.second_diff(sin, x, h) + np.sin(x))
        e2 = abs(submission.second_diff(sin, x, h / 2) + np.sin(x))
        # error = h^2 sin(x) / 12 ~ 4e-6; rounding ~ 4e-16 / h^2 ~ 1e-11: ratio 4 within 1%.
        assert e1 == pytest.approx(h ** 2 * np.sin(x) / 12, rel=0.02)
        assert 3.9 < e1 / e2 < 4.1


# ------------------------------------------------------------------ gradients (8)
@part("gradients")
@points(3)
@hint("Perturb one coordinate at a time, in both directions, on a copy of x.")
@forbid(*FD_SHORTCUTS)
def test_gradient_rosenbrock_random(submission, rng):
    f = worker_fn(submission, "rosen", [np.array([0.1, 0.2, 0.3])])
    for d in (2, 5, 9):
        x = rng.uniform(-1.5, 1.5, size=d)
        x_before = x.copy()
        g = np.asarray(submission.numerical_gradient(f, x))
        # central differences, h = 1e-5, f'''~1e3 on this box: error ~ h^2 f'''/6 ~ 2e-8, gradient ~ 1e2 -> 1e-7 rel.
        np.testing.assert_allclose(g, rosen_der(x), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(x, x_before)


@part("gradients")
@points(2)
@hint("The Jacobian of F: R^d -> R^m is (m, d): row k = output k, column i = derivative along input i.")
@forbid(*FD_SHORTCUTS)
def test_jacobian_spiral(submission, rng):
    F = worker_fn(submission, "spiral", [np.array([1.0, 0.5])])
    for _ in range(3):
        p = rng.uniform(0.5, 3.0, size=2)
        J = np.asarray(submission.numerical_jacobian(F, p))
        assert J.shape == (3, 2)
        # second derivatives of spiral are O(r) <= 3, so central differences err by ~1e-10.
        np.testing.assert_allclose(J, spiral_jacobian(p), atol=1e-8)
    # A scalar function has a 1 x d Jacobian (its gradient as a row).
    f = worker_fn(submission, "rosen", [np.array([0.1, 0.2])])
    x = rng.uniform(-1, 1, size=4)
    J = np.asarray(submission.numerical_jacobian(f, x))
    assert J.shape == (1, 4)
    np.testing.assert_allclose(J[0], rosen_der(x), rtol=1e-6, atol=1e-6)


@part("gradients")
@points(2)
@hint("gradient_check returns max|g - g_num| / max(max|g| + max|g_num|, 1e-12): tiny for a right gradient, large for a wrong one.")
@forbid(*FD_SHORTCUTS)
def test_gradient_check(submission, rng):
    f = worker_fn(submission, "rosen", [np.array([0.1, 0.2])])
    good = worker_fn(submission, "rosen_der", [np.array([0.1, 0.2])])
    x = rng.uniform(-1, 1, size=3)
    assert submission.gradient_check(f, good, x) < 1e-7
    # A wrong "gradient" (sin in place of rosen_der) must give the documented relative error.
    wrong = worker_fn(submission, "np.sin", [np.array([0.1, 0.2])])
    err = submission.gradient_check(f, wrong, x)
    g_true, g_wrong = rosen_der(x), np.sin(x)
    expected = np.abs(g_wrong - g_true).max() / (np.abs(g_wrong).max() + np.abs(g_true).max())
    # the numerical gradient differs from rosen_der by ~1e-8 relative, far below 1e-5.
    assert err == pytest.approx(expected, rel=1e-5)
    # At (-1, 0.5) both components of rosen_der are negative (-204, -100): the denominator takes the largest
    # ABSOLUTE value of each gradient (a signed max would give 0.48 + (-100) here).
    x = np.array([-1.0, 0.5])
    g_true, g_wrong = rosen_der(x), np.sin(x)
    expected = np.abs(g_wrong - g_true).max() / (np.abs(g_wrong).max() + np.abs(g_true).max())
    assert submission.gradient_check(f, wrong, x) == pytest.approx(expected, rel=1e-5)


@part("gradients")
@points(1)
@hint("Use the step h you are given (not a fixed 1e-5) in numerical_gradient and numerical_jacobian; an int "
      "array x works too in both (perturb a float copy).")
@forbid(*FD_SHORTCUTS)
def test_gradient_step_argument_and_int_input(submission, rng):
    f = worker_fn(submission, "rosen", [np.array([0.1, 0.2, 0.3])])
    x = rng.uniform(-1.0, 1.0, size=3)
    for h in (1e-2, 1e-1):
        # exactly the documented formula at this h (its error, h^2/6 times the third derivative ~ 1e-2,
        # shows a different h)
        expected = np.array([(rosen(x + h * e) - rosen(x - h * e)) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(submission.numerical_gradient(f, x, h=h), expected, rtol=1e-9, atol=1e-9)
    F = worker_fn(submission, "spiral", [np.array([1.0, 0.5])])
    p, h = np.array([2.0, 0.7]), 0.1
    expected = np.stack([(spiral_true(p + h * e) - spiral_true(p - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(submission.numerical_jacobian(F, p, h=h), expected, rtol=1e-9, atol=1e-12)
    # the text before the stub: "a fresh float copy of x for each perturbation" -- for the Jacobian too
    np.testing.assert_allclose(submission.numerical_jacobian(F, np.array([2, 1])),
                               spiral_jacobian(np.array([2.0, 1.0])), atol=1e-8)
    xi = np.array([1, -1, 2])  # int input: x + h must not be truncated to an int
    np.testing.assert_allclose(submission.numerical_gradient(f, xi), rosen_der(xi.astype(float)), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ optimizers (12)
def torch_reference(x0: np.ndarray, grads_fn, make_opt, steps: int) -> list:
    import torch

    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = make_opt([p])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        p.grad = torch.tensor(grads_fn(p.detach().numpy()), dtype=torch.float64)
        opt.step()
        path.append(p.detach().numpy().copy())
    return path


@part("optimizers")
@points(2)
@hint("gd_step: x - lr * grad, a new array.")
@forbid("torch")
def test_gd_steps_match_torch_sgd(submission, rng):
    import torch

    x0 = rng.normal(size=3)
    ref = torch_reference(x0, rosen_der, lambda ps: torch.optim.SGD(ps, lr=1e-3), 20)
    x = x0.copy()
    for expected in ref:
        x = np.asarray(submission.gd_step(x, rosen_der(x), 1e-3))
        np.testing.assert_allclose(x, expected, rtol=1e-10, atol=1e-12)


@part("optimizers")
@points(3)
@hint("Momentum (PyTorch convention): v = beta * v + grad, then x = x - lr * v. No (1 - beta) factor.")
@forbid("torch")
def test_momentum_steps_match_torch(submission, rng):
    import torch

    x0 = rng.normal(size=4)
    ref = torch_reference(x0, rosen_der, lambda ps: torch.optim.SGD(ps, lr=5e-4, momentum=0.8), 25)
    x, v = x0.copy(), np.zeros(4)
    for expected in ref:
        x, v = submission.momentum_step(x, v, rosen_der(np.asarray(x)), 5e-4, beta=0.8)
        # float64 on both sides, same operations: differences are rounding only (1e-10 relative).
        np.testing.assert_allclose(x, expected, rtol=1e-10, atol=1e-12)


@part("optimizers")
@points(3)
@hint("Adam: update m and s, divide each by (1 - beta**t) for the step t (starting at 1), then step lr * m_hat / (sqrt(s_hat) + eps).")
@forbid("torch")
def test_adam_steps_match_torch(submission, rng):
    import torch

    x0 = rng.normal(size=3)
    ref = torch_reference(x0, rosen_der,
                          lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-6), 30)
    x, m, s = x0.copy(), np.zeros(3), np.zeros(3)
    for t, expected in enumerate(ref, start=1):
        x, m, s = submission.adam_step(x, m, s, t, rosen_der(np.asarray(x)), 0.01, beta1=0.8, beta2=0.95, eps=1e-6)
        # torch adds eps after the bias-corrected sqrt in the same order; float64 rounding only.
        np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-12)


@part("optimizers")
@points(3)
@hint("optimize must return the whole trajectory (steps + 1 rows, starting with x0) and converge on Rosenbrock with the notebook's learning rates.")
@forbid("torch", "scipy.optimize.minimize")
def test_optimize_converges_on_rosenbrock(submission, record_metric):
    grad = worker_fn(submission, "rosen_der", [np.array([0.1, 0.2])])
    # Budgets: the reference reaches ||x - 1|| of 2.5e-5 (gd), 1e-9 (momentum), 1.3e-5 (adam);
    # the threshold 1e-3 leaves a factor >= 40 of margin.
    for method, lr, steps, hyper in [("gd", 2e-3, 10000, {}), ("momentum", 1e-3, 5000, {"beta": 0.9}),
                                     ("adam", 2e-2, 3000, {})]:
        path = np.asarray(submission.optimize(grad, [-1.5, 2.0], method, lr, steps, **hyper))
        assert path.shape == (steps + 1, 2)
        np.testing.assert_array_equal(path[0], [-1.5, 2.0])
        distance = float(np.linalg.norm(path[-1] - 1.0))
        record_metric(f"rosenbrock_{method}_distance", distance, threshold=1e-3, higher_is_better=False)
        assert distance < 1e-3
    with pytest.raises(ValueError):
        submission.optimize(grad, [0.0, 0.0], "sgd-nesterov", 0.1, 3)


@part("optimizers")
@points(1)
@hint("optimize passes its extra keyword arguments (beta; beta1, beta2, eps) to the step function, starts "
      "with zero velocity/moments and t = 1, and steps=0 returns just x0 (one row); it returns a NumPy array.")
@forbid("torch", "scipy.optimize.minimize")
def test_optimize_trajectory_with_hyperparameters(submission):
    grad = worker_fn(submission, "rosen_der", [np.array([0.1, 0.2])])
    x0 = np.array([-1.2, 1.0])
    path = np.asarray(submission.optimize(grad, x0, "momentum", 1e-3, 6, beta=0.5))
    x, v, ref = x0.copy(), np.zeros(2), [x0.copy()]
    for _ in range(6):
        v = 0.5 * v + rosen_der(x)
        x = x - 1e-3 * v
        ref.append(x)
    np.testing.assert_allclose(path, ref, rtol=1e-10, atol=1e-12)
    path = np.asarray(submission.optimize(grad, x0, "adam", 0.05, 6, beta1=0.5, beta2=0.9, eps=1e-3))
    x, m, s2, ref = x0.copy(), np.zeros(2), np.zeros(2), [x0.copy()]
    for t in range(1, 7):
        g = rosen_der(x)
        m, s2 = 0.5 * m + 0.5 * g, 0.9 * s2 + 0.1 * g * g
        x = x - 0.05 * (m / (1 - 0.5 ** t)) / (np.sqrt(s2 / (1 - 0.9 ** t)) + 1e-3)
        ref.append(x)
    np.testing.assert_allclose(path, ref, rtol=1e-9, atol=1e-12)
    path = submission.optimize(grad, x0, "gd", 0.1, 0)
    assert isinstance(path, np.ndarray), "optimize returns a (steps + 1, d) array (the docstring)"
    np.testing.assert_array_equal(path, [x0])


# ------------------------------------------------------------------ lr_study (4)
def gd_final_losses(A, b, x0, lrs, steps):
    out = []
    for lr in lrs:
        x = x0.astype(float)
        with np.errstate(all="ignore"):
            for _ in range(steps):
                x = x - lr * (A @ x - b)
            loss = 0.5 * x @ A @ x - b @ x
        out.append(loss if np.isfinite(loss) else np.inf)
    return np.array(out)


@part("lr_study")
@points(1)
@hint("Run plain GD on 0.5 x^T A x - b^T x for each lr; return the final loss, np.inf once it overflows.")
def test_lr_sweep_random_quadratic(submission, rng):
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    eig = np.array([0.5, 1.0, 2.0, 5.0])
    A = (Q * eig) @ Q.T
    b, x0 = rng.normal(size=4), rng.normal(size=4)
    lrs = [0.05, 0.2, 0.39, 0.41, 1.0]                    # 2/L = 0.4: the last two diverge
    finals = np.asarray(submission.lr_sweep(A, b, x0, lrs, 300))
    expected = gd_final_losses(A, b, x0, lrs, 300)
    np.testing.assert_allclose(finals[:3], expected[:3], rtol=1e-8)
    # |1 - 0.41 * 5| = 1.05: the error grows 1.05^300 ~ 2e6-fold (loss ~1e12); |1 - 5|^600 overflows to inf.
    assert finals[3] > 1e3 and finals[4] == np.inf


@part("lr_study")
@points(1)
@hint("lr_sweep takes exactly `steps` GD steps (0 steps: the loss at x0), stops early only when an iterate is "
      "not finite (a zero coordinate is finite), returns a finite loss as it is (0.0 included) and gives a NumPy "
      "float array.")
def test_lr_sweep_exact_short_runs(submission):
    # A few steps, compared exactly (float64, same operations: 1e-12): after 300 steps every off-by-one
    # count gives the same converged loss, after 0..5 it does not. The second coordinate stays exactly 0.
    A, b, x0 = np.diag([1.0, 2.0]), np.array([1.0, 0.0]), np.zeros(2)
    lrs = [0.1, 0.5]
    for steps in (0, 1, 5):
        finals = submission.lr_sweep(A, b, x0, lrs, steps)
        assert isinstance(finals, np.ndarray), "lr_sweep returns a float array (the docstring)"
        np.testing.assert_allclose(finals, gd_final_losses(A, b, x0, lrs, steps), rtol=1e-12, atol=1e-15)
    # b = 0 and x0 = 0: the iterates stay at the minimum, whose loss is exactly 0.0 (finite, not inf)
    np.testing.assert_array_equal(np.asarray(submission.lr_sweep(A, np.zeros(2), np.zeros(2), [0.1], 3)), [0.0])


@part("lr_study")
@points(2)
@hint("Backtracking: start at lr0 and multiply by shrink until f(x - lr g) <= f(x) - c lr ||g||^2 (equality "
      "passes; the decrease is SUBTRACTED); return the first lr that passes, or the last one of the max_halvings budget.")
def test_backtracking_matches_armijo(submission, rng):
    f = worker_fn(submission, "rosen", [np.array([0.1, 0.2])])
    g = worker_fn(submission, "rosen_der", [np.array([0.1, 0.2])])
    for _ in range(4):
        x = rng.uniform(-1.5, 1.5, size=2)
        lr = submission.backtracking_line_search(f, g, x, lr0=1.0, shrink=0.5, c=1e-4)
        grad = rosen_der(x)
        armijo = lambda t: rosen(x - t * grad) <= rosen(x) - 1e-4 * t * grad @ grad  # noqa: E731
        assert armijo(lr)
        assert not armijo(2 * lr)                    # the largest one of the sequence
        k = np.log2(1.0 / lr)
        assert abs(k - round(k)) < 1e-9              # on the grid 0.5**k
    x = np.array([1.0 + 1e-9, 1.0])                  # near the minimum a full step already decreases f
    assert submission.backtracking_line_search(f, g, x, lr0=1e-4, shrink=0.5, c=1e-4) == pytest.approx(1e-4)
    # An uphill "gradient" (-x at (2, 2), where x . grad f > 0): no step passes, so the search gives up
    # after max_halvings halvings with a tiny step (0.5**4 or 0.5**5 by how the last one is counted)
    uphill = worker_fn(submission, "np.negative", [np.array([0.1, 0.2])])
    lr = submission.backtracking_line_search(f, uphill, np.array([2.0, 2.0]), lr0=1.0, shrink=0.5, c=1e-4,
                                             max_halvings=5)
    assert lr in (0.5 ** 4, 0.5 ** 5), f"expected the last step of the 5-halving budget, got {lr}"
    # f = sum(x) is linear, so the two sides of the condition are exact small binary numbers: with grad = 1
    # (d = 4, ||g||^2 = 4) and c = 1, f(x - lr g) = -4 lr EQUALS f(x) - c lr ||g||^2 for every lr, and the
    # condition (<=) accepts lr0 at once; with the uphill "gradient" -x from x = 1 it is never met
    # (4 + 4 lr > 4 - 4 lr).
    total = worker_fn(submission, "np.sum", [np.array([0.1, 0.2])])
    ones = worker_fn(submission, "np.ones_like", [np.array([0.1, 0.2])])
    assert submission.backtracking_line_search(total, ones, np.zeros(4), lr0=1.0, shrink=0.5, c=1.0) == 1.0
    lr = submission.backtracking_line_search(total, uphill, np.ones(4), lr0=1.0, shrink=0.5, c=1.0, max_halvings=5)
    assert lr in (0.5 ** 4, 0.5 ** 5)


# ------------------------------------------------------------------ curve_fit (8)
CF_FORBID = ("numpy.polyfit", "numpy.linalg.lstsq", "numpy.linalg.pinv", "numpy.vander", "numpy.polynomial", "sklearn")


def noisy_poly(rng, n: int = 30, degree: int = 3):
    x = rng.uniform(-1, 1, size=n)
    w = rng.normal(size=degree + 1)
    return x, np.vander(x, degree + 1, increasing=True) @ w + 0.1 * rng.normal(size=n)


@part("curve_fit")
@points(2)
@hint("design_matrix: a float array with columns x**0, x**1, ..., x**degree, in that order (int x included).")
@forbid(*CF_FORBID)
def test_design_matrix_random(submission, rng):
    for n, degree in [(1, 0), (5, 1), (7, 4)]:
        x = rng.normal(size=n)
        np.testing.assert_allclose(submission.design_matrix(x, degree), np.vander(x, degree + 1, increasing=True),
                                   rtol=1e-12)
    # int x still gives a float matrix (the docstring): 3**50 overflows the int64 that int powers give
    D = np.asarray(submission.design_matrix(np.array([3, -2, 0, 1]), 50))
    assert D.dtype.kind == "f", f"design_matrix returns a float array, got {D.dtype}"
    np.testing.assert_allclose(D, np.vander(np.array([3.0, -2.0, 0.0, 1.0]), 51, increasing=True), rtol=1e-12)


@part("curve_fit")
@points(3)
@hint("Solve the normal equations X^T X w = X^T y; the result must equal the least-squares solution.")
@forbid(*CF_FORBID)
def test_closed_form_matches_lstsq(submission, rng):
    for degree in (1, 3, 5):
        x, y = noisy_poly(rng, 40, degree)
        X = np.vander(x, degree + 1, increasing=True)
        w = np.asarray(submission.fit_closed_form(X, y))
        # kappa(X^T X) <= ~1e5 for degree 5 on [-1, 1]: the normal equations lose ~5 digits -> 1e-7.
        np.testing.assert_allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-7, atol=1e-9)


@part("curve_fit")
@points(3)
@hint("fit_gd: loss mean((Xw - y)^2), gradient (2/n) X^T (X w - y), start at w = 0, record the loss before every step and after the last.")
@forbid(*CF_FORBID)
def test_fit_gd_trajectory_and_convergence(submission, rng):
    x, y = noisy_poly(rng, 50, 2)
    X = np.vander(x, 3, increasing=True)
    n = len(y)
    # Exact first steps (catch a missing factor 2, a missing 1/n, or a sign error).
    w, losses = submission.fit_gd(X, y, 0.1, 3)
    w_ref = np.zeros(3)
    ref_losses = [np.mean(y ** 2)]
    for _ in range(3):
        w_ref = w_ref - 0.1 * (2 / n) * X.T @ (X @ w_ref - y)
        ref_losses.append(np.mean((X @ w_ref - y) ** 2))
    np.testing.assert_allclose(w, w_ref, rtol=1e-10)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
    # Convergence to the closed form: kappa(X^T X / n) ~ 30 for degree 2 on [-1, 1], so 5000 steps at
    # lr 0.3 shrink the error by (1 - 0.6 lambda_min)^5000 < 1e-10.
    w, losses = submission.fit_gd(X, y, 0.3, 5000)
    np.testing.assert_allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-6, atol=1e-8)
    assert np.all(np.diff(losses) <= 1e-12)           # lr < 1/L: the loss never increases


# ------------------------------------------------------------------ newton (8)
@part("newton")
@points(3)
@hint("Newton for roots: x <- x - f(x)/f'(x); stop when the step is below the given tol and report how many "
      "steps you took.")
@forbid("scipy.optimize")
def test_newton_root_oracle(submission):
    cases = [("np.sin", "np.cos", 3.0, np.pi, 1e-12), ("np.sin", "np.cos", 0.4, 0.0, 1e-12),
             ("np.log", "np.reciprocal", 0.5, 1.0, 1e-12), ("np.log", "np.reciprocal", 0.2, 1.0, 1e-3)]
    for f_name, df_name, x0, root, tol in cases:
        f = worker_fn(submission, f_name, [0.5, 0.9])
        df = worker_fn(submission, df_name, [0.5, 0.9])
        x, k = submission.newton_root(f, df, x0, tol=tol, max_iter=50)
        # Reference iteration on the trusted side: same count, same root (a loose tol stops earlier).
        xr, kr = float(x0), 0
        while True:
            kr += 1
            step = TRUSTED[f_name](xr) / TRUSTED[df_name](xr)
            xr -= step
            if abs(step) < tol or kr == 50:
                break
        assert x == pytest.approx(xr, rel=1e-12, abs=1e-15) and x == pytest.approx(root, abs=max(tol, 1e-12))
        assert k == kr


@part("newton")
@points(2)
@hint("Raise ValueError on a zero derivative; take at most max_iter steps: warn with RuntimeWarning (and return the "
      "iterate after exactly max_iter steps) when not converged, but not when the step max_iter itself converges.")
@forbid("scipy.optimize")
def test_newton_root_failures(submission):
    cosh = worker_fn(submission, "np.cosh", [0.5, 0.9])
    sinh = worker_fn(submission, "np.sinh", [0.5, 0.9])
    with pytest.raises(ValueError):
        submission.newton_root(cosh, sinh, 0.0)          # cosh'(0) = 0
    # cosh has no real root: Newton wanders; after max_iter it must warn (catch_warnings, so that an
    # unimplemented function fails with its own error).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, k = submission.newton_root(cosh, sinh, 1.0, max_iter=7)
    assert k == 7
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    # exactly max_iter steps: sin from 3.0 is not converged after 2 steps, and the last iterate x_2 comes back;
    # converging AT step max_iter (the budget it needs) is no failure: no warning.
    sin = worker_fn(submission, "np.sin", [0.5, 0.9])
    cos = worker_fn(submission, "np.cos", [0.5, 0.9])
    xs = [3.0]
    while len(xs) < 2 or abs(xs[-1] - xs[-2]) >= 1e-12:
        xs.append(xs[-1] - np.sin(xs[-1]) / np.cos(xs[-1]))
    needed = len(xs) - 1                                   # steps to convergence at tol = 1e-12 (4 here)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, k = submission.newton_root(sin, cos, 3.0, tol=1e-12, max_iter=2)
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    # two Newton steps in float64 from the same start: agreement to rounding
    assert k == 2 and x == pytest.approx(xs[2], rel=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x, k = submission.newton_root(sin, cos, 3.0, tol=1e-12, max_iter=needed)
    assert k == needed and x == pytest.approx(np.pi, abs=1e-12)


@part("newton")
@points(3)
@hint("Newton for minima: solve H(x) d = grad(x), x <- x - d; on Rosenbrock it converges quadratically in a handful of steps.")
@forbid("scipy.optimize.minimize", "numpy.linalg.inv")
def test_newton_minimize_rosenbrock(submission):
    grad = worker_fn(submission, "rosen_der", [np.array([0.1, 0.2, 0.3])])
    hess = worker_fn(submission, "rosen_hess", [np.array([0.1, 0.2, 0.3])])
    for x0 in ([-1.2, 1.0], [0.5, -0.5, 0.8, 1.5]):
        path = np.asarray(submission.newton_minimize(grad, hess, x0, 8))
        assert path.shape == (9, len(x0))
        x, ref = np.array(x0, float), [np.array(x0, float)]
        for _ in range(8):
            x = x - np.linalg.solve(rosen_hess(x), rosen_der(x))
            ref.append(x)
        # Same formula in float64: agreement to rounding (1e-8 allows for error growth over 8 steps).
        np.testing.assert_allclose(path, np.array(ref), rtol=1e-8, atol=1e-10)
