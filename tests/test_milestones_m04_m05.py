"""Consistency checks of milestones m04-vectorization and m05-classical-ml (fast, no grading).

The hidden suites keep their own copies of the code the notebooks give students (the loop
baseline, the data stream), because students can edit the notebook's copies; these tests make
sure the two never drift apart. Whole-notebook grading is `course validate` (and tests/test_mutants.py).
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _suite(milestone: str) -> types.ModuleType:
    path = ROOT / "autograder" / "suites" / milestone / "test_hidden.py"
    spec = importlib.util.spec_from_file_location(f"_suite_{milestone.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _given_code(milestone: str, *names: str) -> dict:
    """Execute the notebook cells that define ``names`` (given code, outside solution regions)."""
    nb = nbformat.read(ROOT / "source" / milestone / f"{milestone}.ipynb", as_version=4)
    namespace: dict = {"np": np}
    for cell in nb.cells:
        if cell.cell_type == "code" and any(f"def {name}(" in cell.source for name in names):
            exec(compile(cell.source, f"<{milestone}>", "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"{milestone}: the notebook no longer defines {missing}"
    return namespace


def test_m04_grader_loop_matches_notebook_loop():
    given = _given_code("m04-vectorization", "pairwise_loop")
    suite = _suite("m04-vectorization")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    np.testing.assert_array_equal(suite.grader_pairwise_loop(X, Y), given["pairwise_loop"](X, Y))


@pytest.mark.parametrize("n_rows,n_cols,seed", [(25_001, 3, 0), (10_000, 1, 42), (7, 2, 123)])
def test_m04_grader_stream_matches_notebook_stream(n_rows, n_cols, seed):
    given = _given_code("m04-vectorization", "data_chunks")
    suite = _suite("m04-vectorization")
    ours = list(suite.grader_data_chunks(n_rows, n_cols, seed))
    theirs = list(given["data_chunks"](n_rows, n_cols, seed))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert sum(len(chunk) for chunk in ours) == n_rows


def test_m04_stream_is_far_from_zero_and_drifts():
    # the premise of the streaming test: E[x^2] - E[x]^2 must fail and per-chunk variances must not suffice
    suite = _suite("m04-vectorization")
    chunks = list(suite.grader_data_chunks(200_000, 1, 5))
    means = np.array([c.mean() for c in chunks])
    assert means.min() > 1e7
    assert np.ptp(means) > 1.0  # the mean drifts by more than the within-chunk std


def test_m05_cv_helper_matches_fit_ridge_formula():
    given = _given_code("m05-classical-ml", "_ridge")
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    w, b = given["_ridge"](X, y, 2.5)
    ref = Ridge(alpha=2.5).fit(X, y)
    np.testing.assert_allclose(w, ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(b, ref.intercept_, rtol=1e-10)
