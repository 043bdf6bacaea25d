"""Public tests (shipped to students): shapes and worked examples, on tiny random GPTs (no base model needed)."""

import math

import numpy as np
import torch

from coursekit_student.testing import hint, part, points

TINY = dict(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=8)


def _tiny_gpt(submission, seed=0):
    submission.torch.manual_seed(seed)
    return submission.GPT(submission.GPTConfig(**TINY))


@part("reward_model")
@points(1)
@hint("-log sigmoid(2 - 0) = log(1 + e^-2) = 0.126928...")
def test_bt_loss_worked_example(submission):
    got = float(submission.bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])))
    assert math.isclose(got, (math.log1p(math.exp(-2)) + math.log(2)) / 2, rel_tol=1e-6)


@part("reward_model")
@points(1)
@hint("RewardModel(d, hidden) maps (N, d) to (N,).")
def test_reward_model_shape(submission):
    model = submission.RewardModel(3, 5)
    assert tuple(model(torch.zeros(4, 3)).shape) == (4,)


@part("dpo_loss")
@points(1)
@hint("token_logprobs returns (B, T - 1); sequence_logprobs returns (B,).")
def test_logprob_shapes(submission):
    model = _tiny_gpt(submission)
    idx = torch.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    assert tuple(submission.token_logprobs(model, idx).shape) == (2, 4)
    mask = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]], dtype=torch.bool)
    assert tuple(submission.sequence_logprobs(model, idx, mask).shape) == (2,)


@part("dpo_loss")
@points(1)
@hint("When the policy equals the reference the DPO loss is log 2, whatever beta.")
def test_dpo_loss_log2(submission):
    x, y = torch.tensor([-3.0, -7.0]), torch.tensor([-5.0, -1.0])
    assert math.isclose(float(submission.dpo_loss(x, y, x, y, 0.1)), math.log(2), rel_tol=1e-6)


@part("dpo_training")
@points(1)
@hint("dpo_train returns one loss per step; the first step's loss is log 2 (policy = reference).")
def test_dpo_train_first_loss(submission):
    policy, ref = _tiny_gpt(submission), _tiny_gpt(submission)
    idx = torch.tensor([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1]] * 2, dtype=torch.bool)
    losses = submission.dpo_train(policy, ref, idx, idx.flip(0), mask, mask.clone(),
                                  dict(lr=1e-3, beta=0.1, steps=3, batch_size=2, seed=0))
    assert len(losses) == 3 and math.isclose(float(losses[0]), math.log(2), rel_tol=1e-5)


@part("rlhf")
@points(1)
@hint("kl_penalty is (logp_policy - logp_ref) where mask is 1, and 0 elsewhere.")
def test_kl_penalty_worked_example(submission):
    got = submission.kl_penalty(torch.tensor([[-1.0, -2.0]]), torch.tensor([[-1.5, -1.0]]), torch.tensor([[1.0, 0.0]]))
    np.testing.assert_allclose(np.asarray(got), [[0.5, 0.0]])


@part("rlhf")
@points(1)
@hint("With one sample the baseline equals its total reward: the advantage, hence the loss, is 0.")
def test_reinforce_single_sample_zero(submission):
    loss, total = submission.reinforce_kl_loss(torch.tensor([[-1.0, -2.0]]), torch.tensor([[-1.5, -1.0]]),
                                               torch.tensor([[1.0, 1.0]]), torch.tensor([3.0]), 0.5)
    assert float(loss) == 0.0 and math.isclose(float(total[0]), 3.0 - 0.5 * (0.5 - 1.0), rel_tol=1e-6)


@part("evaluation")
@points(1)
@hint("win_rate([3, 1, 2], [1, 1, 5]) = (1 + 0.5 + 0) / 3 = 0.5")
def test_win_rate_worked_example(submission):
    assert math.isclose(float(submission.win_rate([3, 1, 2], [1, 1, 5])), 0.5)


@part("evaluation")
@points(1)
@hint("best_of_n picks argmax(proxy) among the first n candidates and averages the true score of the picks.")
def test_best_of_n_worked_example(submission):
    proxy = [[0.1, 0.9, 0.5], [0.7, 0.2, 0.8]]
    true = [[1.0, -1.0, 2.0], [3.0, 0.0, -3.0]]
    assert math.isclose(float(submission.best_of_n(proxy, true, 2)), (-1.0 + 3.0) / 2)
    assert math.isclose(float(submission.best_of_n(proxy, true, 3)), (-1.0 - 3.0) / 2)
