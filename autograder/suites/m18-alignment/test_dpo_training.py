"""Hidden tests, part `dpo_training`: the DPO loop replayed step by step on the base GPT against a trusted
oracle, and DPO on real preference pairs: the test builds the pairs itself (two samples of the base model per
prompt, the one with more vowels chosen), trains through the student's dpo_train, then samples from the
trained weights HERE on held-out prompts and measures the win-rate against the base model and the KL to it."""

import importlib.util
import numbers
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from coursekit_student.testing import cpu_smoke, gpu, hint, kit, part, points, timeout


def _load(name: str):
    # the grader imports suites with --import-mode=importlib: siblings are loaded by path
    spec = importlib.util.spec_from_file_location(f"_m18_{name}", Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TA = _load("trusted_align")

P, N_NEW = 16, 24
CONFIG = dict(lr=5e-5, beta=0.1, steps=40, batch_size=32, seed=0)
# Bars (reference/m18-alignment/README.md): the reference reaches a win-rate of ~0.80 with a KL of ~4 nats per
# completion; the base model itself scores ~0.5 (0.45 measured) and 0. A policy pushed 20x harder (lr 1e-3) wins ~1.0 with a KL
# of ~65 nats and degenerate text, so the KL bar is part of the test. 256 held-out prompts: the win-rate's
# standard error is ~0.03.
WIN_BAR, KL_BAR = 0.65, 10.0


def _pairs(base, train_ids, tok, n_prompts: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    prompts = TA.random_prompts(train_ids, n_prompts, P, gen)
    a, b = TA.trusted_sample(base, prompts, N_NEW, gen), TA.trusted_sample(base, prompts, N_NEW, gen)
    w = TA.vowel_weights(tok)
    ra, rb = TA.char_reward(a, P, w), TA.char_reward(b, P, w)
    keep = ra != rb
    chosen = torch.where((ra > rb)[:, None], a, b)[keep]
    rejected = torch.where((ra > rb)[:, None], b, a)[keep]
    mask = torch.zeros_like(chosen, dtype=torch.bool)
    mask[:, P:] = True
    return chosen, rejected, mask


@part("dpo_training")
@points(6)
@hint("dpo_train: reference log-probs once (no_grad), Adam(lr) on the policy, g = Generator().manual_seed(seed), "
      "each step b = torch.randint(0, N, (batch_size,), generator=g), the policy's log-probs of chosen[b] and "
      "rejected[b], dpo_loss, zero_grad, backward, step. Return every step's loss.")
@timeout(300)
def test_dpo_train_replayed(submission, base_bundle, rng):
    base, *_ = base_bundle
    N, T = 6, 28
    chosen = torch.from_numpy(rng.integers(0, 65, size=(N, T)))
    rejected = torch.from_numpy(rng.integers(0, 65, size=(N, T)))
    mask_c = torch.zeros(N, T, dtype=torch.bool)
    mask_r = torch.zeros(N, T, dtype=torch.bool)
    mask_c[:, 10:] = True
    mask_r[:, 12:25] = True     # another prompt length and padding: the two masks must not be mixed up
    config = dict(lr=1e-3, beta=0.5, steps=3, batch_size=4, seed=7)
    policy, ref = TA.to_worker(submission, base), TA.to_worker(submission, base)
    returned = list(submission.dpo_train(policy, ref, chosen, rejected, mask_c, mask_r, config))
    # "a list of `steps` floats": Python/NumPy floats (loss.item()), not loss tensors
    assert all(isinstance(v, numbers.Real) for v in returned), "dpo_train returns floats"
    losses = [float(v) for v in returned]
    got = {k: v.clone() for k, v in policy.state_dict().items()}
    ref_after = {k: v.clone() for k, v in ref.state_dict().items()}

    oracle = TA.GPT.from_state(TA.dataclasses.asdict(base.config), base.state_dict())
    oracle.train()
    with torch.no_grad():
        ref_c = (TA.oracle_token_logprobs(base, chosen) * mask_c[:, 1:]).sum(1)
        ref_r = (TA.oracle_token_logprobs(base, rejected) * mask_r[:, 1:]).sum(1)
    opt = torch.optim.Adam(oracle.parameters(), lr=config["lr"])
    g = torch.Generator().manual_seed(config["seed"])
    expected = []
    for _ in range(config["steps"]):
        b = torch.randint(0, N, (config["batch_size"],), generator=g)
        pc = (TA.oracle_token_logprobs(oracle, chosen[b]) * mask_c[b][:, 1:]).sum(1)
        pr = (TA.oracle_token_logprobs(oracle, rejected[b]) * mask_r[b][:, 1:]).sum(1)
        loss = -F.logsigmoid(config["beta"] * ((pc - ref_c[b]) - (pr - ref_r[b]))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        expected.append(loss.item())
    # float32 model vs the oracle's float64 loss on the same float32 logits: the losses agree to ~1e-6, and a
    # wrong batch, sign, mask or beta changes them at the second step by >= 1e-3
    np.testing.assert_allclose(losses, expected, rtol=1e-4, atol=1e-5)
    # The weights: compare the whole update. Adam divides each gradient by its own running norm, so the key bias
    # (which softmax ignores: its gradient is rounding noise, ~1e-10) moves by ~lr in a noise-dependent direction
    # on both sides; it is left out. The rest agrees to ~1e-4 of the update's norm (measured 1e-5 to 7e-5 with 1
    # and 2 threads), while a wrong batch, sign, mask or beta changes its direction (a relative difference ~1).
    start, C = base.state_dict(), base.config.n_embd

    def update(weights):
        # the key bias (entries C..2C of qkv.bias) is left out: its gradient is pure rounding noise
        return torch.cat([torch.cat([(weights[k] - start[k])[:C], (weights[k] - start[k])[2 * C:]])
                          if k.endswith("attn.qkv.bias") else (weights[k] - start[k]).flatten() for k in start])

    delta_got, delta_oracle = update(got), update(oracle.state_dict())
    assert float((delta_got - delta_oracle).norm()) <= 1e-3 * float(delta_oracle.norm())
    for k, v in base.state_dict().items():
        torch.testing.assert_close(ref_after[k], v, rtol=0, atol=0)


@part("dpo_training")
@points(2)
@hint("The reference is put in eval mode before its log-probs are computed, the policy in train mode for the loop; "
      "on return the policy and the reference must be in eval mode (and on the CPU); the reference is frozen.")
def test_dpo_train_returns_eval_models(submission, base_bundle, rng):
    base, *_ = base_bundle
    idx = torch.from_numpy(rng.integers(0, 65, size=(3, 20)))
    mask = torch.zeros(3, 20, dtype=torch.bool)
    mask[:, 5:] = True
    policy, ref = TA.to_worker(submission, base), TA.to_worker(submission, base)
    losses = submission.dpo_train(policy, ref, idx, idx.flip(1), mask, mask.clone(),
                                  dict(lr=1e-4, beta=0.1, steps=2, batch_size=2, seed=0))
    assert len(losses) == 2
    assert policy.training is False and ref.training is False
    # The modes during the loop (the GPT has no dropout, so they are invisible in its numbers): models whose
    # BatchNorm1d over the T - 1 positions (affine=False: no parameters) adds 1 to num_batches_tracked per
    # training-mode forward pass. The policy arrives in eval mode, the reference in train mode: the policy must
    # run in train mode (one pass per step, or two: chosen and rejected separately), the reference never.
    nn = submission.torch.nn
    counted = [nn.Sequential(nn.Embedding(65, 65), nn.BatchNorm1d(19, affine=False)) for _ in range(2)]
    counted[0].eval()
    submission.dpo_train(counted[0], counted[1], idx, idx.flip(1), mask, mask.clone(),
                         dict(lr=1e-4, beta=0.1, steps=2, batch_size=2, seed=0))
    passes = [int(np.asarray(m[1].num_batches_tracked)) for m in counted]
    assert passes[0] in (2, 4), f"the policy ran {passes[0]} training-mode forward passes in 2 steps"
    assert passes[1] == 0, "the reference must be in eval mode when its log-probs are computed"
    assert counted[0].training is False and counted[1].training is False


def _dpo_run(submission, base_bundle, device, deadline):
    base, tok, train_ids, heldout_ids = base_bundle
    chosen, rejected, mask = _pairs(base, train_ids, tok, 256, seed=0)
    policy, ref = TA.to_worker(submission, base), TA.to_worker(submission, base)
    with kit(submission).deadline(deadline):
        submission.dpo_train(policy, ref, chosen, rejected, mask, mask.clone(), dict(CONFIG, device=device))
    trained = TA.from_worker(policy, base.config)
    result = TA.evaluate_policy(trained, base, heldout_ids, TA.vowel_weights(tok), P, N_NEW, 256, seed=1)
    assert result["win_rate"] >= WIN_BAR, "the policy must beat the base model on the preference"
    assert result["kl"] <= KL_BAR, "the policy must stay close to the reference model"


@part("dpo_training")
@points(11)
@gpu
@hint("The grader builds preference pairs (more vowels preferred), trains a copy of the base GPT with your "
      "dpo_train, then samples from it on held-out prompts: it must win against the base model while its KL "
      "to the base stays small.")
@timeout(300)
def test_dpo_aligns_base_gpt(submission, base_bundle, device):
    _dpo_run(submission, base_bundle, device, deadline=240)


@part("dpo_training")
@points(11)
@cpu_smoke
@hint("The grader builds preference pairs (more vowels preferred), trains a copy of the base GPT with your "
      "dpo_train, then samples from it on held-out prompts: it must win against the base model while its KL "
      "to the base stays small.")
@timeout(400)
def test_dpo_aligns_base_gpt_cpu(submission, base_bundle):
    _dpo_run(submission, base_bundle, "cpu", deadline=300)
