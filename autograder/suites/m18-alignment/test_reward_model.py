"""Hidden tests, part `reward_model`: the Bradley-Terry loss, the MLP, the training procedure replayed step
by step, and agreement with a hidden true reward on held-out pairs the test keeps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit_student.testing import hint, part, points, timeout

# Agreement bar. Calibrated (reference/m18-alignment/README.md): the reference agrees with the true preference
# on 0.88-0.95 of held-out pairs over seeds 0-2, a linear Bradley-Terry model 0.74-0.90; a random model 0.50
# and a constant one 0 (a tie counts as a disagreement). 0.80 leaves >= 0.08 to spare
# and the estimate on 4,000 pairs has a standard error of ~0.005.
AGREEMENT_BAR = 0.80
CONFIG = dict(hidden=32, lr=1e-2, weight_decay=0.0, steps=300, seed=0)


def true_reward(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return x @ w + 1.5 * np.sin(2 * x[:, 0]) - 0.5 * x[:, 1] ** 2


def bt_pairs(rng, n, w):
    a, b = rng.normal(size=(n, len(w))), rng.normal(size=(n, len(w)))
    a_wins = rng.random(n) < 1 / (1 + np.exp(-(true_reward(a, w) - true_reward(b, w))))
    chosen, rejected = np.where(a_wins[:, None], a, b), np.where(a_wins[:, None], b, a)
    return torch.tensor(chosen, dtype=torch.float32), torch.tensor(rejected, dtype=torch.float32)


def oracle_bt(rc, rr):
    return float(-F.logsigmoid(torch.as_tensor(rc, dtype=torch.float64) - torch.as_tensor(rr, dtype=torch.float64)).mean())


@part("reward_model")
@points(3)
@hint("bradley_terry_loss = -mean(log sigmoid(r_chosen - r_rejected)): the chosen reward comes first.")
def test_bt_loss_random(submission, rng):
    for n in (1, 7, 100):
        rc, rr = torch.tensor(rng.normal(0, 3, n), dtype=torch.float32), torch.tensor(rng.normal(0, 3, n), dtype=torch.float32)
        # float32 inputs: 1e-5 relative
        assert np.isclose(float(submission.bradley_terry_loss(rc, rr)), oracle_bt(rc, rr), rtol=1e-5, atol=1e-6)


@part("reward_model")
@points(2)
@hint("Use F.logsigmoid (or -softplus(-z)): log(sigmoid(z)) underflows to -inf for z = -200 in float32.")
def test_bt_loss_extreme_margins(submission):
    rc = torch.tensor([-5000.0, 200.0, 0.0, -200.0])
    rr = torch.tensor([5000.0, -200.0, 0.0, 0.0])
    got = float(submission.bradley_terry_loss(rc, rr))
    # exact: (10000 + 0 + log 2 + 200) / 4, up to float32 rounding of the large terms
    assert np.isfinite(got) and np.isclose(got, oracle_bt(rc, rr), rtol=1e-5)


@part("reward_model")
@points(1)
@hint("Raise ValueError when r_chosen and r_rejected differ in shape or are empty.")
def test_bt_loss_raises(submission):
    with pytest.raises(ValueError):
        submission.bradley_terry_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError):
        submission.bradley_terry_loss(torch.zeros(0), torch.zeros(0))


def _oracle_forward(state, x):
    s = {k: v.double() for k, v in state.items()}
    h = torch.relu(x.double() @ s["fc1.weight"].T + s["fc1.bias"])
    return (h @ s["fc2.weight"].T + s["fc2.bias"]).squeeze(-1)


@part("reward_model")
@points(2)
@hint("RewardModel: fc1 = nn.Linear(d, hidden), relu, fc2 = nn.Linear(hidden, 1); forward returns shape (N,).")
def test_reward_model_forward(submission, rng):
    model = submission.RewardModel(5, 7)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert sorted(state) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert tuple(state["fc1.weight"].shape) == (7, 5) and tuple(state["fc2.weight"].shape) == (1, 7)
    x = torch.tensor(rng.normal(size=(9, 5)), dtype=torch.float32)
    got = model(x)
    assert tuple(got.shape) == (9,)
    torch.testing.assert_close(got.double(), _oracle_forward(state, x), rtol=1e-5, atol=1e-6)


@part("reward_model")
@points(4)
@hint("train_reward_model: seed, build the model, AdamW(lr, weight_decay); every step: the loss on ALL pairs, "
      "zero_grad, backward, step. Return the model in eval mode.")
def test_train_reward_model_replayed(submission, rng):
    w = rng.normal(size=4)
    xc, xr = bt_pairs(rng, 50, w)
    config = dict(hidden=6, lr=0.05, weight_decay=0.1, steps=0, seed=3)
    init = {k: v.clone() for k, v in submission.train_reward_model(xc, xr, config).state_dict().items()}
    model = submission.train_reward_model(xc, xr, dict(config, steps=3))
    assert model.training is False
    got = {k: v.clone() for k, v in model.state_dict().items()}

    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = torch.optim.AdamW(params.values(), lr=0.05, weight_decay=0.1)
    for _ in range(3):
        loss = -F.logsigmoid(_oracle_forward(params, xc) - _oracle_forward(params, xr)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # three float32 AdamW steps of size ~lr = 0.05: summation-order noise ~1e-6; a missing or extra step,
    # another optimizer or a mini-batch moves weights by ~1e-2
    for k in got:
        torch.testing.assert_close(got[k], params[k].detach().float(), rtol=1e-4, atol=1e-4)


@part("reward_model")
@points(6)
@hint("The grader trains your reward model on noisy Bradley-Terry pairs and counts how often sign(r(a) - r(b)) "
      "agrees with the hidden true preference on fresh pairs (a tie counts as a disagreement).")
@timeout(120)
def test_reward_model_agrees_with_true_preference(submission, rng):
    w = rng.normal(size=6)
    xc, xr = bt_pairs(rng, 2000, w)
    model = submission.train_reward_model(xc, xr, CONFIG)
    a, b = rng.normal(size=(4000, 6)), rng.normal(size=(4000, 6))
    ra = np.asarray(model(torch.tensor(a, dtype=torch.float32)).detach(), dtype=float)
    rb = np.asarray(model(torch.tensor(b, dtype=torch.float32)).detach(), dtype=float)
    agreement = np.mean(np.sign(ra - rb) == np.sign(true_reward(a, w) - true_reward(b, w)))
    assert agreement >= AGREEMENT_BAR
