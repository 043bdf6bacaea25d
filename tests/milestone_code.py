"""What the milestones' consistency tests (tests/test_milestone_*.py) share: a hidden-suite module loaded
by path (the suites are not packages) and the source notebook's graded code run in this process."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def load_suite_module(milestone_id: str, name: str) -> types.ModuleType:
    """autograder/suites/<milestone_id>/<name>.py as a module (a unique name, so suites never collide)."""
    path = ROOT / "autograder" / "suites" / milestone_id / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_{milestone_id.replace('-', '_')}_kit_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def graded_namespace(notebook: Path) -> dict:
    """The names the notebook's graded cells define, solutions included: every code cell the grader runs
    (not ``ungraded``, not ``check``), without the student package's check import."""
    namespace: dict = {}
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "ungraded" not in tags and "check" not in tags:
            source = cell.source.replace("from coursekit_student import check, check_all", "")
            exec(compile(source, f"<{notebook.stem} cell {index}>", "exec"), namespace)
    return namespace
