"""Hidden tests, part dynamic_programming: greedy ties, policy evaluation, value and policy iteration.

Oracles: a linear solve for V^pi and exact policy iteration (conftest.solve_exact) on random MDPs and on
a slip-free gridworld whose best moves tie exactly. Points: 2 public + 23 hidden = 25 (3 + 5 + 2 + 2 + 5 + 2 + 4).
"""
import numpy as np
import pytest

from coursekit_student.testing import hint, part, points

GAMMAS = (0.0, 0.5, 0.9, 0.99)


def random_policy_matrix(rng, S, A):
    pi = rng.random((S, A)) * (rng.random((S, A)) > 0.3)
    pi[:, 0] += pi.sum(axis=1) == 0
    return pi / pi.sum(axis=1, keepdims=True)


def iterate_evaluation(P, R, gamma, pi, theta):
    """The docstring's iteration, step for step (for the stopping rule only)."""
    r_pi, P_pi, V = (pi * R).sum(axis=1), np.einsum("sa,sat->st", pi, P), np.zeros(len(R))
    while True:
        V_new = r_pi + gamma * P_pi @ V
        if np.max(np.abs(V_new - V)) < theta:
            return V_new
        V = V_new


@part("dynamic_programming")
@points(3)
@hint("greedy_policy: the LOWEST action whose value is >= row max - tol (exact ties and ties within tol go to the "
      "lowest index; a gap larger than tol is not a tie); return int64.")
def test_greedy_policy_ties(submission, rng, rl):
    Q = rng.normal(size=(40, 5))
    best = Q.max(axis=1)
    tied = rng.random(40) < 0.5
    cols = rng.integers(0, 5, size=40)
    Q[tied, cols[tied]] = best[tied] - rng.uniform(0, 5e-10, size=tied.sum())   # within 1e-9: a tie
    near = ~tied
    Q[near, cols[near]] = best[near] - rng.uniform(1e-8, 1e-6, size=near.sum())  # a real gap
    got = np.asarray(submission.greedy_policy(Q))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, rl.greedy(Q))
    # a custom tolerance widens the ties
    np.testing.assert_array_equal(submission.greedy_policy([[0.0, 0.5, 0.45]], tol=0.1), [1])
    np.testing.assert_array_equal(submission.greedy_policy([[0.45, 0.5, 0.0]], tol=0.1), [0])
    # tol=0: exactly the actions with value >= the maximum, i.e. the exact ties, count
    np.testing.assert_array_equal(submission.greedy_policy([[0.0, 1.0, 1.0], [2.0, 1.0, 2.0]], tol=0.0), [1, 0])


@part("dynamic_programming")
@points(5)
@hint("policy_evaluation must converge to the solution of V = r_pi + gamma P_pi V for stochastic policies: "
      "r_pi(s) = sum_a pi(a|s) R(s,a), P_pi(s,s2) = sum_a pi(a|s) P(s,a,s2).")
def test_policy_evaluation_matches_linear_solve(submission, rng, rl):
    for gamma in GAMMAS:
        S, A = int(rng.integers(3, 15)), int(rng.integers(2, 5))
        P, R = rl.random_mdp(rng, S, A)
        pi = random_policy_matrix(rng, S, A)
        # theta=1e-10: the iterate is within gamma*theta/(1-gamma) <= 1e-8 of V^pi; 1e-7 leaves room
        np.testing.assert_allclose(submission.policy_evaluation(P, R, gamma, pi), rl.evaluate_exact(P, R, gamma, pi),
                                   rtol=0, atol=1e-7)


@part("dynamic_programming")
@points(2)
@hint("Stop after the FIRST sweep with max |V_new - V| < theta and return V_new (the last iterate), from V_0 = 0.")
def test_policy_evaluation_stopping_rule(submission, rng, rl):
    for theta in (1e-1, 1e-3):
        P, R = rl.random_mdp(rng, 8, 3)
        pi = random_policy_matrix(rng, 8, 3)
        # the same float64 operations up to summation order: 1e-10 relative
        np.testing.assert_allclose(submission.policy_evaluation(P, R, 0.9, pi, theta=theta),
                                   iterate_evaluation(P, R, 0.9, pi, theta), rtol=1e-10, atol=1e-12)
    # one state, reward 1, gamma 1/2: V_k = 0, 1, 1.5, 1.75, 1.875 (exact in binary), changes 1, 1/2, 1/4, 1/8;
    # with theta = 1/4 the sweep that changes V by exactly 1/4 does not stop ("< theta"): the next one does
    got = submission.policy_evaluation(np.ones((1, 1, 1)), np.ones((1, 1)), 0.5, np.ones((1, 1)), theta=0.25)
    np.testing.assert_allclose(got, [1.875], rtol=0, atol=1e-12)


@part("dynamic_programming")
@points(2)
@hint("policy_evaluation raises ValueError for gamma outside [0, 1) and for a policy row that is not a "
      "distribution (a negative entry, or a sum off 1 by more than 1e-8).")
def test_policy_evaluation_raises(submission, rng, rl):
    P, R = rl.random_mdp(rng, 4, 2)
    pi = np.full((4, 2), 0.5)
    for gamma in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            submission.policy_evaluation(P, R, gamma, pi)
    bad_sum = pi.copy(); bad_sum[2] = [0.5, 0.4]
    negative = pi.copy(); negative[1] = [1.5, -0.5]
    for bad in (bad_sum, negative):
        with pytest.raises(ValueError):
            submission.policy_evaluation(P, R, 0.9, bad)
    close = pi.copy(); close[3] = [0.5, 0.5 + 1e-10]     # within 1e-8: accepted
    submission.policy_evaluation(P, R, 0.9, close)


def solvable_cases(rng, rl):
    """Random MDPs (no near-ties) and slip-free gridworlds (many exact ties)."""
    cases = []
    for gamma in (0.5, 0.9, 0.99):
        S, A = int(rng.integers(4, 15)), int(rng.integers(2, 5))
        cases.append((*rl.random_mdp(rng, S, A), gamma))
    for rows, cols in ((3, 4), (4, 4)):
        cases.append((*rl.deterministic_gridworld(rows, cols), 0.9))
    return cases


@part("dynamic_programming")
@points(5)
@hint("value_iteration: V <- max_a q_from_v(P, R, gamma, V) from 0 until a sweep changes V by < theta; return "
      "(that last V, greedy_policy of its Q) with ties to the lowest action.")
def test_value_iteration_optimal(submission, rng, rl):
    for P, R, gamma in solvable_cases(rng, rl):
        V_star, Q_star, pi_star, _ = rl.solve_exact(P, R, gamma)
        # theta=1e-13: V within gamma*theta/(1-gamma) <= 1e-11 of V*, so exact ties stay within greedy's 1e-9
        V, pi = submission.value_iteration(P, R, gamma, theta=1e-13)
        np.testing.assert_allclose(V, V_star, rtol=0, atol=1e-9)
        assert np.asarray(pi).dtype == np.int64
        np.testing.assert_array_equal(pi, pi_star)


@part("dynamic_programming")
@points(2)
@hint("value_iteration stops after the FIRST sweep with max |V_new - V| < theta, returns V_new and the greedy "
      "policy of V_new's Q; it raises ValueError for gamma outside [0, 1).")
def test_value_iteration_stopping_rule_and_raises(submission, rng, rl):
    P, R = rl.random_mdp(rng, 6, 3)
    V, expected_V = np.zeros(6), None
    while expected_V is None:
        V_new = (R + 0.9 * P @ V).max(axis=1)
        if np.max(np.abs(V_new - V)) < 1e-2:
            expected_V = V_new
        V = V_new
    got_V, got_pi = submission.value_iteration(P, R, 0.9, theta=1e-2)
    np.testing.assert_allclose(got_V, expected_V, rtol=1e-10, atol=1e-12)   # same operations, float64
    np.testing.assert_array_equal(got_pi, rl.greedy(R + 0.9 * P @ expected_V))
    for gamma in (1.0, -0.5):
        with pytest.raises(ValueError):
            submission.value_iteration(P, R, gamma)
    # one state, best reward 1, gamma 1/2: V_k = 0, 1, 1.5, 1.75, 1.875 exactly; a change of exactly theta = 1/4
    # is not "< theta", so the sweep after it stops
    got_V, got_pi = submission.value_iteration(np.ones((1, 2, 1)), np.array([[1.0, 0.5]]), 0.5, theta=0.25)
    np.testing.assert_allclose(got_V, [1.875], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got_pi, [0])
    # the same with rewards -1 and -2: values DEcrease (0, -1, -1.5, -1.75, -1.875), the change is |V_new - V|
    got_V, got_pi = submission.value_iteration(np.ones((1, 2, 1)), np.array([[-2.0, -1.0]]), 0.5, theta=0.25)
    np.testing.assert_allclose(got_V, [-1.875], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got_pi, [1])


@part("dynamic_programming")
@points(4)
@hint("policy_iteration starts from action 0 everywhere, evaluates, improves with greedy_policy and stops when "
      "the improved policy equals the current one; n_evaluations counts every evaluation (the last included).")
def test_policy_iteration_optimal_and_counts(submission, rng, rl):
    for P, R, gamma in solvable_cases(rng, rl):
        V_star, _, pi_star, evaluations = rl.solve_exact(P, R, gamma)
        V, pi, n = submission.policy_iteration(P, R, gamma)
        # evaluation to theta=1e-12 (or exactly): within 1e-10 of V^pi at gamma=0.99
        np.testing.assert_allclose(V, V_star, rtol=0, atol=1e-8)
        np.testing.assert_array_equal(pi, pi_star)
        assert int(n) == evaluations
    # a problem whose optimal policy is "action 0 everywhere" needs exactly one evaluation
    P, R = rl.random_mdp(rng, 5, 3)
    R[:, 0] += 100.0
    assert int(submission.policy_iteration(P, R, 0.5)[2]) == 1
    with pytest.raises(ValueError):
        submission.policy_iteration(P, R, 1.0)
