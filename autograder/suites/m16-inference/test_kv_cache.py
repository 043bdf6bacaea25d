"""Hidden tests, part `kv_cache` (23 points + 2 public).

The speed-up is graded by counting, never by timing: the test fills the student's cache with keys and
values of a sequence the student's code never saw and checks that one new token's logits come out right
from them (so recomputing the past from stored tokens cannot pass) and that the cached past is kept as
given; the work saved is then the count `attention_dot_products` returns, checked exactly.
"""

import pytest
import torch

from coursekit_student.testing import hint, part, points

# float32 with the same operations in another grouping: logits of size ~5 agree to ~1e-5; 1e-4 leaves room
TOL = dict(rtol=1e-4, atol=1e-4)


@part("kv_cache")
@points(6)
@hint("Prefill the prompt with forward_with_cache, then feed one token at a time: each step's logits must "
      "equal the plain model's logits at that position (the new tokens sit at positions cache.length, ...).")
def test_prefill_then_steps_match_the_full_forward(submission, rng, base, val_ids, oracle):
    model = oracle.to_worker(submission, base)
    prompts = oracle.held_out_prompts(val_ids, rng, 2, 30, 30)
    idx = torch.tensor(prompts)
    P = int(rng.integers(3, 12))
    cache = submission.KVCache(3)
    parts = [submission.forward_with_cache(model, idx[:, :P], cache)]
    for t in range(P, 30):
        parts.append(submission.forward_with_cache(model, idx[:, t:t + 1], cache))
    with torch.no_grad():
        torch.testing.assert_close(torch.cat(parts, dim=1), base(idx), **TOL)


@part("kv_cache")
@points(4)
@hint("After a forward pass over P tokens, cache.length is P and cache.keys[l] / cache.values[l] hold every "
      "layer's keys and values, shaped (B, n_head, P, head_dim), in position order. KVCache(n_layer) works for "
      "any n_layer >= 1, and update(layer, k, v) returns everything cached for that layer (concatenated on dim 2).")
def test_cache_holds_every_layers_keys_and_values(submission, rng, base, val_ids, oracle):
    # the cache on its own, with tensors given here: any number of layers (1 and 2), appends on the time axis
    for n_layer in (1, 2):
        cache = submission.KVCache(n_layer)
        assert cache.length == 0
        chunks = []
        for t_new in (3, 1, 2):
            k, v = (torch.tensor(rng.normal(size=(2, 3, t_new, 4)), dtype=torch.float32) for _ in range(2))
            chunks.append((k, v))
            for layer in range(n_layer):
                k_all, v_all = cache.update(layer, k, v + layer)
                assert torch.equal(k_all, torch.cat([c[0] for c in chunks], dim=2))
                assert torch.equal(v_all, torch.cat([c[1] for c in chunks], dim=2) + layer)
            assert cache.length == sum(c[0].shape[2] for c in chunks)
    model = oracle.to_worker(submission, base)
    idx = torch.tensor(oracle.held_out_prompts(val_ids, rng, 3, 9, 9))
    cache = submission.KVCache(3)
    assert cache.length == 0
    submission.forward_with_cache(model, idx[:, :6], cache)
    assert cache.length == 6
    submission.forward_with_cache(model, idx[:, 6:], cache)
    assert cache.length == 9
    for layer, (k, v) in enumerate(oracle.keys_values(base, idx)):
        torch.testing.assert_close(cache.keys[layer], k, **TOL)
        torch.testing.assert_close(cache.values[layer], v, **TOL)


@part("kv_cache")
@points(6)
@hint("The forward pass for a new token must use the keys and values already in the cache (whoever put them "
      "there), append the new token's own, and never recompute or change the cached ones.")
def test_a_new_token_attends_to_the_cached_keys_it_is_given(submission, rng, base, val_ids, oracle):
    model = oracle.to_worker(submission, base)
    L = int(rng.integers(10, 40))
    seq = torch.tensor(oracle.held_out_prompts(val_ids, rng, 2, L + 1, L + 1))
    past = oracle.keys_values(base, seq[:, :L])  # computed here: the student's code never sees seq[:, :L]
    cache = submission.KVCache(3)
    for layer, (k, v) in enumerate(past):
        cache.update(layer, k, v)
    assert cache.length == L
    logits = submission.forward_with_cache(model, seq[:, L:], cache)
    with torch.no_grad():
        torch.testing.assert_close(logits[:, -1], base(seq)[:, -1], **TOL)
    assert cache.length == L + 1
    for layer, (k, v) in enumerate(past):
        assert torch.equal(cache.keys[layer][:, :, :L], k) and torch.equal(cache.values[layer][:, :, :L], v)


@part("kv_cache")
@points(2)
@hint("forward_with_cache raises ValueError when cache.length + new tokens would exceed block_size (64); "
      "generate_greedy raises ValueError when prompt + max_new_tokens > block_size; exactly 64 is allowed.")
def test_block_size_is_enforced(submission, base, oracle):
    model = oracle.to_worker(submission, base)
    cache = submission.KVCache(3)
    submission.forward_with_cache(model, torch.zeros(1, 60, dtype=torch.long), cache)
    with pytest.raises(ValueError):
        submission.forward_with_cache(model, torch.zeros(1, 5, dtype=torch.long), cache)
    assert submission.forward_with_cache(model, torch.zeros(1, 4, dtype=torch.long), cache).shape == (1, 4, 65)
    for use_cache in (True, False):
        with pytest.raises(ValueError):
            submission.generate_greedy(model, torch.zeros(1, 10, dtype=torch.long), 55, use_cache)
        # exactly block_size positions is allowed
        assert submission.generate_greedy(model, torch.zeros(1, 10, dtype=torch.long), 54, use_cache).shape == (1, 64)


@part("kv_cache")
@points(3)
@hint("generate_greedy must return the prompt followed by the plain model's greedy tokens, with and without "
      "the cache (cached: prefill once, then one forward_with_cache per new token), for every row of a batch.")
def test_generate_greedy_equals_the_target_with_and_without_cache(submission, rng, base, val_ids, oracle):
    model = oracle.to_worker(submission, base)
    # a prompt whose first and last positions predict different next tokens: the small base model's greedy
    # choice is often the same character everywhere, and then reading the prefill's logits at the wrong
    # position would still produce the right tokens
    with torch.no_grad():
        def first_differs_from_last(c):
            choice = base(torch.tensor([c]))[0].argmax(-1)
            return int(choice[0]) != int(choice[-1])
        candidates = oracle.held_out_prompts(val_ids, rng, 30, 5, 15)
        prompt = next((c for c in candidates if first_differs_from_last(c)), candidates[0])
    n = int(rng.integers(20, 64 - len(prompt)))
    want = prompt + oracle.greedy(base, prompt, n)
    for use_cache in (True, False):
        out = submission.generate_greedy(model, torch.tensor([prompt]), n, use_cache)
        assert out.dtype == torch.int64 and out[0].tolist() == want
    # a batch of 2 one-token prompts (B = 2 > T = 1) filled to exactly block_size: the limit is on
    # T + max_new_tokens, whatever the batch size
    batch = torch.tensor([p[:1] for p in oracle.held_out_prompts(val_ids, rng, 2, 1, 1)])
    out = submission.generate_greedy(model, batch, 63, True)
    with torch.no_grad():
        want = batch
        for _ in range(63):
            want = torch.cat([want, base(want)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert out.shape == (2, 64) and torch.equal(out, want)


def _dot_products(P, n, layers, heads, cached):
    # counted another way: list every forward pass as (new tokens, keys) and sum their products
    passes = [(P, P)] + [(1, P + s) for s in range(1, n)] if cached else [(P + s, P + s) for s in range(n)]
    return layers * heads * sum(a * b for a, b in passes)


@part("kv_cache")
@points(2)
@hint("Count T_new * T_total per head per layer for every forward pass generate_greedy makes (the last new "
      "token needs no forward pass); ValueError if prompt_len < 1 or max_new_tokens < 1.")
def test_attention_dot_products_counts_exactly(submission, rng):
    for _ in range(6):
        P, n = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        layers, heads = int(rng.integers(1, 7)), int(rng.integers(1, 9))
        for cached in (True, False):
            assert submission.attention_dot_products(P, n, layers, heads, cached) == \
                _dot_products(P, n, layers, heads, cached)
    assert submission.attention_dot_products(1, 1, 1, 1, True) == 1
    for bad in ((0, 5), (5, 0)):
        with pytest.raises(ValueError):
            submission.attention_dot_products(*bad, 2, 2, True)
