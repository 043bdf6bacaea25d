"""Hidden tests, part `attention_maps`."""

import torch

from coursekit_student.testing import hint, part, points

PAD = 0


def _model(submission, layers, heads):
    submission.torch.manual_seed(1)
    return submission.Seq2SeqTransformer(13, 16, heads, layers, 32, 32)


@part("attention_maps")
@points(1)
@hint("Collect the weights of every decoder block's cross_attn (not self_attn): (layers, heads, T_t, T_s), "
      "one map per head (do not average the heads).")
def test_shape_layers_heads(submission, rng):
    model = _model(submission, 3, 2)
    src = torch.from_numpy(rng.integers(3, 13, size=7))
    tgt_in = torch.cat([torch.tensor([1]), torch.from_numpy(rng.integers(3, 13, size=3))])
    maps = submission.cross_attention_maps(model, src, tgt_in)
    assert tuple(maps.shape) == (3, 2, 4, 7)
    assert torch.all(maps >= 0) and torch.all(maps <= 1)
    assert (maps[:, 0] - maps[:, 1]).abs().max() > 1e-6  # two heads, two different maps


@part("attention_maps")
@points(1)
@hint("Rows are softmax weights (sum to 1) and PAD source positions get exactly 0 weight.")
def test_rows_normalised_and_padding_zero(submission, rng):
    model = _model(submission, 2, 4)
    src = torch.cat([torch.from_numpy(rng.integers(3, 13, size=4)), torch.full((3,), PAD)])
    tgt_in = torch.tensor([1, 5, 6, 7, 8])
    maps = submission.cross_attention_maps(model, src, tgt_in)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 4, 5))  # float32 sums: default tolerance
    assert torch.all(maps[..., 4:] == 0)


@part("attention_maps")
@points(1)
@hint("Remove your forward hooks when you are done (handle.remove(), in a finally: block).")
def test_hooks_removed(submission, rng):
    model = _model(submission, 2, 2)
    src, tgt_in = torch.tensor([4, 5, 6]), torch.tensor([1, 6, 5])
    first = submission.cross_attention_maps(model, src, tgt_in)
    second = submission.cross_attention_maps(model, src, tgt_in)
    torch.testing.assert_close(first, second)
    for i in range(2):
        assert len(model.decoder[i].cross_attn._forward_hooks) == 0
        assert len(model.decoder[i].self_attn._forward_hooks) == 0
    # "in a finally: so that an exception cannot leave them behind": a decoder input longer than the model's
    # max_len (32) fails inside the forward pass; the hooks must be gone all the same
    try:
        submission.cross_attention_maps(model, src, torch.full((40,), 5))
    except Exception:
        pass
    for i in range(2):
        assert len(model.decoder[i].cross_attn._forward_hooks) == 0
