"""Compile one source notebook into its student release (bytes, deterministic)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from coursekit.compiler.transforms import MarkerError, default_pipeline


class NotebookError(ValueError):
    """The source notebook cannot be read; one-line message."""


def _stable_ids(data: dict) -> dict:
    """Give id-less cells an id derived from their position and text.

    nbformat fills missing ids with random ones, which would make every release differ.
    """
    if data.get("nbformat") == 4:
        data["nbformat_minor"] = max(int(data.get("nbformat_minor", 0)), 5)
        for index, cell in enumerate(data.get("cells", [])):
            if not cell.get("id"):
                text = "".join(cell.get("source", ""))
                cell["id"] = hashlib.sha256(f"{index}\0{text}".encode()).hexdigest()[:8]
    return data


def read_notebook(path: Path) -> NotebookNode:
    try:
        data = _stable_ids(json.loads(path.read_text(encoding="utf-8")))
        return nbformat.from_dict(nbformat.reads(json.dumps(data), as_version=4))
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook; create it or fix `notebook:` in course.yaml") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"{path}: not a valid .ipynb (JSON error: {str(exc).splitlines()[0][:120]}); "
                            f"re-save it from JupyterLab") from None


def compile_notebook(nb: NotebookNode, *, label: str) -> NotebookNode:
    """Run the release pipeline over a copy of ``nb``; ``label`` names it in error messages."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # deep copy: the source stays untouched
    resources = {"notebook_path": label}
    try:
        for transform in default_pipeline():
            nb, resources = transform.preprocess(nb, resources)
    except MarkerError:
        raise
    except ValueError as exc:  # e.g. nbgrader: "language 'julia' has not been specified"
        raise NotebookError(f"{label}: {exc}; the course's notebooks must use a Python kernel") from None
    return nb


def notebook_bytes(nb: NotebookNode) -> bytes:
    """nbformat's canonical JSON (sorted keys, indent 1) + newline: the same notebook, the same bytes."""
    return (nbformat.writes(nb, version=4) + "\n").encode("utf-8")


def compile_file(path: Path, *, label: str | None = None, part_points: dict[str, int] | None = None) -> bytes:
    """The release notebook's bytes; ``part_points`` (from course.yaml) is stamped into its metadata
    so ``check()`` can tell a student what each part is worth in total, hidden tests included."""
    nb = compile_notebook(read_notebook(path), label=label or str(path))
    if part_points:
        nb.metadata["coursekit"] = {"part_points": dict(part_points)}
    return notebook_bytes(nb)


__all__ = ["MarkerError", "NotebookError", "compile_file", "compile_notebook", "notebook_bytes", "read_notebook"]
