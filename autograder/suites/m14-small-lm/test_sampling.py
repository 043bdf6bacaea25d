"""Hidden tests, part `sampling`: filtered distributions against an oracle, empirical frequencies."""

import numpy as np
import pytest
import torch
from scipy import stats

from coursekit_student.testing import hint, part, points


def oracle(logits, temperature=1.0, top_k=None, top_p=None):
    z = logits.double().numpy()
    if temperature == 0:
        out = np.zeros_like(z)
        np.put_along_axis(out, z.argmax(-1)[..., None], 1.0, axis=-1)
        return out
    z = z / temperature
    if top_k is not None:
        kth = np.sort(z, axis=-1)[..., -min(top_k, z.shape[-1])][..., None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-p, axis=-1, kind="stable")
        sp = np.take_along_axis(p, order, -1)
        before = np.cumsum(sp, -1) - sp
        sp = np.where(before >= top_p, 0.0, sp)
        p = np.zeros_like(p)
        np.put_along_axis(p, order, sp, -1)
        p /= p.sum(-1, keepdims=True)
    return p


@part("sampling")
@points(4)
@hint("Order: divide by the temperature, keep the top-k logits, softmax, then keep the smallest set of most "
      "likely tokens whose mass reaches top_p (the token that crosses p is kept), renormalise.")
def test_filter_against_oracle(submission, rng):
    logits = torch.from_numpy(rng.normal(size=(6, 40)) * 2).float()
    for kw in (dict(temperature=0.7), dict(temperature=1.5, top_k=5), dict(top_p=0.9), dict(top_p=0.3),
               dict(temperature=0.8, top_k=10, top_p=0.75), dict(top_k=1), dict(top_k=100)):
        got = submission.filter_probs(logits, **kw)
        assert tuple(got.shape) == (6, 40), kw
        # float32 softmax against float64: 1e-5 absolute
        np.testing.assert_allclose(got.double().numpy(), oracle(logits, **kw), atol=1e-5, err_msg=str(kw))


@part("sampling")
@points(1)
@hint("temperature=0 is greedy (one-hot on the arg-max); invalid settings raise ValueError.")
def test_greedy_and_errors(submission, rng):
    logits = torch.from_numpy(rng.normal(size=(3, 9))).float()
    np.testing.assert_array_equal(submission.filter_probs(logits, temperature=0).numpy(), oracle(logits, 0))
    for kw in (dict(temperature=-1.0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)):
        with pytest.raises(ValueError):
            submission.filter_probs(logits, **kw)


@part("sampling")
@points(2)
@hint("sample_next must draw from filter_probs(...) with torch.multinomial and the given generator.")
def test_empirical_frequencies(submission, rng):
    logits = torch.from_numpy(rng.normal(size=8)).float()
    n = 20000
    gen = submission.torch.Generator().manual_seed(1234)
    draws = submission.sample_next(logits.expand(n, 8).contiguous(), 0.9, 6, 0.95, gen).numpy()
    expected = oracle(logits[None], 0.9, 6, 0.95)[0]
    counts = np.bincount(draws, minlength=8)
    assert counts[expected == 0].sum() == 0  # never a filtered token
    keep = expected > 0
    # chi-square goodness of fit at a fixed seed: p < 1e-4 only if the distribution is wrong
    p_value = stats.chisquare(counts[keep], expected[keep] * n).pvalue
    assert p_value > 1e-4, p_value


@part("sampling")
@points(1)
@hint("Sampling with top_k=1 or a tiny top_p is greedy; the result has shape (B,) and dtype int64.")
def test_support(submission, rng):
    logits = torch.from_numpy(rng.normal(size=(50, 30))).float()
    gen = submission.torch.Generator().manual_seed(7)
    out = submission.sample_next(logits, 1.0, 1, None, gen)
    assert tuple(out.shape) == (50,) and out.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), logits.argmax(-1).numpy())
    out = submission.sample_next(logits, 1.0, None, 1e-6, gen)
    np.testing.assert_array_equal(out.numpy(), logits.argmax(-1).numpy())
