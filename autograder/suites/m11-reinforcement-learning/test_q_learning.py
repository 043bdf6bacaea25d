"""Hidden tests, part q_learning: the update rule on a seeded transition sequence, reproducibility, and
the greedy policy of a trained table measured by the grader on FrozenLake maps and episodes it seeds.
Points: 2 public + 18 hidden = 20.
"""
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


@part("q_learning")
@points(2)
@hint("train_q_learning(desc, seed=s) must be reproducible: seed the exploration and env.reset from seed; a "
      "different seed should give a different table.")
@timeout(120)
def test_q_learning_is_reproducible(submission, rl):
    desc = ["SFFF", "FHFF", "FFFF", "HFFG"]   # random exploration finds the goal within a few episodes here
    with kit(submission).deadline(60):
        a = np.asarray(submission.train_q_learning(desc, n_episodes=200, seed=5))
        b = np.asarray(submission.train_q_learning(desc, n_episodes=200, seed=5))
        c = np.asarray(submission.train_q_learning(desc, n_episodes=200, seed=6))
    assert a.shape == (16, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


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
