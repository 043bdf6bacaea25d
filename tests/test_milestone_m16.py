"""Consistency checks and reference figures of milestone m16-inference (fast, no grading).

The hidden suite keeps its own oracles (keys/values of a plain forward, greedy decoding, speculative
acceptance counts from the known greedy continuation, a float64 int8 quantiser, a pooled chi-square);
these tests make sure they agree with the notebook's reference solution, that the mutants and
alternatives apply, and that the thresholds sit between the reference and the baselines recorded in
reference/m16-inference/README.md. Whole-notebook grading is `course validate` and tests/test_mutants.py.
"""

from __future__ import annotations

import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

from coursekit_student.base_gpt import GPT, GPTConfig, heldout_loss

from tests.milestone_code import graded_namespace, load_suite_module

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "autograder" / "suites" / "m16-inference"
NOTEBOOK = ROOT / "source" / "m16-inference" / "m16-inference.ipynb"


def _load(name: str) -> types.ModuleType:
    return load_suite_module(SUITE.name, name)


CONF, QUANT = _load("conftest"), _load("test_quantization")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: a second thread only adds contention on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _code_cells() -> list:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def nb() -> dict:
    """The source notebook's graded code (solutions included), executed here."""
    return graded_namespace(NOTEBOOK)


def _tiny(layers: int, seed: int) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=layers, n_head=2, n_embd=16)).eval()


@pytest.mark.parametrize("kind", ["mutants", "alternatives"])
def test_every_find_string_occurs_once_in_the_notebook(kind):
    code = "\n".join(c.source for c in _code_cells())
    entries = yaml.safe_load((ROOT / "tests" / kind / "m16-inference.yaml").read_text())
    parts = {e["part"] for e in entries}
    if kind == "mutants":
        assert parts == {"kv_cache", "quantization", "speculative", "batching"}  # >= 1 mutant per part
    for entry in entries:
        for rule in entry["replace"]:
            assert code.count(rule["find"]) == 1, (entry["name"], rule["find"])


def test_cache_oracle_agrees_with_the_notebook(nb):
    model = _tiny(2, 0)
    idx = torch.randint(0, 65, (2, 12), generator=torch.Generator().manual_seed(1))
    cache = nb["KVCache"](2)
    nb["forward_with_cache"](model, idx, cache)
    for layer, (k, v) in enumerate(CONF.keys_values(model, idx)):
        torch.testing.assert_close(cache.keys[layer], k)
        torch.testing.assert_close(cache.values[layer], v)
    assert nb["generate_greedy"](model, idx[:1, :5], 20)[0, 5:].tolist() == CONF.greedy(model, idx[0, :5].tolist(), 20)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_speculative_count_oracle_agrees_with_the_notebook(nb, k):
    target, draft = _tiny(2, 0), _tiny(1, 1)
    prompt = [3, 1, 4, 1, 5]
    out, accepted, proposed = nb["speculative_greedy"](target, draft, torch.tensor([prompt]), 25, k)
    assert out[0, 5:].tolist() == CONF.greedy(target, prompt, 25)
    assert (accepted, proposed) == CONF.speculative_counts(target, draft, prompt, 25, k)
    assert CONF.speculative_counts(target, target, prompt, 10, 3) == (8, 8)  # the public test's worked example


def test_int8_oracle_agrees_with_the_notebook(nb):
    w = torch.randn(40, 30, generator=torch.Generator().manual_seed(0)) * torch.rand(40, 1)
    w[3] = 0
    q, scale = nb["quantize_int8"](w)
    want_q, want_scale = CONF.int8_oracle(w)
    assert torch.equal(q.long(), want_q) and torch.equal(scale, want_scale)


def test_chi_square_accepts_the_truth_and_rejects_the_draft():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(65, 0.3))
    q = 0.7 * p + 0.3 * rng.dirichlet(np.full(65, 0.3))  # total variation ~0.2 like the draft's at the test prompt
    fair = np.bincount(rng.choice(65, size=600, p=p), minlength=65).tolist()
    biased = np.bincount(rng.choice(65, size=600, p=q / q.sum()), minlength=65).tolist()
    assert CONF.chi_square_pvalue(fair, p.tolist())[0] > 1e-4
    assert CONF.chi_square_pvalue(biased, p.tolist())[0] < 1e-4


@pytest.mark.slow
def test_quantisation_thresholds_separate_reference_and_baselines(nb):
    """Builds or reads the cached base model (first build ~2-3 CPU-minutes)."""
    base, draft, tok, text = CONF.models()
    _, val_ids = CONF.split_ids(text, tok)
    state = base.state_dict()
    fp = heldout_loss(base, val_ids)
    qstate = nb["quantize_state_dict"](state)
    int8 = heldout_loss(GPT.from_state(dict(vars(base.config)), nb["dequantize_state_dict"](qstate)), val_ids)
    assert int8 - fp < QUANT.LOSS_MARGIN / 4  # the reference sits well inside the margin

    def grid(w, levels):  # per-channel, coarser grid: the baseline the margin must reject
        s = w.abs().amax(1, keepdim=True) / levels
        return torch.round(w / s).clamp(-levels, levels) * s

    coarse = {k: grid(v, 7) if k.startswith("blocks.") and k.endswith(".weight") and v.dim() == 2 else v
              for k, v in state.items()}
    assert heldout_loss(GPT.from_state(dict(vars(base.config)), coarse), val_ids) - fp > QUANT.LOSS_MARGIN
    ratio = QUANT._nbytes(qstate) / QUANT._nbytes(state)
    assert ratio < QUANT.BYTES_RATIO_MAX < 1.0
