"""``course new <id>``: a new milestone that already follows every convention and passes ``course validate``.

It writes the five things a milestone is (docs/AUTHORING.md): the course.yaml entry (appended as
text, so the file's comments and layout stay), a source notebook with the tagged cells the lint
expects (header with objectives, points table and due date; setup; one worked part with its
explanation, documented stub with solution markers and check cell; a written question; submit),
public tests, a hidden suite and a mutants file. The author then replaces the example part.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import nbformat

from coursekit.config import load_course
from coursekit.config.schema import MILESTONE_ID

PART, PUBLIC_POINTS, HIDDEN_POINTS = "scale", 1, 4


class ScaffoldError(ValueError):
    """The milestone cannot be created; one line saying why and what to do."""


def _notebook(milestone_id: str, title: str, due: dt.datetime) -> nbformat.NotebookNode:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    points = PUBLIC_POINTS + HIDDEN_POINTS
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    notebook.cells = [
        md(f"# {milestone_id.split('-')[0]} — {title}\n\nOne paragraph on what this milestone builds and why.\n\n"
           "**Learning objectives**\n\n- the first thing a student will be able to do\n- the second\n\n"
           f"| part | points |\n|---|---:|\n| {PART} | {points} |\n| written: analysis | 5 |\n\n"
           f"**Due:** {due:%Y-%m-%d %H:%M} UTC. **How to submit:** upload this notebook, `{milestone_id}.ipynb`.",
           metadata={"tags": ["header"]}),
        code("import numpy as np\n\nfrom coursekit_student import check, check_all", metadata={"tags": ["setup"]}),
        md(f"## Part 1: {PART}\n\nMultiplying a vector by a number scales every entry: $(c\\,v)_i = c\\,v_i$. "
           "Explain the idea and its math here, before the stub, and say what the tests will check.",
           metadata={"tags": [f"part:{PART}"]}),
        code(f'def {PART}(v, c):\n    """Multiply the vector v by the number c.\n\n    Args:\n'
             '        v: (n,) array-like of numbers.  c: a number.\n    Returns:\n'
             '        (n,) float64 array c * v.\n    """\n'
             '    ### BEGIN SOLUTION\n    return c * np.asarray(v, dtype=float)\n    ### END SOLUTION',
             metadata={"tags": [f"part:{PART}"]}),
        code(f'check("{PART}")', metadata={"tags": [f"part:{PART}", "check"]}),
        md("## Analysis (graded by your TAs)\n\nWhat did you learn, what limits your results, what would you "
           "try next? Answer in the cell below.", metadata={"tags": ["written:analysis"]}),
        md("_Your answer here._", metadata={"tags": ["written:analysis"]}),
        md(f"## Submit\n\nRun `check_all()` below, save, and upload **`{milestone_id}.ipynb`** (this file).",
           metadata={"tags": ["submit"]}),
        code("check_all()", metadata={"tags": ["submit", "ungraded"]}),
    ]
    return notebook


PUBLIC_TESTS = f'''"""Public tests (shipped to students): quick checks with hints."""

import numpy as np

from coursekit_student.testing import hint, part, points


@part("{PART}")
@points({PUBLIC_POINTS})
@hint("Multiply every entry of v by c and return a float array.")
def test_{PART}_small(submission):
    np.testing.assert_allclose(submission.{PART}([1, 2, 3], 2), [2.0, 4.0, 6.0])
'''

HIDDEN_TESTS = f'''"""Hidden tests (grader only). Points per part (public + hidden) add up to course.yaml: {PART} {PUBLIC_POINTS}+{HIDDEN_POINTS}."""

import numpy as np

from coursekit_student.testing import hint, part, points


@part("{PART}")
@points(3)
@hint("Random vectors and factors, including negative and zero factors.")
def test_{PART}_random(submission, rng):
    for n in (1, 5, 50):
        v, c = rng.normal(size=n), float(rng.normal())
        np.testing.assert_allclose(submission.{PART}(v, c), c * v, rtol=1e-12, atol=1e-15)


@part("{PART}")
@points(1)
@hint("The docstring promises a float array, also for integer input.")
def test_{PART}_integers_give_floats(submission):
    result = np.asarray(submission.{PART}([1, 2, 3], 3))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, [3.0, 6.0, 9.0])
'''

MUTANTS = f'''# Plausible mistakes in this milestone, each breaking exactly one part of the source notebook.
- name: {PART}-adds-instead
  part: {PART}
  why: adds c instead of multiplying by it
  replace:
    - find: "return c * np.asarray(v, dtype=float)"
      with: "return c + np.asarray(v, dtype=float)"
'''


def _entry(milestone_id: str, title: str, phase: int, due: dt.datetime) -> str:
    return (f"  - id: {milestone_id}\n    title: {json.dumps(title)}\n"
            f"    phase: {phase}\n    notebook: source/{milestone_id}/{milestone_id}.ipynb\n"
            f"    due: {due.isoformat()}\n    needs: cpu\n    parts:\n      {PART}: {PUBLIC_POINTS + HIDDEN_POINTS}\n"
            f"    written:\n      analysis: 5\n")


def create(course_file: Path, milestone_id: str, *, title: str | None = None, due: dt.datetime | None = None,
           phase: int | None = None) -> list[Path]:
    """Write a new milestone next to ``course_file``; returns the files written. Raises ScaffoldError."""
    if not MILESTONE_ID.match(milestone_id):
        raise ScaffoldError(f"milestone id {milestone_id!r} must look like 'm19-diffusion' (mNN-lowercase-words)")
    course = load_course(course_file, check_files=False)
    if any(m.id == milestone_id for m in course.milestones):
        raise ScaffoldError(f"{milestone_id} is already in {course_file}; pick another id")
    if any(m.id.split("-")[0] == milestone_id.split("-")[0] for m in course.milestones):
        raise ScaffoldError(f"{milestone_id.split('-')[0]} is already used by another milestone; pick a free number")
    root = course_file.resolve().parent
    files = {root / "source" / milestone_id / f"{milestone_id}.ipynb": None,
             root / "source" / milestone_id / "tests" / "test_public.py": PUBLIC_TESTS,
             root / "autograder" / "suites" / milestone_id / "test_hidden.py": HIDDEN_TESTS,
             root / "tests" / "mutants" / f"{milestone_id}.yaml": MUTANTS}
    taken = [str(p.relative_to(root)) for p in files if p.exists()]
    if taken:
        raise ScaffoldError(f"{', '.join(taken)} already exist; move them away or pick another id")
    last = course.milestones[-1]
    due = due or last.due + dt.timedelta(days=7)
    title = title or milestone_id.split("-", 1)[1].replace("-", " ").capitalize()
    text = course_file.read_text(encoding="utf-8")
    if not text.rstrip("\n").splitlines()[-1].startswith(" "):
        raise ScaffoldError(f"{course_file} does not end with the milestones list; add the entry by hand "
                            "(see docs/AUTHORING.md)")
    new_text = text.rstrip("\n") + "\n" + _entry(milestone_id, title, last.phase if phase is None else phase, due)
    course_file.write_text(new_text, encoding="utf-8")
    try:
        load_course(course_file, check_files=False).milestone(milestone_id)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, put course.yaml back as it was
        course_file.write_text(text, encoding="utf-8")
        raise ScaffoldError(f"the new entry did not parse ({exc}); add it by hand (see docs/AUTHORING.md)") from None
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            nbformat.write(_notebook(milestone_id, title, due), path)
        else:
            path.write_text(content, encoding="utf-8")
    return [course_file, *files]
