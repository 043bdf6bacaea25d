"""Hidden tests, part `multihead`.

The projections/heads/merge are checked against nn.MultiheadAttention. To grade this part on its
own, the per-head attention inside the oracle is the *student's* scaled_dot_product_attention (so
a mistake in part `attention` does not cost points here twice); the test first proves, on the
trusted side, that the same oracle with torch's attention equals nn.MultiheadAttention.
"""

import torch
import torch.nn as nn

from coursekit_student.testing import forbid, hint, part, points

SHORTCUTS = ("torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
             "torch.nn.functional.scaled_dot_product_attention", "torch.nn.Transformer",
             "torch.nn.TransformerEncoderLayer", "torch.nn.TransformerDecoderLayer")


def _t(rng, *shape):
    return torch.from_numpy(rng.normal(size=shape))


def _oracle(state, h, query, key, value, mask, attend):
    """MHA from the module's weights; `attend(q, k, v, mask)` does the per-head attention."""
    def proj(name, x):
        return x @ state[f"{name}.weight"].T + state[f"{name}.bias"]

    def split(x):
        B, T, D = x.shape
        return x.view(B, T, h, D // h).transpose(1, 2)

    if mask is not None and mask.dim() == 3:
        mask = mask[:, None]
    out, w = attend(split(proj("q_proj", query)), split(proj("k_proj", key)), split(proj("v_proj", value)), mask)
    B, _, Tq, dh = out.shape
    return proj("out_proj", out.transpose(1, 2).reshape(B, Tq, h * dh)), w


def _torch_attend(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, -1)
    return w @ v, w


def _check(submission, rng, D, h, Tq, Tk, mask, self_attention):
    mha = submission.MultiHeadAttention(D, h)
    state = {k: torch.from_numpy(rng.normal(size=tuple(v.shape)) * 0.5) for k, v in mha.state_dict().items()}
    mha.double()
    mha.load_state_dict(state)
    query = _t(rng, 2, Tq, D)
    key = query if self_attention else _t(rng, 2, Tk, D)
    value = query if self_attention else _t(rng, 2, Tk, D)

    # trusted self-check: the oracle with exact attention is nn.MultiheadAttention
    ref = nn.MultiheadAttention(D, h, batch_first=True).double()
    ref.load_state_dict({"in_proj_weight": torch.cat([state["q_proj.weight"], state["k_proj.weight"],
                                                      state["v_proj.weight"]]),
                         "in_proj_bias": torch.cat([state["q_proj.bias"], state["k_proj.bias"], state["v_proj.bias"]]),
                         "out_proj.weight": state["out_proj.weight"], "out_proj.bias": state["out_proj.bias"]})
    torch_mask = None
    if mask is not None:
        full = mask.expand(2, Tq, Tk) if mask.dim() == 3 else mask.expand(2, Tq, Tk)
        torch_mask = (~full).repeat_interleave(h, dim=0)  # nn.MultiheadAttention: True = blocked
    ref_out, ref_w = ref(query, key, value, attn_mask=torch_mask, average_attn_weights=False)
    exact_out, exact_w = _oracle(state, h, query, key, value, mask, _torch_attend)
    torch.testing.assert_close(exact_out, ref_out, rtol=1e-9, atol=1e-9)

    expected_out, expected_w = _oracle(state, h, query, key, value, mask, submission.scaled_dot_product_attention)
    out, w = mha(query, key, value, mask)
    # float64 throughout; 1e-9 allows a different order of the projections' sums
    torch.testing.assert_close(out, expected_out, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(w, expected_w, rtol=1e-9, atol=1e-9)


@part("multihead")
@points(4)
@hint("Project with q_proj/k_proj/v_proj, split into heads, attend per head, merge heads, then apply out_proj.")
@forbid(*SHORTCUTS)
def test_self_attention_vs_torch(submission, rng):
    _check(submission, rng, D=12, h=3, Tq=6, Tk=6, mask=None, self_attention=True)


@part("multihead")
@points(3)
@hint("Cross-attention: queries from `query`, keys/values from `key`/`value` (different lengths); "
      "a (B, 1, T_k) padding mask needs a head axis: mask[:, None].")
@forbid(*SHORTCUTS)
def test_cross_attention_with_padding(submission, rng):
    mask = torch.arange(7)[None, None, :] < torch.tensor([7, 3])[:, None, None]  # (B, 1, T_k)
    _check(submission, rng, D=16, h=4, Tq=4, Tk=7, mask=mask, self_attention=False)


@part("multihead")
@points(2)
@hint("A (T, T) causal mask broadcasts against (B, h, T, T) scores as it is; a (B, T_q, T_k) mask needs a "
      "head axis, like (B, 1, T_k).")
@forbid(*SHORTCUTS)
def test_causal_self_attention(submission, rng):
    _check(submission, rng, D=8, h=2, Tq=5, Tk=5, mask=torch.ones(5, 5, dtype=torch.bool).tril(),
           self_attention=True)
    # the documented (B, T_q, T_k) mask: a different pattern per example (every query keeps a key)
    mask = torch.from_numpy(rng.random(size=(2, 4, 6)) < 0.5)
    mask[:, :, 0] = True
    _check(submission, rng, D=8, h=2, Tq=4, Tk=6, mask=mask, self_attention=False)


@part("multihead")
@points(2)
@hint("One head (h = 1) is plain attention on the projected inputs; many heads (h = D) use d_head = 1.")
@forbid(*SHORTCUTS)
def test_extreme_head_counts(submission, rng):
    _check(submission, rng, D=6, h=1, Tq=3, Tk=4, mask=None, self_attention=False)
    _check(submission, rng, D=6, h=6, Tq=3, Tk=4, mask=None, self_attention=False)
