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
@hint("Order: divide by the temperature, keep the top-k logits (ties at the k-th value all kept), softmax, then "
      "keep the smallest set of most likely tokens whose mass reaches top_p (token i kept iff the mass before it "
      "is < top_p; top_p = 1 keeps all), renormalise; float32 probabilities, logits of any shape (..., V).")
def test_filter_against_oracle(submission, rng):
    logits = torch.from_numpy(rng.normal(size=(6, 40)) * 2).float()
    for kw in (dict(temperature=0.7), dict(temperature=1.5, top_k=5), dict(top_p=0.9), dict(top_p=0.3),
               dict(temperature=0.8, top_k=10, top_p=0.75), dict(top_k=1), dict(top_k=100)):
        got = submission.filter_probs(logits, **kw)
        assert tuple(got.shape) == (6, 40), kw
        # float32 softmax against float64: 1e-5 absolute
        np.testing.assert_allclose(got.double().numpy(), oracle(logits, **kw), atol=1e-5, err_msg=str(kw))
    # logits (..., V) of any rank: one row (V,) and a (2, 3, V) batch, filtered along the last axis
    cube = torch.from_numpy(rng.normal(size=(2, 3, 25)) * 2).float()
    for z in (cube, cube[1, 2]):
        kw = dict(temperature=0.9, top_k=12, top_p=0.8)
        got = submission.filter_probs(z, **kw)
        assert tuple(got.shape) == tuple(z.shape) and got.dtype == torch.float32
        np.testing.assert_allclose(got.double().numpy(), oracle(z, **kw), atol=1e-5)
    # float64 logits: still float32 probabilities (the docstring's dtype)
    assert submission.filter_probs(logits.double(), temperature=0.7).dtype == torch.float32
    # ties at the k-th largest logit are all kept: [3, 2, 2, 1] with top_k=2 keeps three tokens
    tied = submission.filter_probs(torch.tensor([[3.0, 2.0, 2.0, 1.0]]), top_k=2)
    np.testing.assert_allclose(tied.double().numpy(), oracle(torch.tensor([[3.0, 2.0, 2.0, 1.0]]), top_k=2),
                               atol=1e-6)
    # the nucleus boundary, exact in float32: four equal logits give probabilities 0.25 each, and the mass
    # before the i-th kept token is 0, 0.25, 0.5, 0.75, so top_p = 0.25 / 0.5 / 0.75 / 1.0 keeps 1 / 2 / 3 / 4
    # tokens (a token is kept iff the mass before it is < top_p; which of the equal tokens is not fixed)
    flat = torch.zeros(1, 4)
    for top_p, kept in ((0.25, 1), (0.5, 2), (0.75, 3), (1.0, 4)):
        got = submission.filter_probs(flat, top_p=top_p)[0]
        assert int((got > 0).sum()) == kept, top_p
        np.testing.assert_allclose(got[got > 0].double().numpy(), 1.0 / kept, rtol=1e-6)


@part("sampling")
@points(1)
@hint("temperature=0 is greedy (a float32 one-hot on the arg-max); invalid settings raise ValueError.")
def test_greedy_and_errors(submission, rng):
    logits = torch.from_numpy(rng.normal(size=(3, 9))).float()
    greedy = submission.filter_probs(logits, temperature=0)
    assert greedy.dtype == torch.float32  # the docstring's dtype, also for the one-hot of temperature 0
    np.testing.assert_array_equal(greedy.numpy(), oracle(logits, 0))
    for kw in (dict(temperature=-1.0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)):
        with pytest.raises(ValueError):
            submission.filter_probs(logits, **kw)


@part("sampling")
@points(2)
@hint("sample_next must draw from filter_probs(...) with torch.multinomial and the given generator (not torch's "
      "global one).")
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
    # the draws come from the generator given, not from torch's global one: the same generator seed gives the same
    # 500 tokens whatever the global seed, another generator seed other tokens (uniform over 10: equal draws by
    # chance have probability 1e-500)
    flat = torch.zeros(500, 10)
    runs = []
    for global_seed, seed in ((1, 5), (2, 5), (1, 6)):
        submission.torch.manual_seed(global_seed)
        runs.append(submission.sample_next(flat, 1.0, None, None, submission.torch.Generator().manual_seed(seed)))
    np.testing.assert_array_equal(runs[0].numpy(), runs[1].numpy())
    assert not np.array_equal(runs[0].numpy(), runs[2].numpy())


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
