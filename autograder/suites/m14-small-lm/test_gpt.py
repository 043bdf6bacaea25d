"""Hidden tests, part `gpt`: forward pass against a trusted GPT-2, causality, tying, initialisation."""

import math

import pytest
import torch

from coursekit_student.testing import forbid, hint, part, points

SHORTCUTS = ("torch.nn.functional.scaled_dot_product_attention", "torch.nn.MultiheadAttention",
             "torch.nn.TransformerEncoderLayer", "torch.nn.TransformerDecoderLayer", "torch.nn.Transformer")


def _gpt(submission, vocab=50, block=24, layers=2, heads=4, width=32, seed=0):
    submission.torch.manual_seed(seed)
    return submission.GPT(vocab, block, layers, heads, width)


@part("gpt")
@points(6)
@hint("Pre-norm blocks (x + attn(ln1(x)), x + mlp(ln2(x))), fused qkv split into q, k, v in that order, "
      "heads as in milestone 13, GELU MLP, final ln_f, logits through the tied embedding.")
@forbid(*SHORTCUTS)
def test_forward_matches_reference(submission, rng, gpt_oracle):
    model = _gpt(submission)
    state = model.state_dict()
    # randomise everything (including LayerNorm gains/biases) so that any mis-wiring shows
    state = {k: torch.from_numpy(rng.normal(size=tuple(v.shape)) * 0.3) for k, v in state.items()}
    state["lm_head.weight"] = state["tok_emb.weight"]
    model.double()
    model.load_state_dict(state)
    model.eval()
    idx = torch.from_numpy(rng.integers(0, 50, size=(3, 11)))
    logits = model(idx)
    # float64 on both sides: 1e-8 allows for a different order of the sums. The notebook allows the exact
    # GELU and GPT-2's tanh approximation (they differ by up to ~1e-3, far above 1e-8): either must match.
    exact = torch.allclose(logits, gpt_oracle(state, idx, 2, 4), rtol=1e-8, atol=1e-8)
    if not exact:
        torch.testing.assert_close(logits, gpt_oracle(state, idx, 2, 4, gelu="tanh"), rtol=1e-8, atol=1e-8,
                                   msg=lambda m: "matches neither the exact nor the tanh GELU: " + m)


@part("gpt")
@points(4)
@hint("Causal mask: the logits at position t may not change when tokens after t change.")
@forbid(*SHORTCUTS)
def test_no_future_leakage(submission, rng):
    model = _gpt(submission, layers=3)
    model.eval()
    idx = torch.from_numpy(rng.integers(0, 50, size=(2, 20)))
    base = model(idx)
    for t in (0, 7, 18):
        changed = idx.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1 + torch.from_numpy(rng.integers(0, 48, size=2))) % 50
        out = model(changed)
        # float32, identical inputs up to position t: equal up to rounding
        torch.testing.assert_close(out[:, :t + 1], base[:, :t + 1], rtol=1e-5, atol=1e-5)
        assert (out[:, t + 1] - base[:, t + 1]).abs().max() > 1e-6


@part("gpt")
@points(2)
@hint("Weight tying: self.lm_head.weight = self.tok_emb.weight (the same Parameter, not a copy).")
def test_weight_tying(submission, rng):
    model = _gpt(submission)
    state = model.state_dict()
    torch.testing.assert_close(state["lm_head.weight"], state["tok_emb.weight"])
    # one tensor, two uses: loading only the embedding must change the output layer as well
    new = torch.from_numpy(rng.normal(size=tuple(state["tok_emb.weight"].shape))).float()
    model.load_state_dict({"tok_emb.weight": new}, strict=False)
    torch.testing.assert_close(model.state_dict()["lm_head.weight"], new)


@part("gpt")
@points(2)
@hint("Initialise Linear/Embedding weights N(0, 0.02²), biases 0, and the residual projections (attn.proj, "
      "mlp.proj) with std 0.02 / sqrt(2 * n_layer).")
def test_initialisation(submission):
    model = _gpt(submission, vocab=200, layers=4, width=64)
    state = model.state_dict()
    # thousands of draws each: the sample std is within ±10% of the target with overwhelming probability
    for name in ("tok_emb.weight", "pos_emb.weight", "blocks.0.attn.qkv.weight", "blocks.3.mlp.fc.weight"):
        assert abs(float(state[name].std()) - 0.02) < 0.002, name
    for name in ("blocks.0.attn.proj.weight", "blocks.2.mlp.proj.weight"):
        assert abs(float(state[name].std()) - 0.02 / math.sqrt(8)) < 0.0007, name
    for name in ("blocks.1.attn.qkv.bias", "blocks.1.mlp.fc.bias", "blocks.1.attn.proj.bias"):
        assert float(state[name].abs().max()) == 0.0, name


@part("gpt")
@points(2)
@hint("Raise ValueError when T > block_size; in eval() mode (dropout off) the forward pass is deterministic.")
def test_block_size_and_eval(submission, rng):
    submission.torch.manual_seed(0)
    model = submission.GPT(30, 8, 1, 2, 16, 0.5)
    with pytest.raises(ValueError):
        model(torch.zeros(1, 9, dtype=torch.long))
    model.eval()
    idx = torch.from_numpy(rng.integers(0, 30, size=(2, 8)))
    torch.testing.assert_close(model(idx), model(idx))
    model.train()
    assert (model(idx) - model(idx)).abs().max() > 0  # dropout 0.5 is active in train()
