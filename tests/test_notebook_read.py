"""Reading notebooks with plain json gives exactly what nbformat gave: the same cells, the same errors.

The fast path (grading/notebook.py) skips nbformat for plain v4 notebooks; every other notebook still
goes through nbformat. These tests compare both on the course's real notebooks and on structural
variants of one, so a variant the fast path takes wrongly shows up as a difference here.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.notebook import SubmissionError, _plain_v4, code_cells, parse_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("source/*/*.ipynb")) + sorted((ROOT / "tests" / "fixtures").rglob("*.ipynb"))


def _via_nbformat(data: bytes):
    """What the grader did before the fast path: nbformat for every notebook."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - compared by type and message
        return ("error", type(exc).__name__, str(exc))
    return _cells(notebook)


def _via_grader(data: bytes):
    try:
        notebook = parse_notebook(data)
    except SubmissionError as exc:
        return ("error", str(exc))
    return _cells(notebook)


def _cells(notebook) -> tuple:
    try:
        return ("cells", code_cells(notebook))
    except Exception as exc:  # noqa: BLE001 - e.g. a non-string source: both paths must fail alike
        return ("crash", type(exc).__name__, str(exc))


def _same(data: bytes) -> None:
    expected, got = _via_nbformat(data), _via_grader(data)
    if expected[0] in ("cells", "crash"):
        assert got == expected
    else:  # the grader wraps nbformat's error in its one-line message
        assert got[0] == "error" and f"({expected[1]}: {expected[2]})" in got[1]


def test_the_course_notebooks_take_the_fast_path_with_the_same_cells():
    assert len(NOTEBOOKS) >= 10
    for path in NOTEBOOKS:
        data = path.read_bytes()
        assert _plain_v4(json.loads(data)), path
        _same(data)


def _variants(base: dict) -> list[dict]:
    """Structural oddities a hand-edited or hostile notebook may carry."""
    code = next(i for i, c in enumerate(base["cells"]) if c["cell_type"] == "code")
    edits = [
        lambda nb: nb.pop("metadata"),
        lambda nb: nb.update(metadata=[]),
        lambda nb: nb.update(nbformat=3),
        lambda nb: nb.update(nbformat=5),
        lambda nb: nb.update(nbformat="4"),
        lambda nb: nb.update(nbformat=4.0),
        lambda nb: nb.update(nbformat_minor="x"),
        lambda nb: nb.pop("nbformat_minor"),
        lambda nb: nb.update(cells={"a": 1}),
        lambda nb: nb.update(cells=[1, 2]),
        lambda nb: nb["cells"][code].pop("metadata"),
        lambda nb: nb["cells"][code].update(metadata={"tags": ["ungraded"]}),
        lambda nb: nb["cells"][code].update(metadata={"tags": "ungraded"}),
        lambda nb: nb["cells"][code].update(source=["x = 1\n", 2]),
        lambda nb: nb["cells"][code].update(source=["x = 1\n", "y = 2\n"]),
        lambda nb: nb["cells"][code].update(source=5),
        lambda nb: nb["cells"][code].pop("source"),
        lambda nb: nb["cells"][code].update(cell_type=7),
        lambda nb: nb["cells"][code].update(outputs="none"),
        lambda nb: nb["cells"][code].update(outputs=[1]),
        lambda nb: nb["cells"][code].update(outputs=[{"output_type": "stream", "text": ["a", 1]}]),
        lambda nb: nb["cells"][code].update(outputs=[{"output_type": "display_data", "data": [1]}]),
        lambda nb: nb["cells"][code].update(outputs=[{"output_type": "execute_result",
                                                      "data": {"text/plain": ["a", "b"]}}]),
        lambda nb: nb["cells"][code].update(attachments={"a.png": []}),
        lambda nb: nb["cells"][code].update(attachments={"a.png": {"image/png": "AA=="}}),
        lambda nb: nb["cells"].append({"cell_type": "code", "metadata": {}, "source": "%time z = 3\n!ls"}),
    ]
    variants = []
    for edit in edits:
        notebook = copy.deepcopy(base)
        edit(notebook)
        variants.append(notebook)
    return variants


@pytest.mark.parametrize("index", range(26))
def test_odd_notebooks_read_as_nbformat_reads_them(index):
    base = json.loads(NOTEBOOKS[0].read_bytes())
    variants = _variants(base)
    assert len(variants) == 26
    _same(json.dumps(variants[index]).encode())


def test_grading_a_plain_notebook_does_not_import_nbformat():
    code = ("import sys; from pathlib import Path; from coursekit.grading.notebook import load_submission; "
            f"load_submission(Path({str(NOTEBOOKS[0])!r})); "
            "print('nbformat' in sys.modules, 'jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
