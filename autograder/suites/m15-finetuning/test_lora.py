"""Hidden tests, parts `lora` (the LoRALinear layer) and `merge` (merge, unmerge, merge a whole model).

Every expected value is computed here in float64 from the same inputs (conftest.lora_forward: the layer of
Hu et al. and of peft's lora.Linear written out). The student's layers compute in float32, so outputs are
compared with tolerances of ~1e-5 relative: float32 rounding on d <= 40 sums is ~1e-6, and the mistakes the
tests look for (a wrong scaling, an unfrozen base, B @ A left out) change outputs by O(1).
"""

import math
from types import SimpleNamespace

import pytest
import torch

from coursekit_student.testing import hint, part, points


def _shapes(rng):
    return int(rng.integers(5, 40)), int(rng.integers(5, 40)), int(rng.integers(2, 5)), float(rng.choice([1.0, 4.0, 16.0]))


def _linear(submission, rng, d_in, d_out, bias=True):
    """An nn.Linear built in the student's process with weights drawn here."""
    W = torch.from_numpy(rng.normal(0, 0.3, size=(d_out, d_in))).float()
    b = torch.from_numpy(rng.normal(0, 0.3, size=d_out)).float() if bias else None
    lin = submission.torch.nn.Linear(d_in, d_out, bias=bias)
    lin.load_state_dict({"weight": W, "bias": b} if bias else {"weight": W})
    return lin, W, b


def _lora_with_weights(submission, rng, bias=True):
    """A LoRALinear whose A and B (B non-zero) are set from here: the forward and gradients are then testable."""
    d_in, d_out, r, alpha = _shapes(rng)
    lin, W, b = _linear(submission, rng, d_in, d_out, bias)
    layer = submission.LoRALinear(lin, r, alpha)
    A = torch.from_numpy(rng.normal(0, 0.3, size=(r, d_in))).float()
    B = torch.from_numpy(rng.normal(0, 0.3, size=(d_out, r))).float()
    state = {"base.weight": W, "A": A, "B": B}
    if bias:
        state["base.bias"] = b
    layer.load_state_dict(state)
    return layer, SimpleNamespace(W=W, b=b, A=A, B=B, scaling=alpha / r, d_in=d_in, d_out=d_out, r=r)


# ------------------------------------------------------------------ lora
@part("lora")
@points(4)
@hint("LoRALinear keeps the nn.Linear as self.base and freezes it in place (requires_grad False on weight and bias); "
      "A is a (r, d_in) and B a (d_out, r) nn.Parameter, B all zeros, both trainable, in base.weight's dtype; "
      "scaling = alpha / r.")
def test_lora_parameters_and_freezing(submission, rng):
    # requires_grad flags do not cross from the student's process (tensors come back as plain data), so
    # "trainable" is measured as "receives a gradient", through the notebook's given `gradients` helper
    for bias, double in ((True, False), (False, True)):
        d_in, d_out, r, alpha = _shapes(rng)
        lin = submission.torch.nn.Linear(d_in, d_out, bias=bias)
        if double:
            lin = lin.double()
        layer = submission.LoRALinear(lin, r, alpha)
        params = dict(layer.named_parameters())
        expected = {"base.weight": (d_out, d_in), "A": (r, d_in), "B": (d_out, r)}
        if bias:
            expected["base.bias"] = (d_out,)
        assert {k: tuple(v.shape) for k, v in params.items()} == expected
        dtype = torch.float64 if double else torch.float32
        assert all(v.dtype == dtype for v in params.values())
        assert not torch.as_tensor(params["B"]).any(), "B starts at zero"
        assert torch.as_tensor(params["A"]).abs().sum() > 0, "A starts random, not zero"
        x = torch.from_numpy(rng.normal(size=(4, d_in))).to(dtype)
        weight = torch.from_numpy(rng.normal(size=(4, d_out))).to(dtype)
        grads = submission.gradients(layer, x, weight)
        assert {k for k, g in grads.items() if g is not None} == {"A", "B"}
        # the nn.Linear passed in is frozen itself (kept, not copied): alone it has nothing to train
        assert all(g is None for g in submission.gradients(lin, x, weight).values())
        assert math.isclose(float(layer.scaling), alpha / r, rel_tol=1e-12)
        assert int(layer.r) == r and math.isclose(float(layer.alpha), alpha)


@part("lora")
@points(3)
@hint("Initialise A with nn.init.kaiming_uniform_(A, a=math.sqrt(5)): uniform on [-1/sqrt(d_in), 1/sqrt(d_in)].")
def test_lora_A_initialisation(submission, rng):
    d_in, d_out, r = int(rng.integers(300, 500)), 16, 32
    layer = submission.LoRALinear(submission.torch.nn.Linear(d_in, d_out), r, 8.0)
    A = torch.as_tensor(dict(layer.named_parameters())["A"]).double()
    bound = 1 / math.sqrt(d_in)
    assert A.abs().max() <= bound * (1 + 1e-6)
    # the bound is reached: with n = r * d_in >= 9,600 draws, P(max |A| < 0.99 c) = 0.99^n < 1e-40
    # (a course mutate survivor used kaiming_uniform_'s a=sqrt(6): bound 0.926 c)
    assert A.abs().max() >= 0.99 * bound
    # U(-c, c) has std c / sqrt(3); the sample std's relative standard error is sqrt(0.2 / n) <= 0.5%: 6 sigma
    assert abs(A.std().item() / (bound / math.sqrt(3)) - 1) < 0.03
    # the mean of n such draws has standard error c / sqrt(3 n): 4 standard errors
    assert abs(A.mean().item()) < 4 * bound / math.sqrt(3 * A.numel())


@part("lora")
@points(3)
@hint("At initialisation B = 0, so LoRALinear(x) must equal base(x) exactly, for inputs with any leading dimensions.")
def test_lora_starts_at_base(submission, rng):
    d_in, d_out, r, alpha = _shapes(rng)
    lin, W, b = _linear(submission, rng, d_in, d_out)
    layer = submission.LoRALinear(lin, r, alpha)
    x = torch.from_numpy(rng.normal(size=(3, 5, d_in))).float()
    out = torch.as_tensor(layer(x))
    assert tuple(out.shape) == (3, 5, d_out)
    # the same float32 nn.Linear computation plus exact zeros: only summation-order differences remain
    torch.testing.assert_close(out, x @ W.T + b, rtol=1e-5, atol=1e-5)


@part("lora")
@points(5)
@hint("forward: base(x) + (alpha / r) * (x @ A.T) @ B.T, for x of shape (..., d_in); with or without a bias.")
def test_lora_forward_matches_oracle(submission, rng, oracle):
    for bias in (True, False):
        layer, c = _lora_with_weights(submission, rng, bias)
        for shape in ((7, c.d_in), (2, 3, c.d_in), (c.d_in,)):
            x = torch.from_numpy(rng.normal(size=shape)).float()
            expected = oracle.lora_forward(x, c.W, c.b, c.A, c.B, c.scaling)
            # float32 products of length <= 40 with O(1) entries: ~1e-6 relative; 1e-4 absolute covers the rest
            torch.testing.assert_close(torch.as_tensor(layer(x)).double(), expected, rtol=1e-5, atol=1e-4)


@part("lora")
@points(4)
@hint("Only A and B may receive gradients: the base weight and bias are frozen (their .grad stays None). "
      "Check with gradients(layer, x, weight).")
def test_lora_gradients_only_on_adapters(submission, rng, oracle):
    layer, c = _lora_with_weights(submission, rng)
    x = torch.from_numpy(rng.normal(size=(6, c.d_in))).float()
    weight = torch.from_numpy(rng.normal(size=(6, c.d_out))).float()
    grads = submission.gradients(layer, x, weight)
    assert grads["base.weight"] is None and grads["base.bias"] is None, "the frozen base gets no gradient"
    A = c.A.double().requires_grad_(True)
    B = c.B.double().requires_grad_(True)
    (oracle.lora_forward(x, c.W, c.b, A, B, c.scaling) * weight.double()).sum().backward()
    # float32 backward on O(1) values: ~1e-6 relative
    torch.testing.assert_close(torch.as_tensor(grads["A"]).double(), A.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(torch.as_tensor(grads["B"]).double(), B.grad, rtol=1e-4, atol=1e-4)


@part("lora")
@points(2)
@hint("LoRALinear(base, r, alpha) raises ValueError when r < 1.")
def test_lora_rank_must_be_positive(submission, rng):
    for r in (0, -int(rng.integers(1, 5))):
        with pytest.raises(ValueError):
            submission.LoRALinear(submission.torch.nn.Linear(8, 8), r, 4.0)


# ------------------------------------------------------------------ merge
@part("merge")
@points(3)
@hint("merge_lora returns a NEW nn.Linear with weight W + (alpha / r) * B @ A and a copy of the bias; the LoRA "
      "layer itself is left unchanged.")
def test_merge_matches_unmerged(submission, rng):
    for bias in (True, False):
        layer, c = _lora_with_weights(submission, rng, bias)
        x = torch.from_numpy(rng.normal(size=(5, c.d_in))).float()
        before = torch.as_tensor(layer(x)).double()
        merged = submission.merge_lora(layer)
        params = dict(merged.named_parameters())
        assert set(params) == ({"weight", "bias"} if bias else {"weight"})
        grads = submission.gradients(merged, x, torch.ones(5, c.d_out))
        assert all(g is not None for g in grads.values()), "a merged layer is a plain, trainable nn.Linear"
        # the layer's own scaling (part `lora` grades its value): merging must use the factor forward uses
        expected_W = c.W.double() + float(layer.scaling) * c.B.double() @ c.A.double()
        # float32 storage of O(1) entries: 1e-6 relative
        torch.testing.assert_close(torch.as_tensor(params["weight"]).double(), expected_W, rtol=1e-5, atol=1e-5)
        if bias:
            torch.testing.assert_close(torch.as_tensor(params["bias"]), c.b, rtol=0, atol=0)
        torch.testing.assert_close(torch.as_tensor(merged(x)).double(), before, rtol=1e-5, atol=1e-4)
        # the LoRA layer is untouched: its base weight is still W and its output what it was
        torch.testing.assert_close(torch.as_tensor(dict(layer.named_parameters())["base.weight"]), c.W, rtol=0, atol=0)
        torch.testing.assert_close(torch.as_tensor(layer(x)).double(), before, rtol=0, atol=0)


@part("merge")
@points(3)
@hint("unmerge_lora(merged, layer) returns a new nn.Linear with weight merged.weight - (alpha / r) * B @ A: "
      "unmerge(merge(layer)) gives the base weight back.")
def test_unmerge_recovers_base(submission, rng):
    for bias in (True, False):
        layer, c = _lora_with_weights(submission, rng, bias)
        merged = submission.merge_lora(layer)
        merged_W = torch.as_tensor(merged.weight).clone()
        back = submission.unmerge_lora(merged, layer)
        params = dict(back.named_parameters())
        # two float32 roundings of W + s*BA: ~1e-6 relative on O(1) entries
        torch.testing.assert_close(torch.as_tensor(params["weight"]), c.W, rtol=1e-5, atol=1e-5)
        if bias:
            torch.testing.assert_close(torch.as_tensor(params["bias"]), c.b, rtol=0, atol=0)
        torch.testing.assert_close(torch.as_tensor(merged.weight), merged_W, rtol=0, atol=0)  # merged untouched
        # an nn.Linear that is not a merge result: subtracting the update is all unmerge does
        other, W2, _ = _linear(submission, rng, c.d_in, c.d_out, bias)
        expected = W2.double() - float(layer.scaling) * c.B.double() @ c.A.double()
        torch.testing.assert_close(torch.as_tensor(submission.unmerge_lora(other, layer).weight).double(), expected,
                                   rtol=1e-5, atol=1e-5)


@part("merge")
@points(2)
@hint("merge_model replaces every LoRALinear in the model, at any depth, by merge_lora of it, in place, and "
      "returns the model; the model computes the same function afterwards.")
def test_merge_model_nested(submission, rng):
    nn = submission.torch.nn
    first, c1 = _lora_with_weights(submission, rng)
    d = c1.d_out
    lin2, W2, b2 = _linear(submission, rng, d, 6)
    second = submission.LoRALinear(lin2, 2, 4.0)
    second.load_state_dict({"base.weight": W2, "base.bias": b2,
                            "A": torch.from_numpy(rng.normal(size=(2, d))).float(),
                            "B": torch.from_numpy(rng.normal(size=(6, 2))).float()})
    model = nn.Sequential(first, nn.Tanh(), nn.Sequential(second))
    x = torch.from_numpy(rng.normal(size=(4, c1.d_in))).float()
    before = torch.as_tensor(model(x)).double()
    returned = submission.merge_model(model)
    assert set(dict(model.named_parameters())) == {"0.weight", "0.bias", "2.0.weight", "2.0.bias"}
    # float32, two layers of O(1) values: ~1e-6 relative
    torch.testing.assert_close(torch.as_tensor(model(x)).double(), before, rtol=1e-5, atol=1e-4)
    # the docstring's "returns model": the returned object is the merged model (a course mutate survivor
    # returned None); handles cannot be compared, so the returned one must compute the same function
    assert returned is not None, "merge_model must return the model"
    assert set(dict(returned.named_parameters())) == {"0.weight", "0.bias", "2.0.weight", "2.0.bias"}
    torch.testing.assert_close(torch.as_tensor(returned(x)).double(), before, rtol=1e-5, atol=1e-4)
