"""Hidden tests, part q_learning: the update rule on a seeded transition sequence, train_q_learning replayed by an oracle, and
the greedy policy of a trained table measured by the grader on FrozenLake maps and episodes it seeds.
Points: 2 public + 18 hidden = 20.
"""
import gymnasium as gym
import numpy as np

from coursekit_student.testing import hint, kit, part, points, timeout

# Calibration (reference/m11-reinforcement-learning/calibration.json): on random 4x4 maps (p=0.6) the reference's
# greedy success rate is 0.78-1.0 times the optimal policy's (10 maps; 0.76-1.08 in an earlier 20-map run) on maps where the optimal policy succeeds at least
# half the time (on harder maps epsilon-greedy may never find the goal in 3000 episodes, so those are redrawn);
# a random deterministic policy scores 0-0.25 and an untrained (all-zero) table 0.000 on every map.
# 0.7 x optimal, 2 of 3 seeds, keeps the reference passing and fails both baselines by far.
BAR_FRACTION = 0.7
MIN_OPTIMAL = 0.5
EPISODES = 1000


def oracle_update(Q, s, a, r, s_next, terminated, alpha, gamma):
    Q = Q.copy()
    target = r if terminated else r + gamma * Q[s_next].max()
    Q[s, a] += alpha * (target - Q[s, a])
    return Q


@part("q_learning")
@points(6)
@hint("q_update: target = r + gamma * max_a' Q[s_next, a'] (just r when terminated), Q[s, a] += alpha * "
      "(target - Q[s, a]); return a float64 copy with only [s, a] changed.")
def test_q_update_on_a_seeded_transition_sequence(submission, rng):
    S, A, alpha, gamma = 9, 4, 0.3, 0.95
    Q_student = rng.normal(size=(S, A))
    Q_oracle = Q_student.copy()
    for _ in range(150):
        s, a, s_next = int(rng.integers(S)), int(rng.integers(A)), int(rng.integers(S))
        r, terminated = float(rng.normal()), bool(rng.random() < 0.3)
        before = Q_student.copy()
        Q_student = np.asarray(submission.q_update(Q_student, s, a, r, s_next, terminated, alpha, gamma))
        Q_oracle = oracle_update(Q_oracle, s, a, r, s_next, terminated, alpha, gamma)
        changed = np.ones_like(before, dtype=bool); changed[s, a] = False
        np.testing.assert_array_equal(Q_student[changed], before[changed])   # nothing else moves
    assert Q_student.dtype == np.float64
    # 150 chained float64 updates of the same operations: 1e-10 relative
    np.testing.assert_allclose(Q_student, Q_oracle, rtol=1e-10, atol=1e-12)


@part("q_learning")
@points(2)
@hint("Only `terminated` drops the bootstrap term; integer tables must come back as float64 (alpha=0.5 on an "
      "int table gives fractions); s_next == s must still use the value BEFORE the update.")
def test_q_update_edge_cases(submission):
    Q = np.array([[1, 2], [3, 4]])
    got = np.asarray(submission.q_update(Q, 0, 1, 1.0, 1, False, 0.5, 0.9))
    np.testing.assert_allclose(got, [[1.0, 0.5 * 2 + 0.5 * (1.0 + 0.9 * 4)], [3.0, 4.0]], rtol=1e-12)
    got = np.asarray(submission.q_update(Q, 0, 1, 1.0, 1, True, 0.5, 0.9))
    np.testing.assert_allclose(got, [[1.0, 1.5], [3.0, 4.0]], rtol=1e-12)
    got = np.asarray(submission.q_update(np.array([[0.0, 2.0]]), 0, 1, 0.0, 0, False, 1.0, 0.5))
    np.testing.assert_allclose(got, [[0.0, 1.0]], rtol=1e-12)


def oracle_train_q_learning(desc, n_episodes, alpha, gamma, seed):
    """The docstring's recipe, run here: the same generator calls, resets, epsilon_at schedule and updates."""
    env = gym.make("FrozenLake-v1", desc=desc, is_slippery=True)
    rng = np.random.default_rng(seed)
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    for episode in range(n_episodes):
        s, _ = env.reset(seed=seed * 100_000 + episode)
        progress = min(1.0, episode / (0.5 * n_episodes))
        epsilon = 1.0 + progress * (0.05 - 1.0)              # epsilon_at(episode, n_episodes), given in the notebook
        done = False
        while not done:
            if rng.random() < epsilon:
                a = int(rng.integers(4))
            else:
                a = int(np.argmax(Q[s]))
            s_next, r, terminated, truncated, _ = env.step(a)
            Q = oracle_update(Q, s, a, r, s_next, terminated, alpha, gamma)
            s, done = s_next, terminated or truncated
    env.close()
    return Q


@part("q_learning")
@points(2)
@hint("train_q_learning must follow the docstring's recipe (the grader replays it): rng = "
      "np.random.default_rng(seed); episode e resets with seed * 100_000 + e and uses epsilon_at(e, n_episodes); "
      "each step draws rng.random() (explore with rng.integers(4) if < epsilon, else np.argmax(Q[s])), then "
      "q_update; stop at terminated or truncated; one table per seed.")
@timeout(120)
def test_train_q_learning_follows_the_recipe(submission):
    desc = ["SFFF", "FHFF", "FFFF", "HFFG"]   # random exploration finds the goal within a few episodes here
    for n_episodes, alpha, gamma, seed in ((200, 0.1, 0.99, 5), (60, 0.5, 0.9, 12)):   # both reach the goal
        with kit(submission).deadline(60):
            got = np.asarray(submission.train_q_learning(desc, n_episodes=n_episodes, alpha=alpha, gamma=gamma,
                                                         seed=seed))
        expected = oracle_train_q_learning(desc, n_episodes, alpha, gamma, seed)
        assert got.shape == (16, 4) and got.dtype == np.float64
        assert expected.any()                  # the goal was reached: the table holds values to compare
        # float64, the same updates in the same order: equal to rounding; a changed schedule, seed, episode count
        # or episode end changes which transitions are seen, and the table by far more than 1e-9
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@part("q_learning")
@points(8)
@hint("On a random slippery 4x4 FrozenLake map (one where the optimal policy succeeds >= 50% of the time), the greedy policy of your table (lowest action among ties) must "
      "reach at least 0.7 x the optimal policy's success rate over 1000 episodes the grader seeds, for 2 of 3 "
      "training seeds, each within 60 s. Decay epsilon, alpha=0.1, gamma=0.99, about 3000 episodes; use "
      "`terminated` (not `truncated`) to stop bootstrapping.")
@timeout(300)
def test_q_learning_solves_frozen_lake(submission, rng, rl, record_metric, credit):
    episode_seeds = rng.integers(2**31, size=EPISODES)
    optimal_rate = 0.0
    while optimal_rate < MIN_OPTIMAL:     # maps where even the optimal policy mostly fails are left out
        desc = rl.generate_random_map(4, p=0.6, seed=int(rng.integers(2**31)))
        P, R = rl.frozen_lake_model(desc)
        optimal_rate = rl.success_rate(desc, rl.solve_exact(P, R, 0.99)[2], episode_seeds)
    bar = BAR_FRACTION * optimal_rate
    passed, rates = 0, []
    for seed in rng.integers(10_000, size=3):
        # the reference takes ~1.5 CPU-s, a few seconds of wall time under load
        with kit(submission).deadline(60):
            Q = np.asarray(submission.train_q_learning(desc, seed=int(seed)), dtype=float)
        assert Q.shape == (P.shape[0], 4), "train_q_learning must return an (S, 4) table"
        rates.append(rl.success_rate(desc, rl.greedy(Q), episode_seeds))
        passed += rates[-1] >= bar
        if passed == 2:
            break
    record_metric("frozen_lake_success_over_bar", max(rates) / max(bar, 1e-9), threshold=1.0, higher_is_better=True)
    if passed == 1:
        credit.award(0.25, "1 of 3 training seeds reached the bar")
    assert passed == 2
    credit.award(1.0)
