"""Hidden tests, part `batching` (18 points + 2 public): left padding, and a padded batch whose logits at
every real position equal each prompt run alone (so positions restart at each row's first real token and
padding keys are masked), and batched greedy decoding identical to one prompt at a time."""

import pytest
import torch

from coursekit_student.testing import hint, part, points

TOL = dict(rtol=1e-4, atol=1e-4)  # float32, other shapes (other summation order): ~1e-5 on logits of ~5


@part("batching")
@points(4)
@hint("left_pad puts each sequence at the RIGHT end of its row (padding on the left), fills the rest with "
      "pad_id, returns (idx int64, mask bool True on real tokens), and raises ValueError for no or empty sequences.")
def test_left_pad_layout(submission, rng):
    seqs = [rng.integers(1, 65, size=int(n)).tolist() for n in rng.integers(1, 12, size=5)]
    pad = int(rng.integers(0, 65))
    idx, mask = submission.left_pad(seqs, pad)
    T = max(len(s) for s in seqs)
    assert idx.dtype == torch.int64 and mask.dtype == torch.bool and idx.shape == mask.shape == (5, T)
    for row, s in enumerate(seqs):
        assert idx[row].tolist() == [pad] * (T - len(s)) + s
        assert mask[row].tolist() == [False] * (T - len(s)) + [True] * len(s)
    for bad in ([], [[1, 2], []]):
        with pytest.raises(ValueError):
            submission.left_pad(bad, 0)


@part("batching")
@points(7)
@hint("In forward_padded, a row's first real token gets position 0 (cumsum of the mask minus 1), no query "
      "attends to a padding key, and every query may see itself (so padding rows stay finite).")
def test_padded_logits_equal_each_prompt_alone(submission, rng, base, val_ids, oracle):
    model = oracle.to_worker(submission, base)
    prompts = oracle.held_out_prompts(val_ids, rng, 4, 1, 30)
    prompts[0] = prompts[0][:1]  # one row is almost all padding
    T = max(len(p) for p in prompts)
    idx = torch.zeros(4, T, dtype=torch.long)
    mask = torch.zeros(4, T, dtype=torch.bool)
    for row, p in enumerate(prompts):  # built here, so a left_pad mistake is not charged twice
        idx[row, T - len(p):], mask[row, T - len(p):] = torch.tensor(p), True
    idx[~mask] = int(rng.integers(0, 65))  # whatever sits in the padding must not matter
    logits = submission.forward_padded(model, idx, mask)
    assert logits.shape == (4, T, 65) and bool(torch.isfinite(logits).all())
    with torch.no_grad():
        for row, p in enumerate(prompts):
            torch.testing.assert_close(logits[row, T - len(p):], base(torch.tensor([p]))[0], **TOL)


@part("batching")
@points(5)
@hint("generate_batch_greedy: for each prompt, the same max_new_tokens ids that greedy decoding of that prompt "
      "alone gives, as a list of lists of Python ints (not a tensor).")
def test_batched_greedy_equals_one_prompt_at_a_time(submission, rng, base, val_ids, oracle):
    model = oracle.to_worker(submission, base)
    prompts = oracle.held_out_prompts(val_ids, rng, 3, 2, 20)
    n = int(rng.integers(10, 64 - max(len(p) for p in prompts)))
    got = submission.generate_batch_greedy(model, prompts, n, 0)
    # the docstring's type: a list with one list of ints per prompt
    assert isinstance(got, list) and all(isinstance(g, list) and all(isinstance(t, int) for t in g) for g in got)
    assert got == [oracle.greedy(base, p, n) for p in prompts]


@part("batching")
@points(2)
@hint("generate_batch_greedy raises ValueError when the longest prompt + max_new_tokens > block_size (64).")
def test_batched_generation_respects_block_size(submission, base, oracle):
    model = oracle.to_worker(submission, base)
    with pytest.raises(ValueError):
        submission.generate_batch_greedy(model, [[1] * 30, [2] * 5], 35)
    assert len(submission.generate_batch_greedy(model, [[1] * 30, [2] * 5], 34)[1]) == 34
