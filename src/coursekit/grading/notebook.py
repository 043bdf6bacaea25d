"""Turn a submitted notebook into the code the worker executes, safely and predictably.

Parsing happens on the trusted side (plain ``json`` on untrusted bytes, with size limits; nbformat
only for notebooks that are not plain v4, see parse_notebook); only the cell sources cross into the
worker. Cells tagged ``ungraded`` are skipped; IPython magics and ``!shell`` lines become calls to a
do-nothing ``get_ipython()`` (IPython's own transformer).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Reading the bytes (folders, zips, never through a link) lives in submission_files; re-exported here.
from coursekit.grading.submission_files import (  # noqa: F401 (re-exported)
    MAX_NOTEBOOK_BYTES, SubmissionError, notebook_in_folder, read_notebook_bytes)

SKIP_TAGS = {"ungraded"}


@dataclass(frozen=True)
class CodeCell:
    index: int      # position among all cells of the notebook (what students see as "cell N")
    source: str     # Python, magics neutralised


def parse_notebook(data: bytes) -> dict[str, Any]:
    """Parse notebook bytes into a v4 notebook dict, with one-line errors a student can act on.

    A plain v4 notebook (what every current Jupyter writes) is read with ``json`` alone: importing
    nbformat costs about a second per grading process (jsonschema's format checkers), and for such a
    notebook nbformat would return the same cells. Anything else (older versions, odd structure) goes
    through nbformat's reader and converter, so its error messages stay what they were.
    """
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
    if _plain_v4(raw):
        return raw
    try:
        import nbformat  # only for what the fast path does not take (about 1 s to import)

        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for odd versions
        raise SubmissionError(f"the notebook could not be read ({type(exc).__name__}: {exc}); "
                              "open it in JupyterLab, save, and upload again") from None
    return notebook


def _is_int(value: Any) -> bool:
    return type(value) is int


def _strings(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, list) and all(isinstance(v, str) for v in value)


def _plain_output(output: Any) -> bool:
    if not isinstance(output, dict) or not isinstance(output.get("output_type", ""), str):
        return False
    if output.get("output_type") in ("execute_result", "display_data"):
        return isinstance(output.get("data", {}), dict)
    return _strings(output.get("text", ""))


def _plain_cell(cell: Any) -> bool:
    return (isinstance(cell, dict) and isinstance(cell.get("metadata"), dict)
            and isinstance(cell.get("cell_type", ""), str) and _strings(cell.get("source", ""))
            and "attachments" not in cell
            and (cell.get("cell_type") != "code" or isinstance(cell.get("outputs", []), list)
                 and all(_plain_output(o) for o in cell.get("outputs", []))))


def _plain_v4(raw: dict) -> bool:
    """Whether nbformat's v4 reader would accept ``raw`` unchanged up to line-joining (so no error to keep).

    Every structure nbformat's reader touches is checked here; anything unusual takes nbformat's path.
    """
    return (_is_int(raw.get("nbformat")) and raw["nbformat"] == 4 and _is_int(raw.get("nbformat_minor", 0))
            and isinstance(raw.get("metadata"), dict) and isinstance(raw.get("cells"), list)
            and all(_plain_cell(cell) for cell in raw["cells"]))


def neutralise(source: str) -> str:
    """Rewrite IPython syntax (``%magic``, ``!cmd``) into plain Python calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # leave it: a SyntaxError will be reported for that cell
        return source


def code_cells(notebook: dict[str, Any]) -> list[CodeCell]:
    cells = []
    for index, cell in enumerate(notebook["cells"]):
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
