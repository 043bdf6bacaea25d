"""Trusted helpers for the m11 hidden suite: exact MDP solvers and episode runners.

Everything here runs on the grader's side. The environments are Gymnasium's own, seeded here;
the student's code only ever sees observations (as arrays) and returns actions, so every return
and success rate below is observed by the grader, never reported by the student.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.toy_text.frozen_lake import generate_random_map

TIE_TOL = 1e-9   # the notebook's greedy rule: the lowest action within 1e-9 of the best


def greedy(Q: np.ndarray) -> np.ndarray:
    Q = np.asarray(Q, dtype=float)
    return np.argmax(Q >= Q.max(axis=1, keepdims=True) - TIE_TOL, axis=1)


def random_mdp(rng: np.random.Generator, n_states: int, n_actions: int, sparsity: float = 0.5):
    """A random MDP: each (s, a) moves to a random subset of states with Dirichlet probabilities."""
    P = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
    P *= rng.random(P.shape) > sparsity
    P[..., 0] += P.sum(axis=-1) == 0          # keep every row a distribution
    P /= P.sum(axis=-1, keepdims=True)
    R = rng.normal(size=(n_states, n_actions))
    return P, R


def evaluate_exact(P, R, gamma, policy_matrix) -> np.ndarray:
    """V^pi by one linear solve: (I - gamma P_pi) V = r_pi (not the iteration the students write)."""
    r_pi = (policy_matrix * R).sum(axis=1)
    P_pi = np.einsum("sa,sat->st", policy_matrix, P)
    return np.linalg.solve(np.eye(len(R)) - gamma * P_pi, r_pi)


def solve_exact(P, R, gamma):
    """(V*, Q*, greedy policy, number of evaluations) by policy iteration with exact linear solves,
    started from action 0 everywhere and improved with the notebook's tie rule."""
    n_states, n_actions = R.shape
    policy = np.zeros(n_states, dtype=np.int64)
    evaluations = 0
    while True:
        V = evaluate_exact(P, R, gamma, np.eye(n_actions)[policy])
        evaluations += 1
        Q = R + gamma * P @ V
        improved = greedy(Q)
        if np.array_equal(improved, policy):
            return V, Q, policy, evaluations
        policy = improved


def deterministic_gridworld(rows: int, cols: int, step_reward: float = -0.04):
    """A gridworld without slips, goal in the last cell (+1 on entering, terminal), `step_reward` per
    other step; actions 0 left, 1 down, 2 right, 3 up. Many states have two exactly tied best moves."""
    S, goal, moves = rows * cols, rows * cols - 1, [(0, -1), (1, 0), (0, 1), (-1, 0)]
    P, R = np.zeros((S, 4, S)), np.zeros((S, 4))
    for s in range(S):
        if s == goal:
            P[s, :, s] = 1.0
            continue
        r, c = divmod(s, cols)
        for a, (dr, dc) in enumerate(moves):
            nr, nc = r + dr, c + dc
            s2 = nr * cols + nc if 0 <= nr < rows and 0 <= nc < cols else s
            P[s, a, s2] = 1.0
            R[s, a] = 1.0 if s2 == goal else step_reward
    return P, R


def frozen_lake(desc) -> gym.Env:
    return gym.make("FrozenLake-v1", desc=desc, is_slippery=True)


def frozen_lake_model(desc):
    """(P, R) of a FrozenLake map from the environment's own transition table (R = expected reward)."""
    env = frozen_lake(desc).unwrapped
    n_states, n_actions = env.observation_space.n, env.action_space.n
    P, R = np.zeros((n_states, n_actions, n_states)), np.zeros((n_states, n_actions))
    for s in range(n_states):
        for a in range(n_actions):
            for prob, s_next, reward, _ in env.P[s][a]:
                P[s, a, s_next] += prob
                R[s, a] += prob * reward
    return P, R


def success_rate(desc, policy: np.ndarray, seeds) -> float:
    """Fraction of episodes (Gymnasium's 100-step limit) that reach the goal, each reset with its seed."""
    env = frozen_lake(desc)
    wins = 0
    for seed in seeds:
        s, _ = env.reset(seed=int(seed))
        done = False
        while not done:
            s, reward, terminated, truncated, _ = env.step(int(policy[s]))
            done = terminated or truncated
        wins += reward > 0
    return wins / len(seeds)


def cartpole_returns(act: Callable[[np.ndarray], np.ndarray], seeds) -> np.ndarray:
    """Undiscounted returns of CartPole-v1 episodes (500-step limit) run here in lockstep, one per seed.

    `act` maps the (n_alive, 4) float32 observations of the episodes still running to their actions;
    asking once per time step for all of them keeps the crossings into the sandbox to <= 500.
    """
    envs = [gym.make("CartPole-v1") for _ in seeds]
    obs = np.stack([env.reset(seed=int(seed))[0] for env, seed in zip(envs, seeds)]).astype(np.float32)
    alive = np.ones(len(envs), dtype=bool)
    returns = np.zeros(len(envs))
    while alive.any():
        index = np.flatnonzero(alive)
        actions = np.asarray(act(obs[index])).reshape(-1)
        if actions.shape != (len(index),) or not np.isin(actions, (0, 1)).all():
            raise AssertionError("the agent must return one action in {0, 1} per observation")
        for i, action in zip(index, actions):
            o, reward, terminated, truncated, _ = envs[i].step(int(action))
            obs[i], returns[i] = o, returns[i] + reward
            alive[i] = not (terminated or truncated)
    return returns


@pytest.fixture(scope="session")
def rl():
    return SimpleNamespace(greedy=greedy, random_mdp=random_mdp, deterministic_gridworld=deterministic_gridworld, evaluate_exact=evaluate_exact,
                           solve_exact=solve_exact, frozen_lake_model=frozen_lake_model,
                           success_rate=success_rate, cartpole_returns=cartpole_returns,
                           generate_random_map=generate_random_map)
