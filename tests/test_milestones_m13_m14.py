"""Kit tests for milestones m13-transformer and m14-small-lm: mutants are well-formed, and the hidden
suites' trusted oracles agree with the reference notebooks (so a failing student test means the
student, not the oracle, is wrong)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = ("m13-transformer", "m14-small-lm")


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebook(milestone: str):
    calibrate = _module(ROOT / "reference" / milestone / "calibrate.py", f"calibrate_{milestone.replace('-', '_')}")
    return calibrate.load_notebook(ROOT / "source" / milestone / f"{milestone}.ipynb")


@pytest.mark.parametrize("milestone", MILESTONES)
def test_mutants_find_exactly_once_and_name_a_part(milestone):
    cells = nbformat.read(ROOT / "source" / milestone / f"{milestone}.ipynb", as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    parts = yaml.safe_load((ROOT / "course.yaml").read_text())
    parts = next(m["parts"] for m in parts["milestones"] if m["id"] == milestone)
    mutants = yaml.safe_load((ROOT / "tests" / "mutants" / f"{milestone}.yaml").read_text())
    assert {m["part"] for m in mutants} == set(parts), "every part needs at least one mutant"
    for mutant in mutants:
        for replace in mutant["replace"]:
            assert sum(src.count(replace["find"]) for src in code) == 1, (mutant["name"], replace["find"])


@pytest.mark.slow
def test_m14_gpt_oracle_matches_reference_notebook():
    nb = _notebook("m14-small-lm")
    conftest = _module(ROOT / "autograder" / "suites" / "m14-small-lm" / "conftest.py", "m14_conftest")
    torch.manual_seed(0)
    model = nb.GPT(40, 16, 2, 4, 32).double().eval()
    idx = torch.randint(0, 40, (2, 9))
    torch.testing.assert_close(model(idx), conftest.oracle_gpt_forward(model.state_dict(), idx, 2, 4),
                               rtol=1e-10, atol=1e-10)


def test_m14_bpe_oracle_matches_reference_notebook():
    nb = _notebook("m14-small-lm")
    conftest = _module(ROOT / "autograder" / "suites" / "m14-small-lm" / "conftest.py", "m14_conftest_bpe")
    text = "the cat sat on the mat; the hat — ünïcödé 😀 <|endoftext|> the end " * 20
    vocab, merges = nb.train_bpe(text, 300, ["<|endoftext|>"])
    tokenizer = nb.BPETokenizer(vocab, merges, ["<|endoftext|>"])
    sample = "that cat's hat<|endoftext|>ünï 😀"
    assert tokenizer.encode(sample) == conftest.oracle_encode(sample, vocab, merges, ["<|endoftext|>"])
    assert tokenizer.decode(tokenizer.encode(sample)) == sample


def test_m14_heldout_loss_cannot_see_its_target():
    """The held-out metric scores only the token after each window, so even a model that reads the future
    (no causal mask) cannot see the target it is scored on."""
    suite = _module(ROOT / "autograder" / "suites" / "m14-small-lm" / "test_training.py", "m14_training")

    class Oracle:  # cheats perfectly on any target inside its input, knows nothing else
        def __call__(self, x):
            logits = torch.zeros(x.shape[0], x.shape[1], 5)
            logits[:, :-1] = 50 * torch.nn.functional.one_hot(x[:, 1:], 5)
            return logits

    val = np.random.default_rng(0).integers(0, 5, size=2000)
    loss = suite.heldout_loss(Oracle(), val, 16, np.random.default_rng(1))
    assert loss == pytest.approx(np.log(5), abs=1e-9)


def test_m13_trusted_task_matches_notebook_format():
    nb = _notebook("m13-transformer")
    suite = _module(ROOT / "autograder" / "suites" / "m13-transformer" / "test_seq2seq.py", "m13_seq2seq")
    src, tgt = suite.reversal_data(np.random.default_rng(0), 50, 6)
    ref_src, ref_tgt = nb.make_reversal_data(50, max_len=6)
    assert src.shape == ref_src.shape and tgt.shape == ref_tgt.shape
    for s, t in zip(src, tgt):
        digits = s[s != nb.PAD]
        assert t[0] == nb.BOS and t[len(digits) + 1] == nb.EOS
        assert torch.equal(t[1:len(digits) + 1], digits.flip(0))


def test_m14_cpu_bar_sits_between_the_reference_and_a_bigram_model():
    """The smoke threshold (issue 14) is calibrated: the reference clears it over 5 seeds with >= 0.15 nats to
    spare and the best count-based bigram on the same held-out windows misses it by >= 0.15 nats."""
    import json

    suite = _module(ROOT / "autograder" / "suites" / "m14-small-lm" / "test_training.py", "m14_training_bar")
    figures = json.loads((ROOT / "reference" / "m14-small-lm" / "smoke-calibration.json").read_text())
    assert figures["threshold"] == suite.SMOKE_THRESHOLD and len(figures["runs"]) >= 5
    # max_seconds is only a safety net for a loaded machine; every other key is the graded configuration
    assert {k: v for k, v in figures["config"].items() if k != "max_seconds"} == {
        k: v for k, v in suite.SMOKE.items() if k != "max_seconds"}
    assert figures["worst_val_loss"] + 0.15 <= suite.SMOKE_THRESHOLD
    assert suite.SMOKE_THRESHOLD + 0.15 <= figures["best_bigram_val_loss"]
