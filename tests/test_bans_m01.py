"""m01 graded for real: "from scratch" parts done with library shortcuts earn 0; the rest keeps full marks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.api import grade_one
from coursekit.grading.sandbox import namespaces_available

ROOT = Path(__file__).resolve().parent.parent
MILESTONE = "m01-linear-algebra"
CHEATS = '''import scipy.linalg as _sl
_inv = np.linalg.inv  # captured before any ban
def solve(A, b):
    return _sl.solve(np.asarray(A, float), np.asarray(b, float))
def det(A):
    return float(_sl.det(np.asarray(A, float)))
def inverse(A, inv=_inv):
    return inv(np.asarray(A, float))
'''


@pytest.mark.slow
def test_m01_library_shortcuts_earn_nothing_and_the_rest_keeps_full_marks(tmp_path):
    if not namespaces_available():
        pytest.skip("grading m01 needs the sandbox (root with namespaces)")
    notebook = nbformat.read(ROOT / "source" / MILESTONE / f"{MILESTONE}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(CHEATS))  # redefines the parts after the honest ones
    path = tmp_path / "cheat.ipynb"
    nbformat.write(notebook, path)
    grade_one(course_file=ROOT / "course.yaml", milestone_id=MILESTONE, notebook=path, student="cheat",
              out_dir=tmp_path / "out", device="cpu")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    parts = results["extra_data"]["parts"]
    assert parts["solve"]["score"] == 0 and parts["det_inv"]["score"] == 0
    held = {h["part"] for h in results["extra_data"]["holds"]}
    assert held == {"solve", "det_inv"}
    for name, totals in parts.items():
        if name not in ("solve", "det_inv"):
            assert totals["score"] == totals["max_score"], (name, totals)
    assert results["score"] == results["extra_data"]["max_score"] - 20
