"""Consistency checks and reference figures of milestone m11-reinforcement-learning (fast, no grading).

The hidden suite keeps its own solvers (a linear solve for V^pi, exact policy iteration), its own gridworld
and its own episode runners; these tests make sure they agree with the notebook's reference code, that
every mutant and alternative applies exactly once, and that each training bar sits between the baselines
and the reference figures recorded in reference/m11-reinforcement-learning/calibration.json.
Whole-notebook grading is `course validate` and tests/test_mutants.py.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from tests.milestone_code import graded_namespace, load_suite_module

ROOT = Path(__file__).resolve().parent.parent
ID = "m11-reinforcement-learning"
SUITE = ROOT / "autograder" / "suites" / ID
NOTEBOOK = ROOT / "source" / ID / f"{ID}.ipynb"
CALIBRATION = json.loads((ROOT / "reference" / ID / "calibration.json").read_text())


def _load(name: str) -> types.ModuleType:
    return load_suite_module(SUITE.name, name)


RL, DQN, PG, QL, DP = (_load(n) for n in ("conftest", "test_dqn", "test_reinforce", "test_q_learning",
                                          "test_dynamic_programming"))


@pytest.fixture(scope="module")
def nb() -> dict:
    """The source notebook's graded code (solutions included), executed without the student package."""
    return graded_namespace(NOTEBOOK)


def _code() -> str:
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    return "\n".join(c.source for c in cells if c.cell_type == "code")


@pytest.mark.parametrize("kind", ["mutants", "alternatives"])
def test_every_find_string_occurs_once(kind):
    code = _code()
    entries = yaml.safe_load((ROOT / "tests" / kind / f"{ID}.yaml").read_text())
    parts = {"dynamic_programming", "q_learning", "dqn", "reinforce"}
    assert {e["part"] for e in entries} <= parts
    for entry in entries:
        for rep in entry["replace"]:
            assert code.count(rep["find"]) == 1, (entry["name"], rep["find"])
    if kind == "mutants":
        assert {e["part"] for e in entries} == parts     # at least one plausible mistake per part


def test_suite_gridworld_matches_the_notebook(nb):
    for rows, cols in ((3, 4), (4, 4)):
        P, R = RL.deterministic_gridworld(rows, cols)
        P_nb, R_nb = nb["gridworld"](rows, cols, slip=0.0)
        np.testing.assert_array_equal(P, P_nb)
        np.testing.assert_allclose(R, R_nb, rtol=0, atol=1e-15)


def test_exact_solver_agrees_with_the_notebook(nb):
    rng = np.random.default_rng(0)
    cases = [(*RL.random_mdp(rng, 9, 3), 0.9), (*RL.deterministic_gridworld(4, 4), 0.9),
             (*nb["gridworld"](walls=(5,), pits=(7,), slip=0.2), 0.95)]
    for P, R, gamma in cases:
        V_star, Q_star, pi_star, evaluations = RL.solve_exact(P, R, gamma)
        V, pi, n = nb["policy_iteration"](P, R, gamma)
        np.testing.assert_allclose(V, V_star, atol=1e-9)
        np.testing.assert_array_equal(pi, pi_star)
        assert n == evaluations
        V_vi, pi_vi = nb["value_iteration"](P, R, gamma, theta=1e-13)
        np.testing.assert_allclose(V_vi, V_star, atol=1e-9)
        np.testing.assert_array_equal(pi_vi, pi_star)
        np.testing.assert_array_equal(nb["greedy_policy"](Q_star), RL.greedy(Q_star))
    pi = np.full((9, 3), 1 / 3)
    P, R, _ = cases[0]
    np.testing.assert_allclose(nb["policy_evaluation"](P, R, 0.9, pi), RL.evaluate_exact(P, R, 0.9, pi), atol=1e-8)


def test_frozen_lake_model_matches_the_environment_dynamics():
    desc = RL.generate_random_map(4, p=0.6, seed=3)
    P, R = RL.frozen_lake_model(desc)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0)
    assert R.max() <= 1.0 and R.min() >= 0.0 and R.max() > 0


def test_oracle_returns_agree_with_the_notebook(nb):
    rng = np.random.default_rng(1)
    for T, gamma in ((0, 0.5), (1, 0.9), (30, 0.99), (10, 1.0)):
        rewards = rng.normal(size=T)
        np.testing.assert_allclose(PG.oracle_returns(rewards, gamma), nb["returns_to_go"](list(rewards), gamma),
                                   rtol=1e-12, atol=1e-12)


def test_q_update_oracle_agrees_with_the_notebook(nb):
    rng = np.random.default_rng(2)
    Q = rng.normal(size=(5, 3))
    for terminated in (False, True):
        np.testing.assert_array_equal(QL.oracle_update(Q, 1, 2, 0.5, 1, terminated, 0.3, 0.9),
                                      nb["q_update"](Q, 1, 2, 0.5, 1, terminated, 0.3, 0.9))


def test_dqn_oracle_network_matches_the_notebook(nb):
    agent = nb["DQNAgent"](4, 2, hidden=8, seed=0)
    net = DQN.oracle_mlp(agent.q_net.state_dict())
    obs = torch.randn(6, 4)
    torch.testing.assert_close(net(obs), agent.q_net(obs))


def test_training_recipe_oracles_agree_with_the_notebook(nb):
    """The hidden suite replays train_q_learning / train_dqn / train_reinforce's documented recipes on short runs:
    its oracles must reproduce the notebook's reference exactly (same seeds, same generator calls)."""
    desc = ["SFFF", "FHFF", "FFFF", "HFFG"]
    np.testing.assert_array_equal(QL.oracle_train_q_learning(desc, 60, 0.5, 0.9, 12),
                                  nb["train_q_learning"](desc, n_episodes=60, alpha=0.5, gamma=0.9, seed=12))
    config = dict(n_steps=160, batch_size=8, learning_starts=50, buffer_size=60, target_period=20, lr=5e-3)
    initial = nb["DQNAgent"](4, 2, lr=5e-3, target_period=20, seed=1).q_net.state_dict()
    agent = nb["train_dqn"](seed=1, **config)
    online, target = DQN.oracle_train_dqn(initial, 1, **config)
    for got, want in ((agent.q_net, online), (agent.target_net, target)):
        for key, value in want.state_dict().items():
            torch.testing.assert_close(got.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    config = dict(n_episodes=4, gamma=0.9, lr=0.02, hidden=8)
    policy = nb["train_reinforce"](seed=2, **config)
    for key, value in PG.oracle_train_reinforce(2, **config).state_dict().items():
        torch.testing.assert_close(policy.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_cartpole_runner_observes_a_constant_agent_falling():
    returns = RL.cartpole_returns(lambda obs: np.zeros(len(obs), dtype=np.int64), range(5))
    assert returns.shape == (5,) and (returns < 15).all()      # always pushing left fails within ~10 steps
    with pytest.raises(AssertionError):
        RL.cartpole_returns(lambda obs: np.full(len(obs), 2), range(2))


def test_bars_sit_between_baselines_and_reference():
    for name, module in (("dqn", DQN), ("reinforce", PG)):
        reference = [row["mean_return"] for row in CALIBRATION[name]]
        assert CALIBRATION["bars"][name] == module.RETURN_BAR
        # 2 of 3 seeds: the reference must clear the bar on the large majority of seeds, the baselines never
        assert np.mean(np.array(reference) >= module.RETURN_BAR) >= 0.85, (name, reference)
        assert CALIBRATION["cartpole_random_agent"] < module.RETURN_BAR / 2
    assert max(CALIBRATION["cartpole_untrained_dqn"]) < DQN.RETURN_BAR / 2
    assert max(CALIBRATION["cartpole_untrained_policy"]) < PG.RETURN_BAR
    maps = CALIBRATION["frozen_lake"]
    assert all(m["optimal"] >= QL.MIN_OPTIMAL for m in maps)
    assert np.mean([m["reference"] >= QL.BAR_FRACTION * m["optimal"] for m in maps]) >= 0.85
    assert all(m["untrained_table"] < QL.BAR_FRACTION * m["optimal"] for m in maps)
    assert np.mean([m["random_policy"] < QL.BAR_FRACTION * m["optimal"] for m in maps]) == 1.0
