"""Public tests of milestone 13 (run them with check("<part>") in the notebook)."""

import math

import numpy as np
import torch

from coursekit_student.testing import hint, part, points


# ------------------------------------------------------------------ attention
@part("attention")
@points(2)
@hint("causal_mask(T)[i, j] is True iff j <= i; padding_mask(lengths, T)[b, 0, j] is True iff j < lengths[b].")
def test_masks_small(submission):
    np.testing.assert_array_equal(submission.causal_mask(3).numpy(),
                                  [[True, False, False], [True, True, False], [True, True, True]])
    pm = submission.padding_mask(torch.tensor([2, 0, 3]), 3)
    assert tuple(pm.shape) == (3, 1, 3) and pm.dtype == torch.bool
    np.testing.assert_array_equal(pm[:, 0].numpy(), [[True, True, False], [False, False, False], [True, True, True]])


@part("attention")
@points(2)
@hint("weights = softmax(q k^T / sqrt(d)) over the keys (last axis); out = weights @ v.")
def test_attention_worked_example(submission):
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[0.0, 1.0], [1.0, 1.0], [3.0, 0.0], [-1.0, 0.0]])
    v = torch.eye(4)
    out, w = submission.scaled_dot_product_attention(q, k, v)
    scores = np.array([0.0, 1.0, 3.0, -1.0]) / math.sqrt(2)
    expected = np.exp(scores) / np.exp(scores).sum()
    assert tuple(w.shape) == (1, 4) and tuple(out.shape) == (1, 4)
    np.testing.assert_allclose(w.numpy()[0], expected, rtol=1e-5)  # float32 softmax: ~1e-7 relative error
    np.testing.assert_allclose(out.numpy()[0], expected, rtol=1e-5)  # v = I, so out equals the weights
    out, w = submission.scaled_dot_product_attention(torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4),
                                                     torch.randn(2, 3, 6, 7))
    assert tuple(out.shape) == (2, 3, 5, 7) and tuple(w.shape) == (2, 3, 5, 6)


# ------------------------------------------------------------------ multihead
@part("multihead")
@points(2)
@hint("split_heads: view(B, T, h, d_head) then transpose(1, 2); merge_heads is its exact inverse.")
def test_split_merge_heads(submission):
    mha = submission.MultiHeadAttention(12, 3)
    x = torch.arange(2 * 5 * 12, dtype=torch.float32).reshape(2, 5, 12)
    heads = mha.split_heads(x)
    assert tuple(heads.shape) == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8])  # head 1 owns features 4..7
    torch.testing.assert_close(mha.merge_heads(heads), x)


@part("multihead")
@points(2)
@hint("forward returns (out (B, T_q, D), weights (B, h, T_q, T_k)); a D not divisible by h raises ValueError.")
def test_mha_shapes_and_errors(submission):
    mha = submission.MultiHeadAttention(16, 4)
    out, w = mha(torch.randn(2, 3, 16), torch.randn(2, 5, 16), torch.randn(2, 5, 16))
    assert tuple(out.shape) == (2, 3, 16) and tuple(w.shape) == (2, 4, 3, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 3))
    try:
        submission.MultiHeadAttention(10, 4)
    except ValueError:
        pass
    else:
        raise AssertionError("MultiHeadAttention(10, 4) should raise ValueError (10 is not divisible by 4)")


# ------------------------------------------------------------------ positions
@part("positions")
@points(3)
@hint("PE[p, 2i] = sin(p / 10000**(2i/D)), PE[p, 2i+1] = cos(...); position 0 is [0, 1, 0, 1, ...].")
def test_sinusoidal_small(submission):
    pe = submission.sinusoidal_positions(4, 6)
    assert tuple(pe.shape) == (4, 6) and pe.dtype == torch.float32
    np.testing.assert_allclose(pe[0].numpy(), [0, 1, 0, 1, 0, 1], atol=1e-7)
    w = 1 / 10000 ** (np.arange(0, 6, 2) / 6)
    np.testing.assert_allclose(pe[1, 0::2].numpy(), np.sin(w), rtol=1e-6)  # float32 rounding
    np.testing.assert_allclose(pe[1, 1::2].numpy(), np.cos(w), rtol=1e-6)
    try:
        submission.sinusoidal_positions(4, 5)
    except ValueError:
        pass
    else:
        raise AssertionError("an odd d_model should raise ValueError")


# ------------------------------------------------------------------ blocks
@part("blocks")
@points(1)
@hint("Normalise over the last axis with the biased variance (mean of squared deviations) and eps=1e-5.")
def test_layernorm_rows(submission):
    ln = submission.LayerNorm(8)
    y = ln(torch.randn(3, 4, 8) * 5 + 2).detach()
    np.testing.assert_allclose(y.mean(-1).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(-1, unbiased=False).numpy(), 1, atol=1e-3)  # eps=1e-5 vs var≈25


@part("blocks")
@points(2)
@hint("Blocks keep the shape (B, T, D); check both norm_first=True and norm_first=False.")
def test_block_shapes(submission):
    for norm_first in (True, False):
        enc = submission.EncoderBlock(16, 4, 32, norm_first)
        dec = submission.DecoderBlock(16, 4, 32, norm_first)
        assert tuple(enc(torch.randn(2, 5, 16)).shape) == (2, 5, 16)
        y = dec(torch.randn(2, 3, 16), torch.randn(2, 5, 16), submission.causal_mask(3))
        assert tuple(y.shape) == (2, 3, 16)


# ------------------------------------------------------------------ seq2seq
@part("seq2seq")
@points(2)
@hint("forward(src, tgt_in) returns logits (B, T_t, vocab).")
def test_seq2seq_shapes(submission):
    torch.manual_seed(0)
    model = submission.Seq2SeqTransformer(13, 32, 4, 1, 64, 16)
    src, tgt = submission.make_reversal_data(4, seed=0)
    assert tuple(model(src, tgt[:, :-1]).shape) == (4, tgt.shape[1] - 1, 13)
    pred = submission.greedy_decode(model, src, 5)
    assert tuple(pred.shape) == (4, 5) and pred.dtype == torch.int64


@part("seq2seq")
@points(2)
@hint("At initialisation the loss should be close to ln(vocab) = ln 13 ≈ 2.56: the model guesses uniformly.")
def test_seq2seq_initial_loss(submission):
    torch.manual_seed(0)
    model = submission.Seq2SeqTransformer(13, 32, 4, 1, 64, 16)
    src, tgt = submission.make_reversal_data(64, seed=0)
    loss = float(submission.seq2seq_loss(model, src, tgt).detach())
    assert 1.5 < loss < 4.0, loss


# ------------------------------------------------------------------ attention_maps
@part("attention_maps")
@points(2)
@hint("Return (n_layers, n_heads, T_t, T_s): one cross-attention map per decoder layer and head.")
def test_maps_shape(submission):
    torch.manual_seed(0)
    model = submission.Seq2SeqTransformer(13, 32, 4, 2, 64, 16)
    src, tgt = submission.make_reversal_data(1, min_len=5, max_len=5, seed=3)
    maps = submission.cross_attention_maps(model, src[0], tgt[0, :-1])
    assert tuple(maps.shape) == (2, 4, 6, 5)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 4, 6))
