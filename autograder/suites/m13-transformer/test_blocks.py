"""Hidden tests, part `blocks`.

LayerNorm and FeedForward are checked against torch. The blocks are checked for their *wiring*
(which sub-layer sees what, where the residuals and norms go): the expected output is composed from
the student's own sub-modules (self_attn, cross_attn, ff, norm1..3) called one at a time, so a
mistake in an earlier part (attention, multihead) is not charged again here.
"""

import torch
import torch.nn.functional as F

from coursekit_student.testing import forbid, hint, part, points

NO_TORCH_NORM = ("torch.nn.LayerNorm", "torch.nn.functional.layer_norm", "torch.layer_norm")


def _t(rng, *shape):
    return torch.from_numpy(rng.normal(size=shape))


def _randomise(module, rng):
    """float64 module with random weights (so that norm1/norm2 or fc1/fc2 swaps are visible)."""
    state = {k: torch.from_numpy(rng.normal(size=tuple(v.shape)) * 0.5 + (1.0 if k.endswith("norm1.weight") else 0.0))
             for k, v in module.state_dict().items()}
    module.double()
    module.load_state_dict(state)
    return state


@part("blocks")
@points(2)
@hint("LayerNorm: (x - mean) / sqrt(biased var + eps) * weight + bias, over the last axis only, with the "
      "eps given to the constructor.")
@forbid(*NO_TORCH_NORM)
def test_layernorm_vs_torch(submission, rng):
    ln = submission.LayerNorm(10)
    w, b = _t(rng, 10), _t(rng, 10)
    ln.double()
    ln.load_state_dict({"weight": w, "bias": b})
    x = _t(rng, 3, 4, 10) * 3 + 1
    torch.testing.assert_close(ln(x), F.layer_norm(x, (10,), w, b, eps=1e-5), rtol=1e-10, atol=1e-10)
    x_const = torch.ones(2, 10, dtype=torch.float64) * 7  # zero variance: eps keeps it finite
    torch.testing.assert_close(ln(x_const), b.expand(2, 10), rtol=1e-10, atol=1e-10)
    # the eps argument is used (not a hard-coded 1e-5); a large eps makes the difference visible
    ln = submission.LayerNorm(10, eps=0.5)
    ln.double()
    ln.load_state_dict({"weight": w, "bias": b})
    x = _t(rng, 4, 10)
    torch.testing.assert_close(ln(x), F.layer_norm(x, (10,), w, b, eps=0.5), rtol=1e-10, atol=1e-10)


@part("blocks")
@points(1)
@hint("FeedForward is fc2(relu(fc1(x))).")
def test_feedforward_vs_torch(submission, rng):
    ff = submission.FeedForward(6, 24)
    s = _randomise(ff, rng)
    x = _t(rng, 2, 5, 6)
    expected = F.linear(F.relu(F.linear(x, s["fc1.weight"], s["fc1.bias"])), s["fc2.weight"], s["fc2.bias"])
    torch.testing.assert_close(ff(x), expected, rtol=1e-10, atol=1e-10)


def _encoder_expected(blk, x, mask, norm_first):
    if norm_first:
        h = blk.norm1(x)
        x = x + blk.self_attn(h, h, h, mask)[0]
        return x + blk.ff(blk.norm2(x))
    x = blk.norm1(x + blk.self_attn(x, x, x, mask)[0])
    return blk.norm2(x + blk.ff(x))


def _decoder_expected(blk, y, mem, self_mask, mem_mask, norm_first):
    if norm_first:
        h = blk.norm1(y)
        y = y + blk.self_attn(h, h, h, self_mask)[0]
        y = y + blk.cross_attn(blk.norm2(y), mem, mem, mem_mask)[0]
        return y + blk.ff(blk.norm3(y))
    y = blk.norm1(y + blk.self_attn(y, y, y, self_mask)[0])
    y = blk.norm2(y + blk.cross_attn(y, mem, mem, mem_mask)[0])
    return blk.norm3(y + blk.ff(y))


def _encoder_case(submission, rng, norm_first):
    blk = submission.EncoderBlock(8, 2, 16, norm_first)
    _randomise(blk, rng)
    x = _t(rng, 2, 5, 8)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])[:, None, :]
    # float64 and the same sub-modules on both sides: only the wiring can differ
    torch.testing.assert_close(blk(x, mask), _encoder_expected(blk, x, mask, norm_first), rtol=1e-9, atol=1e-9)


def _decoder_case(submission, rng, norm_first):
    blk = submission.DecoderBlock(8, 2, 16, norm_first)
    _randomise(blk, rng)
    y, mem = _t(rng, 2, 4, 8), _t(rng, 2, 6, 8)
    self_mask = torch.ones(4, 4, dtype=torch.bool).tril()
    mem_mask = torch.tensor([[True] * 6, [True] * 2 + [False] * 4])[:, None, :]
    torch.testing.assert_close(blk(y, mem, self_mask, mem_mask),
                               _decoder_expected(blk, y, mem, self_mask, mem_mask, norm_first), rtol=1e-9, atol=1e-9)


@part("blocks")
@points(1)
@hint("Pre-norm encoder: x = x + self_attn(norm1(x)); x = x + ff(norm2(x)).")
def test_encoder_pre_norm(submission, rng):
    _encoder_case(submission, rng, True)


@part("blocks")
@points(1)
@hint("Post-norm encoder: x = norm1(x + self_attn(x)); x = norm2(x + ff(x)).")
def test_encoder_post_norm(submission, rng):
    _encoder_case(submission, rng, False)


@part("blocks")
@points(1)
@hint("Pre-norm decoder: self-attention on norm1(y) with self_mask, cross-attention from norm2(y) to memory "
      "with memory_mask, ff on norm3(y), each added to y.")
def test_decoder_pre_norm(submission, rng):
    _decoder_case(submission, rng, True)


@part("blocks")
@points(1)
@hint("Post-norm decoder: y = norm1(y + self_attn(y)); y = norm2(y + cross_attn(y, memory)); y = norm3(y + ff(y)).")
def test_decoder_post_norm(submission, rng):
    _decoder_case(submission, rng, False)
