"""Hidden tests, part `clipping`: clip_grad_norm against torch.nn.utils.clip_grad_norm_ (forbidden to the student).

The gradients live in the student's process: the notebook's given squared_error_backward fills them and its given
gradients() reads them out (a parameter crosses the boundary as data, without its .grad). The test compares them
with the same loss, gradients and clipping computed here.
"""

import math

import torch

from coursekit_student.testing import forbid, hint, part, points

SHORTCUTS = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad", "torch.nn.utils.get_total_norm",
             "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.clip_grad_value_")


def _setup(submission, rng, scale):
    state = {"weight": torch.from_numpy(rng.normal(size=(3, 5))).float(),
             "bias": torch.from_numpy(rng.normal(size=3)).float()}
    x = torch.from_numpy(rng.normal(scale=scale, size=(4, 5))).float()
    y = torch.from_numpy(rng.normal(size=(4, 3))).float()
    layer = submission.torch.nn.Linear(5, 3)
    layer.load_state_dict(state)
    submission.squared_error_backward(layer, x, y)
    ref = torch.nn.Linear(5, 3)
    ref.load_state_dict(state)
    ((ref(x) - y) ** 2).sum().backward()
    return layer, ref


@part("clipping")
@points(2)
@hint("Scale ALL gradients by the same factor max_norm / (N + 1e-6), N the norm of all of them together "
      "(not each tensor by its own norm), also when N is tiny; return N measured before clipping, as a Python float.")
@forbid(*SHORTCUTS)
def test_clip_above_the_norm(submission, rng):
    for max_norm in (0.5, 3.0):
        layer, ref = _setup(submission, rng, scale=3.0)
        raw = submission.clip_grad_norm(layer.parameters(), max_norm)
        assert isinstance(raw, float)                 # the docstring: a Python float (not a tensor)
        norm = float(raw)
        expected = float(torch.nn.utils.clip_grad_norm_(ref.parameters(), max_norm))
        assert expected > max_norm                    # the case really clips
        # float32 gradients, norms ~10-100: 1e-5 relative is rounding only
        assert math.isclose(norm, expected, rel_tol=1e-5)
        weight_grad, bias_grad = submission.gradients(layer)
        torch.testing.assert_close(weight_grad, ref.weight.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(bias_grad, ref.bias.grad, rtol=1e-5, atol=1e-6)
    # a tiny norm (N ~ 1e-5) where the 1e-6 of max_norm / (N + 1e-6) matters: zero weights, so the gradients
    # 2 (0 - y) x are exact in float32
    zero = {"weight": torch.zeros(3, 5), "bias": torch.zeros(3)}
    x = torch.from_numpy(rng.normal(size=(4, 5))).float()
    y = torch.from_numpy(rng.normal(scale=1e-6, size=(4, 3))).float()
    layer = submission.torch.nn.Linear(5, 3)
    layer.load_state_dict(zero)
    submission.squared_error_backward(layer, x, y)
    ref = torch.nn.Linear(5, 3)
    ref.load_state_dict(zero)
    ((ref(x) - y) ** 2).sum().backward()
    norm = float(submission.clip_grad_norm(layer.parameters(), 1e-6))
    expected = float(torch.nn.utils.clip_grad_norm_(ref.parameters(), 1e-6))
    assert math.isclose(norm, expected, rel_tol=1e-5)
    weight_grad, bias_grad = submission.gradients(layer)
    # the factor 1e-6 / (N + 1e-6) ~ 0.1: a wrong sign of the 1e-6 changes it by ~20%
    torch.testing.assert_close(weight_grad, ref.weight.grad, rtol=1e-4, atol=1e-14)
    torch.testing.assert_close(bias_grad, ref.bias.grad, rtol=1e-4, atol=1e-14)


@part("clipping")
@points(1)
@hint("When N <= max_norm the gradients stay exactly as they are (the factor is only applied when it is < 1).")
@forbid(*SHORTCUTS)
def test_clip_below_the_norm_is_identity(submission, rng):
    layer, ref = _setup(submission, rng, scale=0.1)
    expected_norm = math.sqrt(float((ref.weight.grad.double() ** 2).sum() + (ref.bias.grad.double() ** 2).sum()))
    norm = float(submission.clip_grad_norm(layer.parameters(), expected_norm * 2))
    assert math.isclose(norm, expected_norm, rel_tol=1e-5)
    weight_grad, bias_grad = submission.gradients(layer)
    torch.testing.assert_close(weight_grad, ref.weight.grad, rtol=1e-6, atol=0.0)
    torch.testing.assert_close(bias_grad, ref.bias.grad, rtol=1e-6, atol=0.0)


@part("clipping")
@points(1)
@hint("Parameters whose .grad is None are skipped (they count 0 in N); with no gradient at all return 0.0.")
@forbid(*SHORTCUTS)
def test_clip_skips_missing_gradients(submission, rng):
    layer, ref = _setup(submission, rng, scale=3.0)
    other = submission.torch.nn.Linear(2, 2)                     # never backpropagated: grads None
    both = submission.torch.nn.Sequential(layer, other)
    norm = float(submission.clip_grad_norm(both.parameters(), 1.0))
    expected = float(torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0))
    assert math.isclose(norm, expected, rel_tol=1e-5)
    torch.testing.assert_close(submission.gradients(layer)[0], ref.weight.grad, rtol=1e-5, atol=1e-6)
    assert list(submission.gradients(other)) == [None, None]
    assert float(submission.clip_grad_norm(other.parameters(), 1.0)) == 0.0
