"""Scores only from trusted facts, on real milestones and through the whole grader (slow).

- a notebook whose every function raises ValueError earns 0 (before: 6/65 on m01, 5/70 on m03
  from the input-validation tests);
- m03's coverage test is not "met" by returned intervals whose comparisons lie;
- hidden inputs depend on the course secret and the submission, and the secret never reaches the
  worker's environment.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.api import grade_one
from coursekit.grading.mutants import Mutant, apply_mutant
from coursekit.grading.sandbox import namespaces_available
from coursekit.grading.secret import ENV

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course.yaml"
ENGINE = Path(__file__).parent / "fixtures" / "engine_course"

def grade(**kwargs) -> dict:
    """grade_one's results as the JSON dict written to results.json (whatever object it returns)."""
    results = grade_one(**kwargs)
    return results if isinstance(results, dict) else results.model_dump(mode="json")


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not namespaces_available(), reason="grading needs the sandbox (root, namespaces)")]


class _RaiseEverywhere(ast.NodeTransformer):
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.body = [ast.parse("raise ValueError('invalid input')").body[0]]
        return node


def every_function_raises(notebook: Path, out: Path) -> Path:
    """The notebook with the body of every function of every graded part replaced by ``raise ValueError``."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and any(t.startswith("part:") for t in tags) and "check" not in tags:
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            cell.source = ast.unparse(_RaiseEverywhere().visit(tree))
    nbformat.write(nb, out)
    return out


@pytest.mark.parametrize("milestone", ["m01-linear-algebra", "m03-probability"])
def test_a_notebook_whose_every_function_raises_scores_zero(milestone, tmp_path):
    notebook = every_function_raises(ROOT / "source" / milestone / f"{milestone}.ipynb", tmp_path / "raises.ipynb")
    results = grade(course_file=COURSE, milestone_id=milestone, notebook=notebook, student="raises",
                        out_dir=tmp_path / "out", device="cpu")
    assert results["extra_data"]["grader"]["status"] == "ok", results["extra_data"]["grader"]
    assert results["score"] == 0, [(t["name"], t["output"][:120]) for t in results["tests"] if t["score"]]
    held = [t for t in results["tests"] if "works on good input" in t["output"]]
    assert held, "no raise test was held: the fixture no longer exercises the rule"


LYING_INTERVAL = """    class _Low:  # claims to be below everything
        def __le__(self, other):
            return True
        __lt__ = __le__
    class _High:  # claims to be above everything, except now and then (coverage ~92%, as it should be)
        calls = [0]
        def __ge__(self, other):
            self.calls[0] += 1
            return self.calls[0] % 12 != 0
        __gt__ = __ge__
    return _Low(), _High()
"""


def test_lying_intervals_do_not_meet_coverage(tmp_path):
    source = ROOT / "source" / "m03-probability" / "m03-probability.ipynb"
    honest = ("    reps = bootstrap_replicates(x, statistic, n_boot, seed)\n"
              "    low, high = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])\n"
              "    return float(low), float(high)\n")
    mutant = Mutant("lying-intervals", "bootstrap", "intervals whose comparisons lie", ((honest, LYING_INTERVAL),))
    notebook = apply_mutant(source, mutant, tmp_path / "liar.ipynb")
    results = grade(course_file=COURSE, milestone_id="m03-probability", notebook=notebook, student="liar",
                        out_dir=tmp_path / "out", device="cpu", only_parts=["bootstrap"])
    tests = {t["name"].split("] ")[-1]: t for t in results["tests"]}
    assert tests["test_ci_coverage"]["score"] == 0
    assert tests["test_ci_uses_replicates_quantiles"]["score"] == 0


def _printed_inputs(out: Path) -> list[str]:
    log = (out / "grader.log").read_text()
    return re.findall(r"INPUT (\S+)", log)


def test_hidden_inputs_follow_the_submission_and_the_secret_stays_out(tmp_path, monkeypatch):
    # The student prints the hidden test's inputs (grader.log keeps its output) and its environment.
    monkeypatch.setenv(ENV, "s3cr3t-" + "x" * 40)
    nb = nbformat.read(ENGINE / "source" / "m00-engine" / "m00-engine.ipynb", as_version=4)
    spy = ("import os\nprint('ENV', sorted(os.environ.items()), flush=True)\n"
           "def add(a, b):\n    print('INPUT', repr(getattr(a, 'tolist', lambda: a)()).replace(' ', ''), flush=True)\n"
           "    return a + b\n")
    cell = next(c for c in nb.cells if "part:add" in c.metadata.get("tags", []) and "check" not in c.metadata["tags"])
    cell.source = spy
    first, second = tmp_path / "first.ipynb", tmp_path / "second.ipynb"
    nbformat.write(nb, first)
    cell.source = spy + "# a different submission\n"
    nbformat.write(nb, second)
    runs = {}
    for name, path in (("a", first), ("b", first), ("c", second)):
        results = grade(course_file=ENGINE / "course.yaml", milestone_id="m00-engine", notebook=path,
                            student=name, out_dir=tmp_path / name, device="cpu")
        assert results["score"] == 6
        runs[name] = _printed_inputs(tmp_path / name)
        log = (tmp_path / name / "grader.log").read_text()
        assert "ENV" in log and "s3cr3t" not in log and ENV not in log.split("# student stdout/stderr")[1]
        assert "s3cr3t" not in (tmp_path / name / "results.json").read_text()
    hidden = lambda inputs: [i for i in inputs if i.startswith("[")]  # noqa: E731 - the arrays, not add(2, 3)
    assert hidden(runs["a"]) and hidden(runs["a"]) == hidden(runs["b"])  # same submission, same inputs
    assert hidden(runs["a"]) != hidden(runs["c"])  # another submission, other inputs
    assert os.environ[ENV].startswith("s3cr3t")
