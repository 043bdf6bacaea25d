"""Hidden tests, part `rlhf`: the per-token KL estimate and the REINFORCE loss against their formulas, one
rlhf_step on the base GPT replayed against a trusted oracle (a missing detach or a shifted mask changes the
weights), and a short RLHF run: the test samples from the trained weights HERE on held-out prompts and
measures the reward gain over the base model and the KL to it."""

import importlib.util
import numbers
from pathlib import Path

import numpy as np
import torch

from coursekit_student.testing import cpu_smoke, gpu, hint, kit, part, points, timeout


def _load(name: str):
    # the grader imports suites with --import-mode=importlib: siblings are loaded by path
    spec = importlib.util.spec_from_file_location(f"_m18_{name}", Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TA = _load("trusted_align")

P, N_NEW = 16, 16
CONFIG = dict(lr=1e-3, beta=0.05, steps=40, batch_size=32, n_new=N_NEW, seed=0)
# Bars (reference/m18-alignment/README.md): the reference raises the mean vowel fraction of held-out samples
# by ~0.09 over the base model (0.295) with a KL of ~13 nats per 16-character completion; the base model itself
# gains 0 (the estimate's standard error on 256 prompts is ~0.008). KL_BAR bounds the drift.
GAIN_BAR, KL_BAR = 0.04, 30.0


def oracle_loss(logp, logp_ref, mask, rewards, beta):
    mask = mask.double()
    total = rewards - beta * ((logp.detach() - logp_ref) * mask).sum(1)
    return -((total - total.mean()) * (logp * mask).sum(1)).mean(), total


@part("rlhf")
@points(2)
@hint("kl_penalty = (logp_policy - logp_ref) * mask: zero where the mask is 0 (prompt, padding).")
def test_kl_penalty(submission, rng):
    lp, lr = torch.tensor(rng.normal(-2, 1, (4, 9))), torch.tensor(rng.normal(-2, 1, (4, 9)))
    mask = torch.from_numpy(rng.random((4, 9)) < 0.6)
    got = submission.kl_penalty(lp, lr, mask)
    torch.testing.assert_close(torch.as_tensor(got).double(), (lp - lr) * mask.double(), rtol=1e-12, atol=1e-12)


@part("rlhf")
@points(4)
@hint("total = rewards - beta * sum_t k_t; loss = -mean((total - mean(total)) * sum_t mask * logp_policy).")
def test_reinforce_kl_loss_values(submission, rng):
    for B, L, beta in ((5, 7, 0.1), (16, 20, 1.0), (3, 4, 0.0)):
        lp, lr = torch.tensor(rng.normal(-2, 1, (B, L))), torch.tensor(rng.normal(-2, 1, (B, L)))
        mask = torch.from_numpy(rng.random((B, L)) < 0.7).double()
        rewards = torch.tensor(rng.normal(size=B))
        loss, total = submission.reinforce_kl_loss(lp, lr, mask, rewards, beta)
        exp_loss, exp_total = oracle_loss(lp, lr, mask, rewards, beta)
        # float64 in, float64 out: 1e-10
        assert np.isclose(float(loss), float(exp_loss), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(torch.as_tensor(total).double(), exp_total, rtol=1e-10, atol=1e-10)


@part("rlhf")
@points(5)
@hint("rlhf_step: the policy's token log-probs WITH gradient, the reference's without; the mask covers the "
      "columns prompt_len - 1 onwards; the KL in the total reward is computed from detached log-probs (it is a "
      "weight, not a path for the gradient); then zero_grad, backward, step.")
@timeout(300)
def test_rlhf_step_replayed(submission, base_bundle, rng):
    base, tok, train_ids, _ = base_bundle
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 30)))
    prompt_len = 12
    seq = TA.trusted_sample(base, TA.random_prompts(train_ids, 6, prompt_len, gen), 10, gen)
    weights = torch.tensor(rng.normal(size=65), dtype=torch.float32)
    # start from a policy that already differs from the reference, so the KL term is not zero
    start = TA.GPT.from_state(TA.dataclasses.asdict(base.config), base.state_dict())
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.02 * torch.from_numpy(rng.normal(size=tuple(p.shape))).float())
    policy, ref = TA.to_worker(submission, start), TA.to_worker(submission, base)
    optimizer = submission.torch.optim.SGD(policy.parameters(), lr=0.05)
    mean_reward = submission.rlhf_step(policy, ref, optimizer, seq, prompt_len, weights, 0.5)
    assert isinstance(mean_reward, numbers.Real), "rlhf_step returns a float (.item())"
    mean_reward = float(mean_reward)
    got = {k: v.clone() for k, v in policy.state_dict().items()}

    oracle = TA.GPT.from_state(TA.dataclasses.asdict(start.config), start.state_dict())
    logp = TA.oracle_token_logprobs(oracle, seq)
    with torch.no_grad():
        logp_ref = TA.oracle_token_logprobs(base, seq)
    mask = torch.zeros_like(logp)
    mask[:, prompt_len - 1:] = 1.0
    rewards = weights.double()[seq[:, prompt_len:]].mean(1)
    loss, _ = oracle_loss(logp, logp_ref, mask, rewards, 0.5)
    opt = torch.optim.SGD(oracle.parameters(), lr=0.05)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert np.isclose(mean_reward, rewards.mean().item(), rtol=1e-5, atol=1e-6)
    # one SGD step: float32 gradients vs float64 oracle loss on float32 logits, ~1e-7; the wrong mask or an
    # undetached KL changes the update by ~1e-3 of a weight of size ~0.1
    for k, v in oracle.state_dict().items():
        torch.testing.assert_close(got[k], v, rtol=1e-4, atol=1e-5)


@part("rlhf")
@points(1)
@hint("rlhf_train: each step draws b = torch.randint(0, N, (batch_size,), generator=g) over ALL N prompts; the policy "
      "samples in eval mode (the notebook's sample, the same g) and is updated by rlhf_step in train mode with ONE "
      "Adam for the whole run; ref stays in eval mode for the whole run; return the mean reward of every step as floats.")
def test_rlhf_train_batches_and_modes(submission):
    # A policy that maps its last token deterministically: prompt 0 ends in token 0 -> always samples token 5
    # (reward 1), prompt 1 ends in token 1 -> token 6 (reward 0); logit margins of 50 make the draw certain (the
    # other tokens have probability < 1e-21). So step 1's mean reward is the fraction of b == 0, b drawn here with
    # the documented generator. The models also count their training-mode forward passes: a BatchNorm1d over the
    # P positions (affine=False: no parameters) adds 1 to num_batches_tracked at each. With block_size = P and
    # n_new = 1 both the sampling window and token_logprobs' input are P long.
    V, P, seed, batch = 8, 3, 3, 8
    W = torch.zeros(V, V)
    W[0, 5] = W[1, 6] = 50.0
    prompts = torch.tensor([[2, 2, 0], [2, 2, 1]])
    weights = torch.zeros(V)
    weights[5] = 1.0
    nn = submission.torch.nn
    models = []
    for _ in range(2):
        m = nn.Sequential(nn.Embedding(V, V), nn.BatchNorm1d(P, affine=False))
        m.load_state_dict({"0.weight": W, "1.running_mean": torch.zeros(P), "1.running_var": torch.ones(P),
                           "1.num_batches_tracked": torch.tensor(0)})
        m.block_size = P
        models.append(m)
    policy, ref = models  # both arrive in train mode
    config = dict(lr=1e-3, beta=0.1, steps=3, batch_size=batch, n_new=1, seed=seed)
    rewards = list(submission.rlhf_train(policy, ref, prompts, weights, config))
    assert len(rewards) == 3 and all(isinstance(r, numbers.Real) for r in rewards)
    b = torch.randint(0, 2, (batch,), generator=torch.Generator().manual_seed(seed))
    assert 0 < int((b == 0).sum()) < batch  # this seed draws both prompts
    # the reward of 8 samples is a multiple of 1/8, exact in float32
    assert abs(float(rewards[0]) - float((b == 0).double().mean())) < 1e-6, "batches over all N prompts"
    passes = [int(np.asarray(m[1].num_batches_tracked)) for m in models]
    assert passes[0] == 3, f"the policy ran {passes[0]} training-mode forward passes in 3 steps (sampling: eval)"
    assert passes[1] == 0, "the reference must be in eval mode for the whole run"
    assert policy.training is False and ref.training is False
    # The whole run replayed here (the documented batches, the notebook's sampler on the same g, rlhf_step's loss,
    # ONE Adam for the run). Batches of 2 with seed 0 draw a mixed batch, then [1, 1] and [0, 0]: equal samples
    # give equal totals, advantages of exactly 0 and a zero gradient, so only Adam's moments move the weights
    # there. A fresh Adam per step (moments restarted) ends 1.6e-2 away; float32 rounding of entries of 50 is
    # ~4e-6 (identical on 1 and 2 threads).
    config = dict(lr=1e-2, beta=0.1, steps=4, batch_size=2, n_new=1, seed=0)
    policy, ref = (_counting_model(nn, V, P, W) for _ in range(2))
    submission.rlhf_train(policy, ref, prompts, weights, config)
    got = torch.as_tensor(policy.state_dict()["0.weight"]).detach().float()
    expected = _oracle_rlhf_run(_counting_model(torch.nn, V, P, W), _counting_model(torch.nn, V, P, W),
                                prompts, weights, config)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)


def _counting_model(nn, V, P, W):
    m = nn.Sequential(nn.Embedding(V, V), nn.BatchNorm1d(P, affine=False))
    m.load_state_dict({"0.weight": W, "1.running_mean": torch.zeros(P), "1.running_var": torch.ones(P),
                       "1.num_batches_tracked": torch.tensor(0)})
    m.block_size = P
    return m


def _oracle_rlhf_run(policy, ref, prompts, weights, config):
    """rlhf_train's documented procedure on this side, float32 like the notebook (its `sample`: softmax of the
    float logits, one torch.multinomial per new token on the same generator as the batches)."""
    P = prompts.shape[1]
    ref.eval()
    opt = torch.optim.Adam(policy.parameters(), lr=config["lr"])
    g = torch.Generator().manual_seed(config["seed"])
    for _ in range(config["steps"]):
        b = torch.randint(0, len(prompts), (config["batch_size"],), generator=g)
        policy.eval()
        seq = prompts[b]
        with torch.no_grad():
            for _ in range(config["n_new"]):
                probs = torch.softmax(policy(seq[:, -policy.block_size:])[:, -1, :].float(), dim=-1)
                seq = torch.cat([seq, torch.multinomial(probs, 1, generator=g)], dim=1)
        policy.train()
        logp = torch.gather(torch.log_softmax(policy(seq[:, :-1]).float(), dim=-1), 2, seq[:, 1:, None]).squeeze(2)
        with torch.no_grad():
            logp_ref = torch.gather(torch.log_softmax(ref(seq[:, :-1]).float(), dim=-1), 2, seq[:, 1:, None]).squeeze(2)
        mask = torch.zeros_like(logp)
        mask[:, P - 1:] = 1.0
        rewards = weights[seq[:, P:]].float().mean(dim=1)
        total = rewards - config["beta"] * ((logp.detach() - logp_ref) * mask).sum(1)
        loss = -((total - total.mean()) * (logp * mask).sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return policy[0].weight.detach().clone()


def _rlhf_run(submission, base_bundle, device, deadline):
    base, tok, train_ids, heldout_ids = base_bundle
    prompts = TA.random_prompts(train_ids, 512, P, torch.Generator().manual_seed(0))
    weights = TA.vowel_weights(tok)
    policy, ref = TA.to_worker(submission, base), TA.to_worker(submission, base)
    with kit(submission).deadline(deadline):
        rewards = submission.rlhf_train(policy, ref, prompts, weights, dict(CONFIG, device=device))
    assert len(rewards) == CONFIG["steps"], "one mean reward per step"
    assert policy.training is False and ref.training is False, "return the models in eval mode"
    trained = TA.from_worker(policy, base.config)
    result = TA.evaluate_policy(trained, base, heldout_ids, weights, P, N_NEW, 256, seed=1)
    assert result["reward"] - result["base_reward"] >= GAIN_BAR, "the reward must rise"
    assert result["kl"] <= KL_BAR, "the KL to the reference must stay bounded"


@part("rlhf")
@points(11)
@gpu
@hint("The grader runs your rlhf_train towards a per-character reward, then samples from the trained weights on "
      "held-out prompts: the reward must rise over the base model's while the KL to it stays bounded.")
@timeout(300)
def test_rlhf_raises_reward(submission, base_bundle, device):
    _rlhf_run(submission, base_bundle, device, deadline=240)


@part("rlhf")
@points(11)
@cpu_smoke
@hint("The grader runs your rlhf_train towards a per-character reward, then samples from the trained weights on "
      "held-out prompts: the reward must rise over the base model's while the KL to it stays bounded.")
@timeout(400)
def test_rlhf_raises_reward_cpu(submission, base_bundle):
    _rlhf_run(submission, base_bundle, "cpu", deadline=300)
