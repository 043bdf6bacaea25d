"""Hidden tests, part reinforce: returns-to-go against a matrix oracle, one reinforce_update step against the
same step taken here (parameters of both networks after the step), greedy actions, and a trained policy
the grader runs on CartPole episodes it seeds. Points: 2 public + 18 hidden = 20.
"""
import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from coursekit_student.testing import hint, kit, part, points, timeout

# Calibration (reference/m11-reinforcement-learning/calibration.json): the reference's greedy policy after 200
# episodes averages 123-496 over 10 episodes (6 seeds; 12 seeds in all with the first runs, minimum 123); a
# uniformly random agent averages 20, the untrained policy (greedy on random logits) 9.2-9.5. Bar: mean
# return >= 75 over 10 grader-seeded episodes for 2 of 3 seeds.
RETURN_BAR = 75.0


def oracle_returns(rewards, gamma):
    """G = U r with U[t, k] = gamma^(k - t) for k >= t: a different computation from the backward loop."""
    T = len(rewards)
    t = np.arange(T)
    U = np.triu(np.power(float(gamma), np.maximum(t[None, :] - t[:, None], 0)))
    return U @ np.asarray(rewards, dtype=float) if T else np.zeros(0)


@part("reinforce")
@points(4)
@hint("returns_to_go: G_t = r_t + gamma * G_{t+1} computed backwards from G_T = 0; a float64 array of length T "
      "(empty for no rewards); gamma = 0 gives the rewards, gamma = 1 the reversed cumulative sums.")
def test_returns_to_go(submission, rng):
    for T, gamma in ((0, 0.9), (1, 0.9), (7, 0.0), (12, 1.0), (50, 0.99), (200, 0.9)):
        rewards = rng.normal(size=T)
        got = np.asarray(submission.returns_to_go(list(rewards), gamma))
        assert got.shape == (T,) and got.dtype == np.float64
        # float64 sums of <= 200 terms: 1e-10 relative
        np.testing.assert_allclose(got, oracle_returns(rewards, gamma), rtol=1e-10, atol=1e-10)


@part("reinforce")
@points(7)
@hint("reinforce_update: log_softmax(policy(obs)) at the taken actions, values = value_net(obs)[:, 0], policy_loss "
      "= -mean(log_probs * (returns - values.detach())), value_loss = mean((values - returns)^2), ONE step on their "
      "sum; return both losses (before the step) as floats. Without .detach() the policy loss trains the baseline.")
def test_reinforce_update_matches_oracle(submission, rng):
    T, obs_dim, n_actions, lr = 12, 4, 3, 0.1
    W, b = rng.normal(size=(n_actions, obs_dim)).astype(np.float32), rng.normal(size=n_actions).astype(np.float32)
    Wv, bv = rng.normal(size=(1, obs_dim)).astype(np.float32), rng.normal(size=1).astype(np.float32)
    obs = torch.from_numpy(rng.normal(size=(T, obs_dim)).astype(np.float32))
    actions = torch.from_numpy(rng.integers(0, n_actions, size=T))
    returns = torch.from_numpy((5 * rng.random(T)).astype(np.float32))

    policy = submission.torch.nn.Linear(obs_dim, n_actions)
    policy.load_state_dict({"weight": torch.from_numpy(W), "bias": torch.from_numpy(b)})
    value_net = submission.torch.nn.Linear(obs_dim, 1)
    value_net.load_state_dict({"weight": torch.from_numpy(Wv), "bias": torch.from_numpy(bv)})
    both = submission.torch.nn.ModuleList([policy, value_net])
    optimizer = submission.torch.optim.SGD(both.parameters(), lr=lr)
    policy_loss, value_loss = submission.reinforce_update(policy, value_net, optimizer, obs, actions, returns)
    assert isinstance(policy_loss, float) and isinstance(value_loss, float), "return the losses as Python floats"

    w, bb = torch.from_numpy(W).requires_grad_(), torch.from_numpy(b).requires_grad_()
    wv, bbv = torch.from_numpy(Wv).requires_grad_(), torch.from_numpy(bv).requires_grad_()
    log_probs = torch.log_softmax(obs @ w.T + bb, dim=-1)[torch.arange(T), actions]
    values = (obs @ wv.T + bbv)[:, 0]
    expected_policy = -(log_probs * (returns - values.detach())).mean()
    expected_value = F.mse_loss(values, returns)
    (expected_policy + expected_value).backward()
    # float32 on 12 x 4 inputs: losses and one SGD step agree to ~1e-6; 1e-5 leaves room for summation order
    assert abs(float(policy_loss) - expected_policy.item()) <= 1e-5 * max(1.0, abs(expected_policy.item()))
    assert abs(float(value_loss) - expected_value.item()) <= 1e-5 * max(1.0, abs(expected_value.item()))
    got_p, got_v = policy.state_dict(), value_net.state_dict()
    with torch.no_grad():
        torch.testing.assert_close(got_p["weight"], w - lr * w.grad, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_p["bias"], bb - lr * bb.grad, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_v["weight"], wv - lr * wv.grad, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_v["bias"], bbv - lr * bbv.grad, rtol=1e-5, atol=1e-5)


@part("reinforce")
@points(1)
@hint("policy_actions(policy, obs): (N, obs_dim) array -> (N,) int64 argmax of the logits, without gradient.")
def test_policy_actions(submission, rng):
    W = rng.normal(size=(2, 4)).astype(np.float32)
    policy = submission.torch.nn.Linear(4, 2, bias=False)
    policy.load_state_dict({"weight": torch.from_numpy(W)})
    obs = rng.normal(size=(30, 4)).astype(np.float32)
    got = np.asarray(submission.policy_actions(policy, obs))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, (obs @ W.T).argmax(axis=1))


def oracle_train_reinforce(seed, n_episodes, gamma, lr, hidden):
    """train_reinforce's documented recipe run here (torch's global generator forked, so this process's stream
    is left as it was); returns the trained policy."""
    env = gym.make("CartPole-v1")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        policy = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
        value_net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        optimizer = torch.optim.Adam(list(policy.parameters()) + list(value_net.parameters()), lr=lr)
        for episode in range(n_episodes):
            obs, _ = env.reset(seed=seed * 100_000 + episode)
            observations, actions, rewards, done = [], [], [], False
            while not done:
                with torch.no_grad():
                    logits = policy(torch.as_tensor(obs, dtype=torch.float32))
                action = int(torch.distributions.Categorical(logits=logits).sample())
                observations.append(obs)
                actions.append(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                rewards.append(reward)
                done = terminated or truncated
            G, running = np.zeros(len(rewards)), 0.0
            for t in reversed(range(len(rewards))):
                running = rewards[t] + gamma * running
                G[t] = running
            x = torch.as_tensor(np.array(observations), dtype=torch.float32)
            a = torch.as_tensor(actions)
            returns = torch.as_tensor(G, dtype=torch.float32)
            log_probs = torch.log_softmax(policy(x), dim=-1)[torch.arange(len(a)), a]
            values = value_net(x)[:, 0]
            loss = -(log_probs * (returns - values.detach())).mean() + F.mse_loss(values, returns)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    env.close()
    return policy


@part("reinforce")
@points(2)
@hint("train_reinforce must follow the docstring's recipe (the grader replays it): torch.manual_seed(seed), policy "
      "then value_net from mlp, one Adam over both; episode e resets with seed * 100_000 + e; actions sampled with "
      "Categorical(logits=policy(obs)).sample() one observation at a time; one reinforce_update per episode with "
      "returns_to_go(rewards, gamma).")
@timeout(300)
def test_train_reinforce_follows_the_recipe(submission):
    # ~0.3 CPU-s on each side: 6 short episodes of a small policy, lr large enough that every update shows
    config = dict(n_episodes=6, gamma=0.9, lr=0.02, hidden=8)
    with kit(submission).deadline(120):
        policy = submission.train_reinforce(seed=7, **config)
    got = policy.state_dict()
    expected = oracle_train_reinforce(7, **config).state_dict()
    # float32, the same operations and the same samples: equal to ~1e-6; another seed, sampling, return, episode
    # count or loss changes the episodes or the steps, and the weights by > 1e-3
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-4, atol=1e-4)


@part("reinforce")
@points(4)
@hint("The grader trains train_reinforce with 3 seeds of its own (at most 240 s of wall time each) and runs "
      "policy_actions (greedy) on 10 CartPole-v1 episodes it seeds: the mean return must reach 75 for 2 of the 3 "
      "seeds (a random agent gets ~22). Sample actions during training, one update per episode, returns-to-go "
      "with gamma=0.99, the detached baseline.")
@timeout(800)
def test_reinforce_balances_cartpole(submission, rng, rl, record_metric, credit):
    episode_seeds = rng.integers(2**31, size=10)
    passed, means = 0, []
    for seed in rng.integers(10_000, size=3):
        # the reference takes 2-7 CPU-s, up to ~20 s of wall time on a loaded 2-core machine: 240 s is a wide margin
        with kit(submission).deadline(240):
            policy = submission.train_reinforce(seed=int(seed))
        means.append(float(rl.cartpole_returns(lambda obs: submission.policy_actions(policy, obs), episode_seeds).mean()))
        passed += means[-1] >= RETURN_BAR
        if passed == 2:
            break
    record_metric("reinforce_cartpole_best_mean_return", max(means), threshold=RETURN_BAR, higher_is_better=True)
    if passed == 1:
        credit.award(0.25, "1 of 3 training seeds reached the bar")
    assert passed == 2
    credit.award(1.0)
