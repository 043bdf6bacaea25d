"""Public tests for Milestone 7 (run by check("<part>") in your notebook and by the grader)."""
import numpy as np
import pytest

from coursekit_student.testing import forbid, hint, part, points

NO_FRAMEWORKS = ("torch", "sklearn")


@part("perceptron")
@points(1)
@hint("Start from w = 0, b = 0; update w += y_i x_i, b += y_i when y_i (w.x_i + b) <= 0.")
@forbid(*NO_FRAMEWORKS)
def test_perceptron_worked_example(submission):
    X = np.array([[1.0, 1.0], [-1.0, -1.0]])
    y = np.array([1, -1])
    w, b = submission.perceptron_train(X, y, epochs=5)
    # first example sits on the boundary (score 0): update to w = [1, 1], b = 1; then no mistakes
    np.testing.assert_allclose(w, [1.0, 1.0])
    assert b == pytest.approx(1.0)
    np.testing.assert_array_equal(submission.perceptron_predict(w, b, X), y)


@part("layers")
@points(3)
@hint("Linear: y = x @ W + b with params {'W': (n_in, n_out), 'b': zeros(n_out)}; ReLU max(0, x); Sigmoid 1/(1+e^-x).")
@forbid(*NO_FRAMEWORKS)
def test_layer_forward_worked_example(submission):
    layer = submission.Linear(2, 3, seed=0)
    assert layer.params["W"].shape == (2, 3) and np.all(layer.params["b"] == 0)
    layer.params = {"W": np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]), "b": np.array([0.5, 0.0, 0.0])}
    out = layer.forward(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(out, [[5.5, 2.0, -1.0]])
    dx = layer.backward(np.ones((1, 3)))
    assert dx.shape == (1, 2) and layer.grads["W"].shape == (2, 3)
    np.testing.assert_allclose(submission.ReLU().forward(np.array([[-1.0, 2.0]])), [[0.0, 2.0]])
    np.testing.assert_allclose(submission.Sigmoid().forward(np.array([[0.0]])), [[0.5]])


@part("loss")
@points(2)
@hint("Equal logits give p = 1/K: loss log K and gradient (1/K - onehot) / N.")
@forbid(*NO_FRAMEWORKS)
def test_loss_uniform_logits(submission):
    loss, grad = submission.softmax_cross_entropy(np.zeros((2, 4)), np.array([1, 3]))
    assert loss == pytest.approx(np.log(4))
    expected = np.full((2, 4), 0.25); expected[0, 1] -= 1; expected[1, 3] -= 1
    np.testing.assert_allclose(grad, expected / 2)


@part("gradient_check")
@points(1)
@hint("Central differences: (f(x + h e_i) - f(x - h e_i)) / (2h) for every entry of x.")
@forbid(*NO_FRAMEWORKS)
def test_numerical_gradient_of_sum(submission):
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(submission.numerical_gradient(submission.np.sum, x), np.ones((2, 3)), rtol=1e-6)


@part("optimizers")
@points(2)
@hint("SGD: p -= lr * g. Adam's first step (bias-corrected) moves each parameter by about lr in the direction -sign(g).")
@forbid(*NO_FRAMEWORKS)
def test_optimizer_first_steps(submission):
    params = submission.SGD(lr=0.1).step({"w": np.array([1.0, 2.0])}, {"w": np.array([10.0, -10.0])})
    np.testing.assert_allclose(params["w"], [0.0, 3.0])
    params = submission.Adam(lr=0.01).step({"w": np.array([1.0, 2.0])}, {"w": np.array([1e-3, -50.0])})
    np.testing.assert_allclose(params["w"], [0.99, 2.01], rtol=1e-6)


@part("regularization")
@points(2)
@hint("Dropout is the identity when train=False; l2_penalty = lam/2 * sum of W**2, gradient lam * W (biases untouched).")
@forbid(*NO_FRAMEWORKS)
def test_dropout_eval_and_l2(submission):
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(submission.Dropout(0.5, seed=0).forward(x, train=False), x)
    penalty, grads = submission.l2_penalty({"0.W": np.array([[1.0, 2.0]]), "0.b": np.array([3.0])}, 0.1)
    assert penalty == pytest.approx(0.25)
    np.testing.assert_allclose(grads["0.W"], [[0.1, 0.2]])
    np.testing.assert_allclose(grads["0.b"], [0.0])


@part("digits_mlp")
@points(2)
@hint("MLP([4, 5, 3]) = Linear(4, 5), ReLU, Linear(5, 3); params() names them '0.W', '0.b', '2.W', '2.b'.")
@forbid(*NO_FRAMEWORKS)
def test_mlp_structure(submission):
    model = submission.MLP([4, 5, 3], seed=0)
    out = model.forward(np.ones((7, 4)))
    assert out.shape == (7, 3)
    params = model.params()
    assert sorted(params) == ["0.W", "0.b", "2.W", "2.b"]
    assert params["0.W"].shape == (4, 5) and params["2.W"].shape == (5, 3)
