"""Calibrate the m18 hidden suite's bars: the reference solution (the source notebook's code) against baselines.

    nice -n 10 .venv/bin/python reference/m18-alignment/calibrate.py [--seeds 0 1 2] > reference/m18-alignment/calibration.json

Runs exactly what the suite runs (its configs, data builders and trusted evaluation), with the notebook's
solutions executed in-process (no sandbox), on one CPU thread, over several seeds: the seed of the hidden
reward's weights and pairs (reward model), of the preference data and training (DPO, RLHF). Baselines: a
constant reward model, a linear Bradley-Terry model (logistic regression on differences), the base model as its
own "aligned" policy (win-rate 0.5, gain 0, KL 0), and the over-pushed policies (DPO with lr 1e-3; RLHF with
beta = 0 and lr 3e-3) that the KL bars exist for.
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
SUITE = ROOT / "autograder" / "suites" / "m18-alignment"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"_m18cal_{name}", SUITE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook_namespace() -> dict:
    nb = nbformat.read(ROOT / "source" / "m18-alignment" / "m18-alignment.ipynb", as_version=4)
    ns: dict = {}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "ungraded" not in tags and "check" not in tags:
            exec(compile(cell.source.replace("from coursekit_student import check, check_all", ""), "<m18>", "exec"), ns)
    return ns


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    ns, TA = notebook_namespace(), load("trusted_align")
    RM, DT, RL = load("test_reward_model"), load("test_dpo_training"), load("test_rlhf")
    from coursekit.data import load_dataset
    from coursekit_student.base_gpt import load_base_gpt, split_ids
    from sklearn.linear_model import LogisticRegression

    text = load_dataset("tinyshakespeare")["input.txt"]
    base, tok = load_base_gpt("base", text=text)
    train_ids, heldout_ids = split_ids(text, tok)
    weights = TA.vowel_weights(tok)
    out: dict = {"seeds": args.seeds, "reward_model": [], "dpo": [], "rlhf": [], "baselines": {}}

    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        w = rng.normal(size=6)
        xc, xr = RM.bt_pairs(rng, 2000, w)
        t0 = time.process_time()
        model = ns["train_reward_model"](xc, xr, RM.CONFIG)
        cpu = time.process_time() - t0
        a, b = rng.normal(size=(4000, 6)), rng.normal(size=(4000, 6))
        truth = np.sign(RM.true_reward(a, w) - RM.true_reward(b, w))
        with torch.no_grad():
            pred = np.sign(model(torch.tensor(a, dtype=torch.float32)).numpy() - model(torch.tensor(b, dtype=torch.float32)).numpy())
        diffs = (xc - xr).numpy()
        lin = LogisticRegression(fit_intercept=False).fit(np.vstack([diffs, -diffs]), np.r_[np.ones(len(diffs)), np.zeros(len(diffs))])
        out["reward_model"].append({"seed": seed, "agreement": float(np.mean(pred == truth)), "cpu_s": round(cpu, 1),
                                    "linear_bt": float(np.mean(np.sign((a - b) @ lin.coef_[0]) == truth)),
                                    "constant": float(np.mean(np.zeros(len(a)) == truth))})

    def fresh():
        return (TA.GPT.from_state(TA.dataclasses.asdict(base.config), base.state_dict()),
                TA.GPT.from_state(TA.dataclasses.asdict(base.config), base.state_dict()))

    def dpo(seed, config):
        chosen, rejected, mask = DT._pairs(base, train_ids, tok, 256, seed=seed)
        policy, ref = fresh()
        t0 = time.process_time()
        ns["dpo_train"](policy, ref, chosen, rejected, mask, mask.clone(), config)
        cpu = time.process_time() - t0
        res = TA.evaluate_policy(policy, base, heldout_ids, weights, DT.P, DT.N_NEW, 256, seed=1)
        return dict(res, pairs=len(chosen), cpu_s=round(cpu, 1))

    def rlhf(seed, config):
        prompts = TA.random_prompts(train_ids, 512, RL.P, torch.Generator().manual_seed(seed))
        policy, ref = fresh()
        t0 = time.process_time()
        ns["rlhf_train"](policy, ref, prompts, weights, config)
        cpu = time.process_time() - t0
        res = TA.evaluate_policy(policy, base, heldout_ids, weights, RL.P, RL.N_NEW, 256, seed=1)
        return dict(res, gain=res["reward"] - res["base_reward"], cpu_s=round(cpu, 1))

    for seed in args.seeds:
        out["dpo"].append(dict(dpo(seed, dict(DT.CONFIG, seed=seed)), seed=seed))
        out["rlhf"].append(dict(rlhf(seed, dict(RL.CONFIG, seed=seed)), seed=seed))
        print(json.dumps(out["dpo"][-1]), json.dumps(out["rlhf"][-1]), flush=True, file=__import__("sys").stderr)
    out["baselines"]["base_as_policy_dpo_eval"] = TA.evaluate_policy(base, base, heldout_ids, weights, DT.P, DT.N_NEW, 256, seed=1)
    out["baselines"]["base_as_policy_rlhf_eval"] = TA.evaluate_policy(base, base, heldout_ids, weights, RL.P, RL.N_NEW, 256, seed=1)
    out["baselines"]["dpo_lr_1e-3"] = dpo(0, dict(DT.CONFIG, lr=1e-3))
    out["baselines"]["rlhf_beta0_lr3e-3"] = rlhf(0, dict(RL.CONFIG, beta=0.0, lr=3e-3))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
