"""Public tests of milestone 14 (run them with check("<part>") in the notebook)."""

import math

import numpy as np
import torch

from coursekit_student.testing import hint, part, points


# ------------------------------------------------------------------ bpe
@part("bpe")
@points(2)
@hint("minbpe's example: 3 merges on 'aaabdaaabac' give the ids [258, 100, 258, 97, 99]; decode must invert encode.")
def test_bpe_minbpe_example(submission):
    text = "aaabdaaabac"
    vocab, merges = submission.train_bpe(text, 256 + 3)
    assert len(vocab) == 259 and len(merges) == 3
    assert merges[0] == (b"a", b"a")
    tok = submission.BPETokenizer(vocab, merges)
    ids = tok.encode(text)
    assert list(ids) == [258, 100, 258, 97, 99]
    assert tok.decode(ids) == text


@part("bpe")
@points(1)
@hint("decode(encode(text)) must give the text back exactly, for any Unicode; decode_bytes gives the raw bytes.")
def test_bpe_roundtrip_unicode(submission):
    text = "naïve café — 日本 😀 the the the <|endoftext|> end"
    vocab, merges = submission.train_bpe(text * 3, 256 + 10 + 1, ["<|endoftext|>"])
    assert len(vocab) == 267 and vocab[-1] == b"<|endoftext|>"
    tok = submission.BPETokenizer(vocab, merges, ["<|endoftext|>"])
    ids = list(tok.encode(text))
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")
    assert ids.count(266) == 1  # the special token is one token


# ------------------------------------------------------------------ gpt
def _tiny_gpt(submission, **kw):
    submission.torch.manual_seed(0)
    sizes = dict(vocab_size=65, block_size=16, n_layer=2, n_head=4, n_embd=32)
    sizes.update(kw)
    return submission.GPT(**sizes)


@part("gpt")
@points(2)
@hint("forward(idx (B, T)) returns logits (B, T, vocab_size); T > block_size raises ValueError.")
def test_gpt_shapes(submission):
    model = _tiny_gpt(submission)
    assert tuple(model(torch.zeros(3, 7, dtype=torch.long)).shape) == (3, 7, 65)
    try:
        model(torch.zeros(1, 17, dtype=torch.long))
    except ValueError:
        pass
    else:
        raise AssertionError("a sequence longer than block_size should raise ValueError")


@part("gpt")
@points(2)
@hint("Tie the weights (lm_head.weight = tok_emb.weight) and initialise N(0, 0.02²): the initial loss is ≈ ln V.")
def test_gpt_tying_and_initial_loss(submission):
    model = _tiny_gpt(submission)
    # tied: loading a new embedding alone must change the output layer too (one tensor, two uses)
    new = torch.full((65, 32), 0.01)
    model.load_state_dict({"tok_emb.weight": new}, strict=False)
    torch.testing.assert_close(model.state_dict()["lm_head.weight"], new)
    model = _tiny_gpt(submission)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 65, (8, 16), generator=g), torch.randint(0, 65, (8, 16), generator=g)
    loss = float(torch.nn.functional.cross_entropy(model(x).reshape(-1, 65).detach(), y.reshape(-1)))
    assert abs(loss - math.log(65)) < 0.1, loss  # logits ~ N(0, small): loss within 0.1 of ln 65 ≈ 4.17


# ------------------------------------------------------------------ schedule
@part("schedule")
@points(2)
@hint("Warm-up: max_lr * (step + 1) / warmup; at step = warmup the cosine starts at max_lr; after max_steps: min_lr.")
def test_lr_worked_values(submission):
    f = submission.lr_at
    assert math.isclose(f(0, 1.0, 0.1, 10, 110), 0.1)
    assert math.isclose(f(9, 1.0, 0.1, 10, 110), 1.0)
    assert math.isclose(f(10, 1.0, 0.1, 10, 110), 1.0)
    assert math.isclose(f(60, 1.0, 0.1, 10, 110), 0.55)  # halfway through the cosine: the midpoint
    assert math.isclose(f(500, 1.0, 0.1, 10, 110), 0.1)


# ------------------------------------------------------------------ sampling
@part("sampling")
@points(2)
@hint("top_k=2 keeps the two largest logits; top_p keeps the smallest prefix of sorted probabilities with mass >= p.")
def test_filter_worked_example(submission):
    z = torch.tensor([1.0, 2.0, 3.0, 4.0])
    e = np.exp([3.0, 4.0]) / np.exp([3.0, 4.0]).sum()
    np.testing.assert_allclose(submission.filter_probs(z, top_k=2).numpy(), [0, 0, e[0], e[1]], rtol=1e-5)
    p = np.exp([1.0, 2, 3, 4]) / np.exp([1.0, 2, 3, 4]).sum()  # [0.03, 0.09, 0.24, 0.64]
    np.testing.assert_allclose(submission.filter_probs(z, top_p=0.7).numpy(), [0, 0, e[0], e[1]], rtol=1e-5)
    np.testing.assert_allclose(submission.filter_probs(z, top_p=0.5).numpy(), [0, 0, 0, 1], rtol=1e-5)
    np.testing.assert_allclose(submission.filter_probs(z, temperature=1.0).numpy(), p, rtol=1e-5)
    np.testing.assert_allclose(submission.filter_probs(z, temperature=0).numpy(), [0, 0, 0, 1])


# ------------------------------------------------------------------ kv_cache
@part("kv_cache")
@points(2)
@hint("Greedy generation must give the same tokens with and without the cache.")
def test_cached_generation_same_tokens(submission):
    model = _tiny_gpt(submission, block_size=32)
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    cached = submission.generate(model, prompt, 12, use_cache=True)
    plain = submission.generate(model, prompt, 12, use_cache=False)
    assert tuple(cached.shape) == (2, 15)
    np.testing.assert_array_equal(cached.numpy(), plain.numpy())
    np.testing.assert_array_equal(cached[:, :3].numpy(), prompt.numpy())


# ------------------------------------------------------------------ training
@part("training")
@points(2)
@hint("y is x shifted by one: y[:, t] is the token after x[:, t] in the data.")
def test_get_batch_shift(submission):
    data = torch.arange(100)
    x, y = submission.get_batch(data, 8, 5, submission.torch.Generator().manual_seed(0))
    assert tuple(x.shape) == (5, 8) and tuple(y.shape) == (5, 8)
    np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)  # data[i] = i, so the next token is x + 1
    np.testing.assert_array_equal(np.diff(x.numpy(), axis=1), 1)


@part("training")
@points(1)
@hint("lm_loss is the mean cross-entropy over all B*T positions.")
def test_lm_loss(submission):
    g = torch.Generator().manual_seed(1)
    logits, targets = torch.randn(2, 3, 5, generator=g), torch.randint(0, 5, (2, 3), generator=g)
    expected = torch.nn.functional.cross_entropy(logits.reshape(6, 5), targets.reshape(6))
    assert math.isclose(float(submission.lm_loss(logits, targets)), float(expected), rel_tol=1e-6)
