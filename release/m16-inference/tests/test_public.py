"""Public tests (shipped to students): a small random GPT of the base architecture, shapes and worked
examples. The grader's hidden tests use the pretrained base model and check much more."""

import pytest
import torch

from coursekit_student.testing import hint, part, points


def _small_gpt(submission, layers=2):
    submission.torch.manual_seed(0)
    return submission.GPT(submission.GPTConfig(65, 32, layers, 2, 16)).eval()


@part("kv_cache")
@points(2)
@hint("Prefill, then one token at a time: the cached logits must equal model(whole sequence).")
def test_cached_logits_equal_the_plain_forward(submission):
    model = _small_gpt(submission)
    idx = torch.arange(10)[None] % 65
    cache = submission.KVCache(2)
    first = submission.forward_with_cache(model, idx[:, :7], cache)
    rest = [submission.forward_with_cache(model, idx[:, t:t + 1], cache) for t in range(7, 10)]
    assert cache.length == 10
    torch.testing.assert_close(torch.cat([first, *rest], dim=1), model(idx), rtol=1e-4, atol=1e-4)
    assert submission.attention_dot_products(3, 2, 1, 1, True) == 9 + 4
    assert submission.attention_dot_products(3, 2, 1, 1, False) == 9 + 16


@part("quantization")
@points(2)
@hint("Per row: scale = max|w| / 127; q = round(w / scale) as int8.")
def test_quantize_a_small_matrix(submission):
    q, scale = submission.quantize_int8(torch.tensor([[1.0, -0.6, 0.25], [0.0, 0.0, 0.0], [-254.0, 127.0, 1.0]]))
    torch.testing.assert_close(scale, torch.tensor([1 / 127, 1.0, 2.0]))
    assert q.dtype == torch.int8 and q.tolist() == [[127, -76, 32], [0, 0, 0], [-127, 64, 0]]
    torch.testing.assert_close(submission.dequantize_int8(q, scale)[2], torch.tensor([-254.0, 128.0, 0.0]))


@part("speculative")
@points(2)
@hint("With the target as its own draft every guess is accepted; the output is the target's greedy output.")
def test_a_perfect_draft_is_always_accepted(submission):
    model = _small_gpt(submission)
    prompt = torch.tensor([[1, 2, 3]])
    out, accepted, proposed = submission.speculative_greedy(model, model, prompt, 10, 3)
    assert out.tolist() == submission.generate_greedy(model, prompt, 10).tolist()
    assert (accepted, proposed) == (8, 8)  # rounds: 3 guesses + 1 bonus, 3 + 1, then the last 2 (min(k, needed))
    accept, residual = submission.speculative_accept(torch.tensor([0.1, 0.9]), torch.tensor([0.5, 0.5]), 0, 0.5)
    assert not accept and residual.tolist() == [0.0, 1.0]


@part("batching")
@points(2)
@hint("Left padding: real tokens at the right end of each row; mask True on them.")
def test_left_pad_and_padded_forward(submission):
    idx, mask = submission.left_pad([[5, 6, 7], [8]], pad_id=0)
    assert idx.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[True, True, True], [False, False, True]]
    model = _small_gpt(submission)
    logits = submission.forward_padded(model, idx, mask)
    torch.testing.assert_close(logits[1, -1], model(torch.tensor([[8]]))[0, -1], rtol=1e-4, atol=1e-4)
