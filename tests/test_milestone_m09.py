"""Fast consistency checks for milestone m09-cnn-transfer.

The expensive proofs (reference full marks, blank release 0, mutants lose their part, alternatives keep
full marks) are run by `course validate` and tests/test_mutants.py / tests/test_alternatives.py. Here:
mutants and alternatives apply, the hidden suite's trusted oracles agree with the reference notebook on
random inputs, and the transfer bars sit between training from scratch and the transferred models as
recorded in reference/m09-cnn-transfer/calibration.json.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
ID = "m09-cnn-transfer"
NOTEBOOK = ROOT / "source" / ID / f"{ID}.ipynb"
SUITE = ROOT / "autograder" / "suites" / ID / "test_hidden.py"


@pytest.fixture(scope="module")
def reference():
    """The notebook's graded code cells executed as a module namespace (no training: cells are cheap)."""
    namespace: dict = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "ungraded" not in tags and "check" not in tags:
            exec(compile(cell.source, str(NOTEBOOK), "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def suite():
    spec = importlib.util.spec_from_file_location("m09_hidden", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", ["mutants", "alternatives"])
def test_every_variant_applies_once_and_mutants_cover_every_part(kind):
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    parts = next(m["parts"] for m in yaml.safe_load((ROOT / "course.yaml").read_text())["milestones"]
                 if m["id"] == ID)
    variants = yaml.safe_load((ROOT / "tests" / kind / f"{ID}.yaml").read_text())
    for variant in variants:
        assert variant["part"] in parts, variant["name"]
        for r in variant["replace"]:
            assert sum(s.count(r["find"]) for s in code) == 1, f"{variant['name']}: {r['find']!r}"
    if kind == "mutants":
        assert {m["part"] for m in variants} == set(parts)


def test_source_notebook_is_committed_without_outputs():
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


def test_suite_oracles_agree_with_the_notebook(reference, suite):
    rng = np.random.default_rng(0)
    for k, s, shape in suite.POOL_CASES:
        x = rng.integers(0, 3, size=shape).astype(np.float64)
        y = reference["maxpool2d_forward"](torch.tensor(x), k, s)
        dout = rng.normal(size=tuple(y.shape))
        np.testing.assert_allclose(reference["maxpool2d_backward"](torch.tensor(dout), torch.tensor(x), k, s).numpy(),
                                   suite.pool_oracle_backward(dout, x, k, s), atol=1e-12)
    for grid in (False, True):
        boxes = suite.random_boxes(rng, 30, grid)
        scores = rng.integers(0, 4, size=30) / 3.0
        np.testing.assert_allclose(reference["box_iou"](boxes, boxes), suite.iou_oracle(boxes, boxes), atol=1e-12)
        for threshold in (0.0, 0.3, 0.5):
            np.testing.assert_array_equal(reference["nms"](boxes, scores, threshold),
                                          suite.nms_oracle(boxes, scores, threshold))
    x = rng.normal(size=(7, 2, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(reference["random_crop"](torch.tensor(x), 2, seed=4).numpy(),
                                  suite.crop_oracle(x, 2, 4))
    block, oracle = reference["ResidualBlock"](4, 8, stride=2), suite.OracleBlock(4, 8, 2)
    oracle.load_state_dict(block.state_dict())
    xb = torch.randn(2, 4, 7, 7)
    torch.testing.assert_close(block(xb), oracle(xb))


def test_transfer_bars_sit_between_scratch_and_the_transferred_models(suite):
    rows = json.loads((ROOT / "reference" / ID / "calibration.json").read_text())["rows"]
    for epochs, bar in ((3, suite.CPU_BAR), (10, suite.GPU_BAR)):
        acc = {mode: [r["accuracy"] for r in rows if r["epochs"] == epochs and r["mode"] == mode]
               for mode in ("scratch", "extract", "finetune")}
        assert min(len(v) for v in acc.values()) >= 3, "calibrate over >= 3 seeds"
        assert max(acc["scratch"]) < bar - 0.005, (epochs, acc)            # scratch fails the bar
        assert min(acc["extract"] + acc["finetune"]) > bar + 0.004, (epochs, acc)


def test_graded_recipe_is_the_calibrated_one():
    text = SUITE.read_text()
    assert re.search(r"transfer_accuracy\(submission, mnist, pretrained, (True|False), 3, \"cpu\"\)", text)
    assert re.search(r"transfer_accuracy\(submission, mnist, pretrained, (True|False), 10, device\)", text)
    assert "epochs=epochs, batch_size=50,\n                                        lr=1e-3, seed=0" in text
