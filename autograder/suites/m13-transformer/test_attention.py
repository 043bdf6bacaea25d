"""Hidden tests, part `attention`: random inputs against torch's scaled_dot_product_attention."""

import torch
import torch.nn.functional as F

from coursekit_student.testing import forbid, hint, part, points

SHORTCUTS = ("torch.nn.functional.scaled_dot_product_attention", "torch.softmax", "torch.nn.functional.softmax",
             "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward")


def _t(rng, *shape, scale=1.0):
    return torch.from_numpy(rng.normal(size=shape) * scale)  # float64: oracle and student agree to ~1e-15


def _oracle_weights(q, k, mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


@part("attention")
@points(3)
@hint("Scale the scores by 1/sqrt(d) with d the size of q's last axis, softmax over the keys, then weights @ v.")
@forbid(*SHORTCUTS)
def test_random_batched_vs_torch(submission, rng):
    q, k, v = _t(rng, 2, 3, 5, 8), _t(rng, 2, 3, 7, 8), _t(rng, 2, 3, 7, 6)
    out, w = submission.scaled_dot_product_attention(q, k, v)
    # float64 on both sides; 1e-10 leaves room for a different summation order
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(w, _oracle_weights(q, k), rtol=1e-10, atol=1e-10)


@part("attention")
@points(2)
@hint("With causal_mask(T), query i must give exactly zero weight to keys j > i.")
@forbid(*SHORTCUTS)
def test_causal_vs_torch(submission, rng):
    T = 6
    q, k, v = _t(rng, 3, T, 4), _t(rng, 3, T, 4), _t(rng, 3, T, 5)
    out, w = submission.scaled_dot_product_attention(q, k, v, submission.causal_mask(T))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=1e-10, atol=1e-10)
    assert torch.all(w.triu(1) == 0)


@part("attention")
@points(2)
@hint("A (B, 1, 1, T_k) or (B, 1, T_k) mask must broadcast over heads and queries; masked keys get weight 0; "
      "padding_mask is a (B, 1, T) bool tensor, all False for a length of 0.")
@forbid(*SHORTCUTS)
def test_padding_mask_broadcast(submission, rng):
    B, H, T = 3, 2, 7
    lengths = torch.tensor([7, 4, 1])
    mask = submission.padding_mask(lengths, T)[:, None]  # (B, 1, 1, T): add the head axis
    q, k, v = _t(rng, B, H, T, 8), _t(rng, B, H, T, 8), _t(rng, B, H, T, 3)
    out, w = submission.scaled_dot_product_attention(q, k, v, mask)
    oracle_mask = torch.arange(T)[None, None, None, :] < lengths[:, None, None, None]
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=oracle_mask),
                               rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(w, _oracle_weights(q, k, oracle_mask), rtol=1e-10, atol=1e-10)
    # the documented range 0 <= length <= T: an empty sequence masks every key
    expected = torch.tensor([[[False] * 5], [[True] * 5], [[True, True, False, False, False]]])
    got = submission.padding_mask(torch.tensor([0, 5, 2]), 5)
    assert got.dtype == torch.bool and tuple(got.shape) == (3, 1, 5)
    assert torch.equal(got, expected)


@part("attention")
@points(2)
@hint("Subtract each row's maximum score before exp(): float32 exp overflows above ~88.")
@forbid(*SHORTCUTS)
def test_numerically_stable(submission, rng):
    # scores of order 1e3 overflow a naive float32 exp; the exact answer is computed in float64
    q, k, v = _t(rng, 2, 4, 16, scale=30.0), _t(rng, 2, 6, 16, scale=30.0), _t(rng, 2, 6, 3)
    out, w = submission.scaled_dot_product_attention(q.float(), k.float(), v.float())
    assert out.dtype == torch.float32 and torch.isfinite(out).all() and torch.isfinite(w).all()
    # float32 scores of size ~1e3 carry ~1e-4 absolute rounding, which moves the weights by ~1e-4
    torch.testing.assert_close(out.double(), F.scaled_dot_product_attention(q, k, v), rtol=0, atol=2e-3)


@part("attention")
@points(1)
@hint("A query whose keys are all masked must get weights 0 and output 0 (not nan); the other rows are unaffected.")
@forbid(*SHORTCUTS)
def test_fully_masked_row(submission, rng):
    q, k, v = _t(rng, 4, 3), _t(rng, 5, 3), _t(rng, 5, 2)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2] = False
    mask[0, 3:] = False
    out, w = submission.scaled_dot_product_attention(q, k, v, mask)
    assert not torch.isnan(out).any() and not torch.isnan(w).any()
    assert torch.all(w[2] == 0) and torch.all(out[2] == 0)
    keep = [0, 1, 3]
    torch.testing.assert_close(w[keep], _oracle_weights(q, k, mask)[keep], rtol=1e-10, atol=1e-10)


@part("attention")
@points(1)
@hint("Keep the input dtype (float32 in, float32 out) and return weights whose rows sum to 1.")
@forbid(*SHORTCUTS)
def test_float32_weights(submission, rng):
    q, k, v = _t(rng, 2, 9, 5).float(), _t(rng, 2, 4, 5).float(), _t(rng, 2, 4, 5).float()
    out, w = submission.scaled_dot_product_attention(q, k, v, torch.tensor([True, False, True, True]))
    assert out.dtype == torch.float32 and w.dtype == torch.float32
    assert torch.all(w[..., 1] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 9))  # float32 default tolerances (~1e-5)
