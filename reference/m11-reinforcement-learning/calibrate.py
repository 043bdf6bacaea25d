"""Calibrate m11's training bars: the reference over many seeds against random and untrained agents.

    nice -n 10 .venv/bin/python reference/m11-reinforcement-learning/calibrate.py [--seeds N] [--maps M]

Runs the source notebook's graded code (solutions included) and the hidden suite's own episode runners
(autograder/suites/m11-reinforcement-learning/conftest.py), with the suite's bars, and writes
calibration.json next to this file: per seed the greedy mean return over 10 episodes (CartPole) or the
success rate over 1000 episodes relative to the optimal policy (FrozenLake), CPU seconds, and the
baselines (a uniformly random agent, the untrained network / all-zero table).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import nbformat
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "autograder" / "suites" / "m11-reinforcement-learning"
NOTEBOOK = ROOT / "source" / "m11-reinforcement-learning" / "m11-reinforcement-learning.ipynb"


def load_suite(name: str):
    spec = importlib.util.spec_from_file_location(f"_m11_{name}", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_namespace() -> dict:
    namespace: dict = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "ungraded" not in tags and "check" not in tags:
            exec(cell.source.replace("from coursekit_student import check, check_all", ""), namespace)
    return namespace


def timed(fn, *args, **kwargs):
    start = time.process_time()
    out = fn(*args, **kwargs)
    return out, round(time.process_time() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--maps", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    nb, rl = notebook_namespace(), load_suite("conftest")
    bars = {"dqn": load_suite("test_dqn").RETURN_BAR, "reinforce": load_suite("test_reinforce").RETURN_BAR}
    ql = load_suite("test_q_learning")
    episode_seeds = np.arange(10_000, 10_010)
    rng = np.random.default_rng(0)
    out: dict = {"episodes_per_agent": 10, "bars": dict(bars, frozen_lake_fraction=ql.BAR_FRACTION,
                                                         frozen_lake_min_optimal=ql.MIN_OPTIMAL)}
    out["cartpole_random_agent"] = float(rl.cartpole_returns(lambda o: rng.integers(0, 2, size=len(o)), episode_seeds).mean())
    out["cartpole_untrained_dqn"] = [float(rl.cartpole_returns(nb["DQNAgent"](4, 2, seed=s).greedy_actions, episode_seeds).mean())
                                     for s in range(3)]
    untrained_policies = []
    for s in range(3):
        torch.manual_seed(s)
        policy = nb["mlp"]([4, 32, 2])
        untrained_policies.append(float(rl.cartpole_returns(lambda o: nb["policy_actions"](policy, o), episode_seeds).mean()))
    out["cartpole_untrained_policy"] = untrained_policies
    for name, train, act in (("dqn", nb["train_dqn"], lambda agent: agent.greedy_actions),
                             ("reinforce", nb["train_reinforce"], lambda policy: lambda o: nb["policy_actions"](policy, o))):
        rows = []
        for seed in range(args.seeds):
            agent, cpu = timed(train, seed=seed)
            rows.append({"seed": seed, "cpu_s": cpu, "mean_return": float(rl.cartpole_returns(act(agent), episode_seeds).mean())})
            print(name, rows[-1], flush=True)
        out[name] = rows
    maps, map_seed = [], 0
    seeds_1000 = np.arange(20_000, 21_000)
    while len(maps) < args.maps:
        desc = rl.generate_random_map(4, p=0.6, seed=map_seed)
        map_seed += 1
        P, R = rl.frozen_lake_model(desc)
        optimal = rl.success_rate(desc, rl.solve_exact(P, R, 0.99)[2], seeds_1000)
        if optimal < ql.MIN_OPTIMAL:
            continue
        Q, cpu = timed(nb["train_q_learning"], desc, seed=map_seed)
        row = {"map_seed": map_seed - 1, "cpu_s": cpu, "optimal": optimal,
               "reference": rl.success_rate(desc, rl.greedy(Q), seeds_1000),
               "random_policy": rl.success_rate(desc, rng.integers(0, 4, size=16), seeds_1000),
               "untrained_table": rl.success_rate(desc, rl.greedy(np.zeros((16, 4))), seeds_1000)}
        row["reference_over_optimal"] = round(row["reference"] / optimal, 3)
        maps.append(row)
        print("frozen_lake", row, flush=True)
    out["frozen_lake"] = maps
    (Path(__file__).parent / "calibration.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
