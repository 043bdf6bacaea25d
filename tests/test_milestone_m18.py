"""Consistency checks and reference figures of milestone m18-alignment (fast, no grading, no base model).

The hidden suite keeps its own oracles (token log-probs, the DPO and REINFORCE losses, a sampler, the exact
KL); these tests make sure they agree with the notebook's solutions on a tiny random GPT, that every mutant
and alternative applies exactly once, and that the suite's bars sit between the baselines and the reference
figures recorded in reference/m18-alignment/calibration.json. Whole-notebook grading is `course validate`
and tests/test_mutants.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from coursekit_student.base_gpt import GPT, GPTConfig

from tests.milestone_code import graded_namespace, load_suite_module

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "autograder" / "suites" / "m18-alignment"
NOTEBOOK = ROOT / "source" / "m18-alignment" / "m18-alignment.ipynb"
CALIBRATION = ROOT / "reference" / "m18-alignment" / "calibration.json"


def _load(name: str):
    return load_suite_module(SUITE.name, name)


TA, RM, DL, DT, RL = (_load(n) for n in ("trusted_align", "test_reward_model", "test_dpo_loss", "test_dpo_training",
                                         "test_rlhf"))


@pytest.fixture(scope="module")
def nb() -> dict:
    """The source notebook's graded code (solutions included), executed without the student package's check."""
    return graded_namespace(NOTEBOOK)


@pytest.fixture(scope="module")
def tiny() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=1, n_head=2, n_embd=16)).eval()


@pytest.mark.parametrize("kind", ["mutants", "alternatives"])
def test_replacements_find_exactly_once_and_cover_every_part(kind):
    course = yaml.safe_load((ROOT / "course.yaml").read_text())
    entry = next((m for m in course["milestones"] if m["id"] == "m18-alignment"), None)
    parts = set(entry["parts"]) if entry else {"reward_model", "dpo_loss", "dpo_training", "rlhf", "evaluation"}
    code = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    items = yaml.safe_load((ROOT / "tests" / kind / "m18-alignment.yaml").read_text())
    if kind == "mutants":
        assert {m["part"] for m in items} == parts
    for item in items:
        assert item["part"] in parts
        for replace in item["replace"]:
            assert sum(src.count(replace["find"]) for src in code) == 1, (item["name"], replace["find"])


def test_oracle_token_logprobs_match_notebook(nb, tiny):
    idx = torch.randint(0, 65, (3, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(nb["token_logprobs"](tiny, idx).double(), TA.oracle_token_logprobs(tiny, idx),
                                   rtol=1e-5, atol=1e-5)
        mask = torch.zeros(3, 20, dtype=torch.bool)
        mask[:, 7:] = True
        torch.testing.assert_close(nb["sequence_logprobs"](tiny, idx, mask).double(),
                                   (TA.oracle_token_logprobs(tiny, idx) * mask[:, 1:]).sum(1), rtol=1e-5, atol=1e-4)


def test_oracle_losses_match_notebook(nb):
    g = torch.Generator().manual_seed(2)
    pc, pr, rc, rr = (torch.randn(10, generator=g, dtype=torch.float64) * 5 for _ in range(4))
    assert math.isclose(float(nb["dpo_loss"](pc, pr, rc, rr, 0.3)), DL.oracle_dpo(pc, pr, rc, rr, 0.3), rel_tol=1e-12)
    assert math.isclose(float(nb["bradley_terry_loss"](pc, pr)), RM.oracle_bt(pc, pr), rel_tol=1e-12)
    lp, lr = (torch.randn(4, 6, generator=g, dtype=torch.float64) for _ in range(2))
    rewards = torch.randn(4, generator=g, dtype=torch.float64)
    mask = (torch.rand(4, 6, generator=g) < 0.7).double()
    loss, total = nb["reinforce_kl_loss"](lp, lr, mask, rewards, 0.4)
    exp_loss, exp_total = RL.oracle_loss(lp, lr, mask, rewards, 0.4)
    assert math.isclose(float(loss), float(exp_loss), rel_tol=1e-12)
    torch.testing.assert_close(total, exp_total)


def test_notebook_sampler_and_trusted_sampler_agree_in_distribution(nb, tiny):
    """Both samplers draw from softmax(logits): the same first-token frequencies (2,000 draws, 5 sigma)."""
    prompt = torch.zeros(2000, 1, dtype=torch.long)
    a = nb["sample"](tiny, prompt, 1, torch.Generator().manual_seed(0))[:, 1]
    b = TA.trusted_sample(tiny, prompt, 1, torch.Generator().manual_seed(1))[:, 1]
    pa, pb = np.bincount(a.numpy(), minlength=65) / 2000, np.bincount(b.numpy(), minlength=65) / 2000
    assert np.all(np.abs(pa - pb) <= 5 * np.sqrt(2 * 0.25 / 2000))


def test_exact_kl_is_zero_for_the_same_model_and_positive_otherwise(tiny):
    seq = torch.randint(0, 65, (4, 20), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(TA.exact_kl(tiny, tiny, seq, 8), torch.zeros(4, dtype=torch.float64))
    other = GPT.from_state(TA.dataclasses.asdict(tiny.config), {k: v + 0.05 for k, v in tiny.state_dict().items()})
    assert bool((TA.exact_kl(other, tiny, seq, 8) > 0).all())


def test_bars_between_baselines_and_reference():
    cal = json.loads(CALIBRATION.read_text())
    agreements = [r["agreement"] for r in cal["reward_model"]]
    assert max(r["constant"] for r in cal["reward_model"]) < RM.AGREEMENT_BAR < min(agreements)
    dpo, rlhf, base = cal["dpo"], cal["rlhf"], cal["baselines"]
    assert base["base_as_policy_dpo_eval"]["win_rate"] < DT.WIN_BAR < min(r["win_rate"] for r in dpo)
    assert max(r["kl"] for r in dpo) < DT.KL_BAR < base["dpo_lr_1e-3"]["kl"]
    assert 0.0 < RL.GAIN_BAR < min(r["gain"] for r in rlhf)
    assert max(r["kl"] for r in rlhf) < RL.KL_BAR < base["rlhf_beta0_lr3e-3"]["kl"]
    assert abs(base["base_as_policy_rlhf_eval"]["reward"] - base["base_as_policy_rlhf_eval"]["base_reward"]) < RL.GAIN_BAR
