"""Consistency checks of milestones m01-linear-algebra, m02-calculus and m03-probability (fast, no grading).

Whole-notebook grading is `course validate` and tests/test_mutants.py. These tests catch the
drift that grading alone would report confusingly: a hidden suite's trusted copy of a function the
notebook gives students, a from-scratch reference that quietly uses what its tests forbid, and
public/hidden points that no longer add up to course.yaml.
"""

from __future__ import annotations

import ast
import importlib.util
import types
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MILESTONES = ("m01-linear-algebra", "m02-calculus", "m03-probability")


def _module(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _suite(milestone: str) -> types.ModuleType:
    return _module(ROOT / "autograder" / "suites" / milestone / "test_hidden.py", f"_suite_{milestone[:3]}")


def _notebook_functions(milestone: str) -> dict[str, ast.FunctionDef]:
    """Every top-level function defined in the notebook's code cells, by name."""
    nb = nbformat.read(ROOT / "source" / milestone / f"{milestone}.ipynb", as_version=4)
    functions = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = node
    return functions


def _tests_with_metadata(milestone: str) -> list[dict]:
    from coursekit_student.testing import metadata

    found = []
    for path in (ROOT / "source" / milestone / "tests" / "test_public.py",
                 ROOT / "autograder" / "suites" / milestone / "test_hidden.py"):
        module = _module(path, f"_points_{milestone[:3]}_{path.stem}")
        found += [metadata(fn) for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)]
    return found


@pytest.mark.parametrize("milestone", MILESTONES)
def test_points_add_up_to_course_yaml(milestone):
    course = yaml.safe_load((ROOT / "course.yaml").read_text())
    parts = next(m["parts"] for m in course["milestones"] if m["id"] == milestone)
    totals: dict[str, float] = {}
    for meta in _tests_with_metadata(milestone):
        assert "part" in meta and "points" in meta, f"{milestone}: a test lacks @part or @points"
        totals[meta["part"]] = totals.get(meta["part"], 0.0) + meta["points"]
    assert totals == {part: float(points) for part, points in parts.items()}


def test_m01_from_scratch_reference_avoids_what_its_tests_forbid():
    # The grader enforces these bans; a reference that broke them would fail its own hidden tests.
    functions = _notebook_functions("m01-linear-algebra")
    for name in ("matmul", "transpose", "solve", "det", "inverse"):
        node = functions[name]
        matmuls = [n for n in ast.walk(node) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)]
        assert not matmuls, f"{name} uses @"
        text = ast.unparse(node)
        for banned in ("linalg", "np.dot", "matmul(", "einsum", "tensordot", "np.inner"):
            assert banned not in text.replace("def matmul(", ""), f"{name} uses {banned}"


def test_m03_samplers_only_draw_uniforms():
    functions = _notebook_functions("m03-probability")
    for name in ("sample_exponential", "sample_normal", "sample_categorical"):
        calls = {n.func.attr for n in ast.walk(functions[name])
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and isinstance(n.func.value, ast.Name) and n.func.value.id == "rng"}
        assert calls == {"random"}, f"{name} draws with rng.{sorted(calls)}"


def test_m02_suite_spiral_matches_the_notebook():
    # The suite checks the worker's `spiral` against its own copy before trusting it.
    nb = nbformat.read(ROOT / "source" / "m02-calculus" / "m02-calculus.ipynb", as_version=4)
    setup = next(c for c in nb.cells if "setup" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(compile(setup.source.replace("from coursekit_student import check, check_all", ""), "<setup>", "exec"),
         namespace)
    suite = _suite("m02-calculus")
    for p in np.random.default_rng(0).uniform(-3, 3, size=(5, 2)):
        np.testing.assert_allclose(namespace["spiral"](p), suite.spiral_true(p), rtol=0, atol=0)
        # and the analytic Jacobian the suite grades against is the derivative of that map
        h = 1e-6
        numeric = np.stack([(suite.spiral_true(p + h * e) - suite.spiral_true(p - h * e)) / (2 * h)
                            for e in np.eye(2)], axis=1)
        np.testing.assert_allclose(suite.spiral_jacobian(p), numeric, atol=1e-6)
