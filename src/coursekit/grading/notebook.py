"""Turn a submitted notebook into the code the worker executes, safely and predictably.

Parsing happens on the trusted side (nbformat on untrusted JSON, with size limits); only the
cell sources cross into the worker. Cells tagged ``ungraded`` are skipped; IPython magics and
``!shell`` lines become calls to a do-nothing ``get_ipython()`` (IPython's own transformer).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
SKIP_TAGS = {"ungraded"}


class SubmissionError(Exception):
    """The submission cannot be graded as a notebook; the message says why, for the student."""


@dataclass(frozen=True)
class CodeCell:
    index: int      # position among all cells of the notebook (what students see as "cell N")
    source: str     # Python, magics neutralised


def notebook_in_folder(folder: Path) -> Path:
    """The one notebook (or zip) in a student's folder from an LMS export."""
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".ipynb", ".zip")
                   and ".ipynb_checkpoints" not in p.parts and not p.name.startswith("."))
    if len(found) != 1:
        names = ", ".join(p.name for p in found[:5]) or "none"
        raise SubmissionError(f"the submission folder must hold exactly one .ipynb or .zip (found {len(found)}: "
                              f"{names}); upload just the notebook to be graded")
    return found[0]


def read_notebook_bytes(path: Path) -> bytes:
    """The notebook's bytes from a .ipynb, a .zip holding exactly one .ipynb, or a folder holding one."""
    path = Path(path)
    if path.is_dir():
        path = notebook_in_folder(path)
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist()
                         if n.endswith(".ipynb") and "/." not in "/" + n and "__MACOSX" not in n]
                if len(names) != 1:
                    raise SubmissionError(f"the zip must hold exactly one .ipynb (found {len(names)})")
                info = archive.getinfo(names[0])
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    raise SubmissionError(_too_big(info.file_size))
                return archive.read(names[0])
        except zipfile.BadZipFile:
            raise SubmissionError("the .zip file is damaged; re-create it and upload again") from None
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(_too_big(size))
    return path.read_bytes()


def _too_big(size: int) -> str:
    return (f"the notebook is {size / 1e6:.0f} MB (limit {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB); "
            "clear outputs (Edit → Clear All Outputs), save and upload again")


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
