"""Public tests for Milestone 6 (run by check("<part>") in your notebook and by the grader)."""
import math

import numpy as np
import pytest

from coursekit_student.testing import hint, operators, part, points


# ----------------------------------------------------------------- value_ops
@part("value_ops")
@points(2)
@hint("Each operation returns a new Value whose data is the result and whose _prev holds its inputs.")
@operators
def test_forward_worked_example(submission):
    a, b, c = submission.Value(2.0), submission.Value(-3.0), submission.Value(10.0)
    assert (a * b + c).data == pytest.approx(4.0)
    assert (a - b).data == pytest.approx(5.0)
    assert (a / b).data == pytest.approx(-2.0 / 3.0)
    assert (a ** 3).data == pytest.approx(8.0)
    assert (-a).data == pytest.approx(-2.0)
    assert (1 + a).data == pytest.approx(3.0) and (3 * a).data == pytest.approx(6.0)
    assert (1 - a).data == pytest.approx(-1.0) and (1 / a).data == pytest.approx(0.5)
    assert a.tanh().data == pytest.approx(math.tanh(2.0))
    assert b.relu().data == 0.0 and a.relu().data == 2.0
    assert a.exp().data == pytest.approx(math.exp(2.0)) and a.log().data == pytest.approx(math.log(2.0))


@part("value_ops")
@points(2)
@hint("In _backward, add out.grad times the local derivative to each input's grad (+=, not =).")
@operators
def test_local_rule_of_mul(submission):
    a, b = submission.Value(2.0), submission.Value(-3.0)
    out = a * b
    out.grad = 1.5          # pretend d(loss)/d(out) = 1.5 and run only this node's rule
    out._backward()
    assert a.grad == pytest.approx(-3.0 * 1.5) and b.grad == pytest.approx(2.0 * 1.5)


# ----------------------------------------------------------------- backward
@part("backward")
@points(3)
@hint("Seed root.grad = 1.0, then call _backward() of every node in reverse topological order.")
@operators
def test_backward_worked_example(submission):
    a, b, c = submission.Value(2.0), submission.Value(-3.0), submission.Value(10.0)
    e = a * b + c
    loss = e * e                     # (ab + c)^2, the example of Parts 1 and 2
    loss.backward()
    assert (a.grad, b.grad, c.grad) == pytest.approx((-24.0, 16.0, 8.0))


@part("backward")
@points(2)
@hint("Children before parents, every node exactly once, and the root last.")
@operators
def test_topological_order_small_graph(submission):
    a, b = submission.Value(2.0), submission.Value(-3.0)
    c = a * b          # -6
    d = c + a          # -4
    e = d * d          # 16
    order = [v.data for v in submission.topological_order(e)]
    assert sorted(order) == sorted([2.0, -3.0, -6.0, -4.0, 16.0]), "each node exactly once"
    pos = {value: i for i, value in enumerate(order)}
    for child, parent in [(2.0, -6.0), (-3.0, -6.0), (-6.0, -4.0), (2.0, -4.0), (-4.0, 16.0)]:
        assert pos[child] < pos[parent]


# ----------------------------------------------------------------- mlp
@part("mlp")
@points(2)
@hint("MLP(3, [4, 4, 1]) has (3+1)*4 + (4+1)*4 + (4+1)*1 = 41 parameters; a single output is a Value.")
def test_mlp_shapes(submission):
    net = submission.MLP(3, [4, 4, 1])
    assert len(net.parameters()) == 41
    out = net([1.0, -2.0, 0.5])
    assert isinstance(out.data, float)
    layer = submission.Layer(3, 2)
    assert len(layer([1.0, 2.0, 3.0])) == 2


@part("mlp")
@points(1)
@hint("zero_grad sets p.grad = 0.0 for every p in self.parameters().")
def test_zero_grad(submission):
    net = submission.MLP(2, [3, 1])
    net([0.5, -1.0]).backward()
    net.zero_grad()
    params = net.parameters()
    assert all(params[i].grad == 0.0 for i in range(len(params)))


# ----------------------------------------------------------------- training
@part("training")
@points(2)
@hint("moons_loss = mean of (1 - y_i * s_i).relu() + alpha * sum(p * p); predict gives -1/+1 per point.")
def test_loss_and_predict_shapes(submission):
    X = np.array([[0.0, 0.5], [1.0, -0.5], [2.0, 0.0]])
    y = np.array([1, -1, 1])
    net = submission.MLP(2, [4, 1])
    params = net.parameters()
    for i in range(len(params)):
        params[i].data = 0.0        # every score is 0: each hinge term is exactly 1
    loss = submission.moons_loss(net, X, y, alpha=1e-4)
    assert loss.data == pytest.approx(1.0)
    pred = np.asarray(submission.predict(net, X))
    assert pred.shape == (3,) and set(pred.tolist()) <= {-1, 1}
