"""Hidden tests, part `kv_cache`: cached logits and tokens equal the uncached ones.

The cached and uncached paths are both the student's model, so a mistake in part `gpt` is not
charged here again. Speed is not graded: a wall-clock ratio took points from correct caches on a
loaded machine (issue 14), and the worker's CPU time (1.7-2.2x for the reference under load) is
dominated by per-call overhead, not by the work the cache saves; the 2 points went to
test_generate_matches_uncached.
"""


import numpy as np
import pytest
import torch

from coursekit_student.testing import hint, part, points


def _gpt(submission, block=64, layers=2, heads=4, width=32):
    submission.torch.manual_seed(0)
    model = submission.GPT(50, block, layers, heads, width)
    model.eval()
    return model


@part("kv_cache")
@points(3)
@hint("Prefill the prompt with the cache, then feed one token at a time: every step's logits must equal the "
      "uncached model's logits at that position (new tokens sit at positions cache.length, ...).")
def test_cached_logits_match(submission, rng):
    model = _gpt(submission)
    idx = torch.from_numpy(rng.integers(0, 50, size=(2, 14)))
    full = model(idx)
    cache = submission.KVCache(2)
    steps = [model(idx[:, :5], kv_cache=cache)]
    for t in range(5, 14):
        steps.append(model(idx[:, t:t + 1], kv_cache=cache))
    cached = torch.cat(steps, dim=1)
    # float32; the cached path sums the same products in another order: 1e-4 absolute on logits of size ~1
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-4)


@part("kv_cache")
@points(1)
@hint("KVCache.length is the number of cached positions: 0 when empty, then grows with every forward pass.")
def test_cache_length(submission, rng):
    model = _gpt(submission)
    cache = submission.KVCache(2)
    assert cache.length == 0
    model(torch.from_numpy(rng.integers(0, 50, size=(1, 6))), kv_cache=cache)
    assert cache.length == 6
    model(torch.from_numpy(rng.integers(0, 50, size=(1, 1))), kv_cache=cache)
    assert cache.length == 7


@part("kv_cache")
@points(4)
@hint("generate(use_cache=True) must produce exactly the tokens of generate(use_cache=False), and refuse "
      "(ValueError) a cached generation that does not fit in block_size.")
def test_generate_matches_uncached(submission, rng):
    model = _gpt(submission, layers=3)
    prompt = torch.from_numpy(rng.integers(0, 50, size=(3, 4)))
    cached = submission.generate(model, prompt, 30, use_cache=True)
    plain = submission.generate(model, prompt, 30, use_cache=False)
    assert tuple(cached.shape) == (3, 34)
    np.testing.assert_array_equal(cached.numpy(), plain.numpy())
    with pytest.raises(ValueError):
        submission.generate(model, prompt, 61, use_cache=True)
