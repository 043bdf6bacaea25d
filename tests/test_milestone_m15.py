"""Consistency checks and reference figures of milestone m15-finetuning (fast, no grading, no base model).

The hidden suite keeps its own float64 oracles (the LoRA layer, the soft-prompt forward pass), its own replay
of the fine-tuning loop and its own prompt-tuning loop; these tests make sure they agree with the source
notebook, that every mutant and alternative applies to exactly one place, that the points add up to
course.yaml, and that the recorded CPU thresholds separate the reference from the baselines
(reference/m15-finetuning/smoke-calibration.json). Whole-notebook grading is `course validate` and
tests/test_mutants.py.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from tests.milestone_code import graded_namespace, load_suite_module

ROOT = Path(__file__).resolve().parent.parent
MILESTONE = "m15-finetuning"
SUITE = ROOT / "autograder" / "suites" / MILESTONE
NOTEBOOK = ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb"


def _load(name: str) -> types.ModuleType:
    return load_suite_module(SUITE.name, name)


CONF, FT, PT = _load("conftest"), _load("test_finetune"), _load("test_prompt")


@pytest.fixture(scope="module")
def nb() -> types.SimpleNamespace:
    """The source notebook's graded code (solutions included)."""
    return types.SimpleNamespace(**graded_namespace(NOTEBOOK))


def _code() -> str:
    return "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code")


@pytest.mark.parametrize("kind", ["mutants", "alternatives"])
def test_variants_find_exactly_once_and_name_a_part(kind):
    code = _code()
    parts = set(_entry()["parts"])
    variants = yaml.safe_load((ROOT / "tests" / kind / f"{MILESTONE}.yaml").read_text())
    assert len({v["name"] for v in variants}) == len(variants)
    for variant in variants:
        assert variant["part"] in parts, variant["name"]
        for edit in variant["replace"]:
            assert code.count(edit["find"]) == 1, variant["name"]
    if kind == "mutants":
        assert {v["part"] for v in variants} == parts  # at least one mutant per part


def _entry() -> dict:
    course = yaml.safe_load((ROOT / "course.yaml").read_text())
    entries = [m for m in course["milestones"] if m["id"] == MILESTONE]
    if not entries:
        pytest.skip("m15-finetuning is not registered in course.yaml")
    return entries[0]


def test_points_add_up_in_both_modes():
    text = "\n".join(p.read_text() for p in [*SUITE.glob("test_*.py"), ROOT / "source" / MILESTONE / "tests" / "test_public.py"])
    for skip in ("@gpu", "@cpu_smoke"):
        totals: dict[str, float] = {}
        for m in re.finditer(r'@part\("(\w+)"\)\n@points\((\d+)\)((?:\n@.*)*)', text):
            if skip not in m.group(3):
                totals[m.group(1)] = totals.get(m.group(1), 0) + int(m.group(2))
        assert totals == _entry()["parts"], skip


def test_lora_oracle_matches_notebook(nb):
    torch.manual_seed(0)
    layer = nb.LoRALinear(torch.nn.Linear(9, 5), 3, 6.0)
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(4, 2, 9)
    expected = CONF.lora_forward(x, layer.base.weight, layer.base.bias, layer.A, layer.B, 2.0)
    torch.testing.assert_close(layer(x).detach().double(), expected, rtol=1e-5, atol=1e-5)
    merged = nb.merge_lora(layer)
    torch.testing.assert_close(merged(x).detach().double(), expected, rtol=1e-5, atol=1e-5)


def test_soft_prompt_oracle_matches_notebook(nb):
    config = dict(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=8)
    state = CONF.random_gpt_state(config, 3)
    wrapped = nb.SoftPromptGPT(nb.GPT.from_state(config, state), 4)
    idx = torch.randint(0, 13, (2, 8))
    expected = CONF.soft_prompt_forward(CONF.trusted_gpt(config, state), wrapped.prompt.detach().double(), idx)
    torch.testing.assert_close(wrapped(idx).detach().double(), expected, rtol=1e-5, atol=1e-5)


def test_finetune_replay_matches_notebook(nb):
    config = dict(vocab_size=13, block_size=12, n_layer=1, n_head=2, n_embd=8)
    state = CONF.random_gpt_state(config, 4)
    ids = torch.randint(0, 13, (200,))
    run = dict(steps=3, batch_size=2, block_size=6, lr=1e-2, weight_decay=0.1, seed=5)
    model = nb.GPT.from_state(config, state)
    model.ln_f.requires_grad_(False)
    losses = nb.finetune(model, ids, run)
    mine = CONF.trusted_gpt(config, state).float()
    np.testing.assert_allclose(losses, FT._oracle_finetune(mine, ids, run, ("ln_f.",)), rtol=1e-6)
    for name, p in mine.named_parameters():
        torch.testing.assert_close(dict(model.named_parameters())[name].detach(), p.detach())


def test_trusted_prompt_loop_equals_notebook_finetune(nb):
    """conftest.tune_prompt (gradients through the notebook's helper, AdamW here) takes the same steps as the
    notebook's finetune on a SoftPromptGPT: the grader's prompt tuning is the one the notebook teaches."""
    config = dict(vocab_size=13, block_size=12, n_layer=1, n_head=2, n_embd=8)
    state = CONF.random_gpt_state(config, 6)
    ids = torch.randint(0, 13, (200,))
    run = dict(steps=4, batch_size=3, block_size=6, lr=3e-2, weight_decay=0.0, seed=2)
    a = nb.SoftPromptGPT(nb.GPT.from_state(config, state), 3, [1, 2, 3])
    b = nb.SoftPromptGPT(nb.GPT.from_state(config, state), 3, [1, 2, 3])
    theirs = nb.finetune(a, ids, run)
    ours = CONF.tune_prompt(b, nb.gradients, ids, run)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    torch.testing.assert_close(a.prompt.detach(), b.prompt.detach(), rtol=1e-5, atol=1e-6)


def test_heldout_loss_scores_next_characters():
    """A model that knows the held-out stream exactly scores ~0; a uniform one ln(V)."""
    ids = torch.randint(0, 7, (500,))
    lookup = {tuple(ids[i: i + 32].tolist()): ids[i + 1: i + 33] for i in range(0, 500 - 33, 32)}

    def perfect(x):
        return torch.stack([torch.nn.functional.one_hot(lookup[tuple(row.tolist())], 7).float() * 50 for row in x])

    assert CONF.heldout_loss(perfect, ids, vocab=7) < 1e-6
    assert abs(CONF.heldout_loss(lambda x: torch.zeros(*x.shape, 7), ids, vocab=7) - np.log(7)) < 1e-9


def test_cpu_bars_sit_between_reference_and_baselines():
    figures = json.loads((ROOT / "reference" / MILESTONE / "smoke-calibration.json").read_text())
    base = figures["baselines"]
    runs = figures["runs"]
    worst = {kind: max(r["heldout"] for r in runs if r["kind"] == kind) for kind in ("full", "lora", "prompt")}
    assert worst["full"] < FT.SMOKE_FULL_THRESHOLD < min(base["bigram"], base["base"])
    assert worst["lora"] < FT.SMOKE_LORA_THRESHOLD < min(base["bigram"], base["base"])
    assert worst["prompt"] < PT.SMOKE_THRESHOLD < min(base["base"], base["base_untrained_prompt"])
    assert len({r["seed"] for r in runs}) >= 5
