"""Hidden tests, part `dpo_loss`: token and sequence log-probabilities under the base GPT (prompt and padding
masked) against a float64 oracle, and the DPO loss against its formula (signs, beta, the reference)."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit_student.testing import hint, part, points


def _load(name: str):
    # the grader imports suites with --import-mode=importlib: siblings are loaded by path
    spec = importlib.util.spec_from_file_location(f"_m18_{name}", Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TA = _load("trusted_align")
oracle_token_logprobs, to_worker = TA.oracle_token_logprobs, TA.to_worker


@part("dpo_loss")
@points(4)
@hint("token_logprobs: logits of idx[:, :-1]; column t is log softmax(...)[t, idx[t + 1]], shape (B, T - 1).")
def test_token_logprobs_base(submission, base_bundle, rng):
    base, tok, train_ids, _ = base_bundle
    model = to_worker(submission, base)
    for B, T in ((1, 2), (3, 20), (2, 64 + 1)):
        idx = torch.from_numpy(rng.integers(0, 65, size=(B, T)))
        got = submission.token_logprobs(model, idx)
        assert tuple(got.shape) == (B, T - 1)
        # float32 forward (the worker) vs float64 log-softmax of the same float32 logits: ~1e-6
        with torch.no_grad():
            torch.testing.assert_close(got.double(), oracle_token_logprobs(base, idx), rtol=1e-4, atol=1e-4)


def _masked(rng, B, T, prompt_lens, ends):
    mask = np.zeros((B, T), dtype=bool)
    for i, (p, e) in enumerate(zip(prompt_lens, ends)):
        mask[i, p:e] = True
    return torch.from_numpy(mask)


@part("dpo_loss")
@points(4)
@hint("sequence_logprobs sums token log-probs over the completion only: position t is scored by column t - 1 "
      "of token_logprobs, and mask[:, t] says whether token t counts (prompt and padding do not).")
def test_sequence_logprobs_masks_prompt_and_padding(submission, base_bundle, rng):
    base, *_ = base_bundle
    model = to_worker(submission, base)
    B, T = 5, 30
    idx = torch.from_numpy(rng.integers(0, 65, size=(B, T)))
    mask = _masked(rng, B, T, prompt_lens=[1, 5, 10, 29, 3], ends=[30, 20, 30, 30, 3])  # last row: nothing
    got = submission.sequence_logprobs(model, idx, mask)
    with torch.no_grad():
        expected = (oracle_token_logprobs(base, idx) * mask[:, 1:].double()).sum(dim=1)
    assert tuple(got.shape) == (B,)
    # sums of up to 29 float32 log-probs of magnitude ~5: 1e-4 absolute
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)
    # a 0/1 float mask means the same thing
    torch.testing.assert_close(submission.sequence_logprobs(model, idx, mask.float()).double(), expected,
                               rtol=1e-5, atol=1e-4)


@part("dpo_loss")
@points(2)
@hint("Raise ValueError if mask's shape differs from idx's or if any mask[:, 0] is true.")
def test_sequence_logprobs_raises(submission, base_bundle):
    base, *_ = base_bundle
    model = to_worker(submission, base)
    idx = torch.zeros(2, 6, dtype=torch.long)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[1, 0] = True
    with pytest.raises(ValueError):
        submission.sequence_logprobs(model, idx, mask)
    with pytest.raises(ValueError):
        submission.sequence_logprobs(model, idx, torch.zeros(2, 5, dtype=torch.bool))


def oracle_dpo(pc, pr, rc, rr, beta):
    pc, pr, rc, rr = (torch.as_tensor(v, dtype=torch.float64) for v in (pc, pr, rc, rr))
    return float(-F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean())


@part("dpo_loss")
@points(5)
@hint("DPO: -mean(log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r)))). The chosen log-ratio is the one that "
      "must grow; beta multiplies the difference of log-ratios.")
def test_dpo_loss_random(submission, rng):
    for n, beta in ((1, 0.1), (16, 0.5), (64, 2.0)):
        pc, pr, rc, rr = (torch.tensor(rng.normal(-30, 8, n), dtype=torch.float32) for _ in range(4))
        got = float(submission.dpo_loss(pc, pr, rc, rr, beta))
        assert np.isclose(got, oracle_dpo(pc, pr, rc, rr, beta), rtol=1e-5, atol=1e-6)
    same = torch.tensor(rng.normal(-30, 8, 8), dtype=torch.float32)
    other = torch.tensor(rng.normal(-30, 8, 8), dtype=torch.float32)
    # policy == reference: exactly log 2 whatever the sequences
    assert np.isclose(float(submission.dpo_loss(same, other, same, other, 0.3)), math.log(2), rtol=1e-6)


@part("dpo_loss")
@points(2)
@hint("Use F.logsigmoid: a log-ratio margin of -1e4 must give a finite loss (about beta * 1e4).")
def test_dpo_loss_extreme(submission):
    pc, pr = torch.tensor([-1e4, 0.0]), torch.tensor([0.0, -1e4])
    zero = torch.zeros(2)
    got = float(submission.dpo_loss(pc, pr, zero, zero, 1.0))
    assert np.isfinite(got) and np.isclose(got, oracle_dpo(pc, pr, zero, zero, 1.0), rtol=1e-5)


@part("dpo_loss")
@points(1)
@hint("beta must be > 0: raise ValueError for beta <= 0.")
def test_dpo_loss_beta_raises(submission):
    x = torch.zeros(3)
    for beta in (0.0, -0.1):
        with pytest.raises(ValueError):
            submission.dpo_loss(x, x, x, x, beta)
