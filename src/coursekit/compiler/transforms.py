"""Single-purpose notebook transforms composed into the release pipeline (nbgrader style).

Solution and hidden-test regions are removed by nbgrader's own preprocessors; the classes
here only adapt them (one-line errors naming the cell, stray END markers) and add the small
course-specific steps nbgrader does not have (metadata allow-list, protected cells).
"""

from __future__ import annotations

import logging
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

# What a stub looks like in the release (AUTHORING.md: "raise NotImplementedError()").
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"

# Cell metadata that may reach students; everything else (nbgrader ids, widget state,
# execution timings, editor state) is dropped, so nothing solution-only survives by accident.
CELL_METADATA_KEEP = ("tags", "editable", "deletable")
NOTEBOOK_METADATA_KEEP = ("kernelspec", "language_info")
# Cells students must not delete: the grader and check() rely on them being there.
PROTECTED_TAGS = ("header", "setup", "check", "submit")

# nbgrader logs whole cell sources at ERROR level before raising; we re-raise one line instead.
_QUIET = logging.getLogger("coursekit.compiler.nbgrader")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class MarkerError(ValueError):
    """A BEGIN/END region is malformed; the message is one line naming notebook, cell and fix."""


def _marker_problem(message: str, begin: str, end: str) -> str:
    """Translate nbgrader's RuntimeError text into what is wrong and how to fix it."""
    text = message.lower()
    if "nested" in text:
        return f'"{begin}" inside another {begin} region (nested); close the first with "### {end}" before opening another'
    if "no end" in text:
        return f'"{begin}" without a matching "{end}"; add "### {end}" after the region'
    return f"{message}; check the {begin}/{end} markers"


class _RegionErrors:
    """Mixin: wrap nbgrader's region errors and catch an END marker with no BEGIN."""

    begin: str
    end: str

    def _check_stray_end(self, cell: NotebookNode) -> None:
        # nbgrader silently drops an unmatched END line; an author who wrote one almost
        # certainly lost the BEGIN, so the solution above it would ship.
        depth = 0
        for line in cell.source.split("\n"):
            if self.begin in line:
                depth += 1
            elif self.end in line:
                depth -= 1
                if depth < 0:
                    raise RuntimeError("stray end")

    def _wrapped(self, cell: NotebookNode, resources: dict, index: int, run: Any) -> Any:
        notebook = resources.get("notebook_path", "notebook")
        try:
            self._check_stray_end(cell)
            return run(cell, resources, index)
        except RuntimeError as exc:
            if str(exc) == "stray end":
                problem = f'"{self.end}" without a preceding "{self.begin}"; add "### {self.begin}" or delete the line'
            else:
                problem = _marker_problem(str(exc), self.begin, self.end)
            raise MarkerError(f"{notebook}: cell {index} ({cell.cell_type}): {problem}") from None


class StripSolutions(_RegionErrors, ClearSolutions):
    """nbgrader's ClearSolutions: code regions -> CODE_STUB, markdown regions -> TEXT_STUB."""

    begin = "BEGIN SOLUTION"
    end = "END SOLUTION"

    def __init__(self, **kw: Any) -> None:
        # enforce_metadata=False: our notebooks mark cells with tags, not nbgrader cell metadata.
        super().__init__(code_stub={"python": CODE_STUB}, text_stub=TEXT_STUB, enforce_metadata=False,
                         log=_QUIET, **kw)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        return self._wrapped(cell, resources, index, super().preprocess_cell)


class StripHiddenTests(_RegionErrors, ClearHiddenTests):
    """nbgrader's ClearHiddenTests: drop BEGIN/END HIDDEN TESTS regions written in the notebook."""

    begin = "BEGIN HIDDEN TESTS"
    end = "END HIDDEN TESTS"

    def __init__(self, **kw: Any) -> None:
        super().__init__(enforce_metadata=False, log=_QUIET, **kw)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        return self._wrapped(cell, resources, index, super().preprocess_cell)


class StripOutputs(ClearOutput):
    """nbgrader's ClearOutput: no outputs or execution counts (they could show solution results)."""


class StripMetadata(Preprocessor):
    """Keep only allow-listed notebook and cell metadata (drops widget state, nbgrader ids, timings)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        for key in list(nb.metadata):
            if key not in NOTEBOOK_METADATA_KEEP:
                del nb.metadata[key]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        for key in list(cell.metadata):
            if key not in CELL_METADATA_KEEP:
                del cell.metadata[key]
        return cell, resources


class ProtectCells(Preprocessor):
    """Make header/setup/check/submit cells undeletable (nbgrader LockCells, keyed on our tags)."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if set(cell.metadata.get("tags", ())) & set(PROTECTED_TAGS):
            cell.metadata["deletable"] = False
        return cell, resources


def default_pipeline() -> list[Preprocessor]:
    """The release transforms, in order. Markers first so errors point at the author's text."""
    return [StripSolutions(), StripHiddenTests(), StripOutputs(), StripMetadata(), ProtectCells()]
