"""Turn a submitted notebook into the code the worker executes, safely and predictably.

Parsing happens on the trusted side (nbformat on untrusted JSON, with size limits); only the
cell sources cross into the worker. Cells tagged ``ungraded`` are skipped; IPython magics and
``!shell`` lines become calls to a do-nothing ``get_ipython()`` (IPython's own transformer).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

# Reading the bytes (folders, zips, never through a link) lives in submission_files; re-exported here.
from coursekit.grading.submission_files import (  # noqa: F401 (re-exported)
    MAX_NOTEBOOK_BYTES, SubmissionError, notebook_in_folder, read_notebook_bytes)

SKIP_TAGS = {"ungraded"}


@dataclass(frozen=True)
class CodeCell:
    index: int      # position among all cells of the notebook (what students see as "cell N")
    source: str     # Python, magics neutralised


def parse_notebook(data: bytes) -> nbformat.NotebookNode:
    """Parse notebook bytes into nbformat v4, with one-line errors a student can act on."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"the file is not UTF-8 text (bad byte at position {exc.start}); "
                              "upload the .ipynb saved by Jupyter") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SubmissionError(f"the file is not a notebook: invalid JSON ({exc.msg} at line {exc.lineno}); "
                              "upload the .ipynb saved by Jupyter") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise SubmissionError("the file is JSON but not a Jupyter notebook (no cells); upload the .ipynb")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for odd versions
        raise SubmissionError(f"the notebook could not be read ({type(exc).__name__}: {exc}); "
                              "open it in JupyterLab, save, and upload again") from None
    return notebook


def neutralise(source: str) -> str:
    """Rewrite IPython syntax (``%magic``, ``!cmd``) into plain Python calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # leave it: a SyntaxError will be reported for that cell
        return source


def code_cells(notebook: nbformat.NotebookNode) -> list[CodeCell]:
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []) or [])
        if tags & SKIP_TAGS:
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if source.strip():
            cells.append(CodeCell(index=index, source=neutralise(source)))
    return cells


def load_submission(path: Path) -> tuple[list[CodeCell], str]:
    """(code cells to execute, sha256 of the submitted bytes)."""
    data = read_notebook_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    return code_cells(parse_notebook(data)), digest


SUSPICIOUS = ("sys.setprofile", "sys.settrace", "gc.get_objects", "gc.get_referrers", "ctypes", "/proc/",
              "os.kill", "__kit__", "COURSEKIT_", "coursekit.", "import coursekit\n", "os.fork", "socket")


def suspicious_lines(cells: list[CodeCell]) -> list[str]:
    """Lines a TA should look at: code that reaches for the grader's machinery rather than the task.

    Flags never change a score (the score comes from values the trusted side checked); they put the
    submission in front of a human.
    """
    found = []
    for cell in cells:
        for number, line in enumerate(cell.source.splitlines(), 1):
            if any(pattern in line + "\n" for pattern in SUSPICIOUS):
                found.append(f"cell [{cell.index}] line {number}: {line.strip()[:120]}")
    return found[:20]
