"""`course mutate`: operators, ids, equivalents, the report, and mutants graded by the real grader.

The fast tests run each operator on a small source string and check the exact edit it makes; the
slow ones grade mutants through the sandboxed grader (a fixed sample per milestone of the real
course, and the engine fixture course end to end through the CLI).
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
import yaml
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.config import load_course
from coursekit.grading.paths import MilestonePaths
from coursekit.mutate.equivalents import EquivalentsError, load_equivalents
from coursekit.mutate.generate import generate, mutant_id, mutate_source, sample, solution_regions
from coursekit.mutate.report import build_report, render_markdown
from coursekit.mutate import summary
from coursekit.mutate.runner import ERROR, KILLED, SURVIVED, Outcome, grade_all

ROOT = Path(__file__).resolve().parent.parent
COURSE_FILE = ROOT / "course.yaml"
ENGINE = ROOT / "tests" / "fixtures" / "engine_course"


def _edits(code: str) -> dict[str, set[str]]:
    """operator label -> the changed lines of each mutant of ``code`` (all of it one solution region)."""
    source = textwrap.dedent(code)
    lines = source.splitlines()
    edits: dict[str, set[str]] = {}
    for mutated, label, _ in mutate_source(source, [(1, len(lines))]):
        compile(mutated, "<mutant>", "exec")  # every operator writes valid Python here
        changed = {new.strip() for old, new in zip(lines, mutated.splitlines()) if old != new}
        edits.setdefault(label, set()).update(changed)
    return edits


@pytest.mark.parametrize("code,label,expected", [
    ("y = a + b", "arithmetic + -> -", "y = a - b"),
    ("y = a / b", "arithmetic / -> //", "y = a // b"),
    ("y = A @ x", "arithmetic @ -> *", "y = A * x"),
    ("y = a - b * c", "swapped operands of -", "y = (b * c) - a"),
    ("ok = a < b", "comparison < -> <=", "ok = a <= b"),
    ("ok = x is None", "comparison is -> is not", "ok = x is not None"),
    ("ok = a and b", "boolean and -> or", "ok = a or b"),
    ("ok = not done", "removed not", "ok = done"),
    ("y = -x", "removed unary minus", "y = x"),
    ("y = x[1]", "constant 1 -> 2", "y = x[2]"),
    ("y = x[1]", "constant 1 -> 0", "y = x[0]"),
    ("y = x[:n]", "slice upper bound + 1", "y = x[:n + 1]"),
    ("y = x[i - 1:]", "slice lower bound - 1", "y = x[(i - 1) - 1:]"),
    ("for i in range(n):\n    pass", "range stop + 1", "for i in range(n + 1):"),
    ("for i in range(1, n):\n    pass", "range stop - 1", "for i in range(1, n - 1):"),
    ("optimizer.zero_grad()", "dropped statement `optimizer.zero_grad()`", "pass"),
    ("y = float(a + b) * 2", "removed call float(...)", "y = (a + b) * 2"),
    ("y = x.copy()", "removed call .copy()", "y = x"),
    ("y = f(a, b)", "swapped arguments 1 and 2 of f()", "y = f(b, a)"),
    ("s = x.sum(axis=0)", "axis=0 -> axis=1", "s = x.sum(axis=1)"),
    ("s = x.sum(axis=0)", "axis=0 -> axis=-1", "s = x.sum(axis=-1)"),
    ("s = x.sum(axis=0)", "dropped axis= (reduces over everything)", "s = x.sum()"),
    ("s = t.softmax(dim=-1)", "dim=-1 -> dim=0", "s = t.softmax(dim=0)"),
    ("m = x.mean(0, keepdims=True)", "True -> False", "m = x.mean(0, keepdims=False)"),
    ("total += x", "augmented += -> -=", "total -= x"),
    ("total += x", "+= -> =", "total = x"),
    ("def f():\n    return a, b", "return values swapped", "return b, a"),
    ("def f():\n    return a", "return None", "return None"),
])
def test_each_operator_makes_its_edit(code: str, label: str, expected: str) -> None:
    edits = _edits(code)
    assert label in edits, f"{label!r} not among {sorted(edits)}"
    assert expected in edits[label]


def test_operators_leave_alone_what_makes_no_plausible_mistake() -> None:
    edits = _edits('''
        import numpy as np
        def f(x):
            """A docstring."""
            n = len(x)
            pass
            return None
    ''')
    # nothing touches the import, the docstring, len() (only a TypeError), pass, or a return of None
    assert set(edits) == {"dropped statement `n = len(x)`"}


def test_only_solution_regions_are_mutated() -> None:
    source = "a = 1 + 2\n### BEGIN SOLUTION\nb = 3 - c\n### END SOLUTION\nd = 4 * 5\n"
    assert solution_regions(source) == [(3, 3)]
    changed = set()
    for mutated, _, line in mutate_source(source, solution_regions(source)):
        assert line == 3
        changed |= {i for i, (old, new) in enumerate(zip(source.splitlines(), mutated.splitlines())) if old != new}
    assert changed == {2}


def _notebook(tmp_path: Path, cells: list[tuple[str, str]]) -> Path:
    notebook = nbformat.v4.new_notebook()
    for part, source in cells:
        cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
        cell.metadata["tags"] = [f"part:{part}"]
        notebook.cells.append(cell)
    path = tmp_path / "m.ipynb"
    nbformat.write(notebook, path)
    return path


def test_ids_depend_on_part_and_edit_not_on_line_numbers(tmp_path: Path) -> None:
    body = "def f(a, b):\n    ### BEGIN SOLUTION\n    return a - b\n    ### END SOLUTION\n"
    first = {m.id for m in generate(_notebook(tmp_path, [("p", body)])).mutants}
    moved = {m.id for m in generate(_notebook(tmp_path, [("p", "import math\n\n\n\n" + body)])).mutants}
    other_part = {m.id for m in generate(_notebook(tmp_path, [("q", body)])).mutants}
    assert first and first == moved
    assert not first & other_part
    assert mutant_id("p", "-x\n+y\n") != mutant_id("p", "-x\n+z\n")


def test_mutants_that_do_not_compile_are_counted_apart(tmp_path: Path) -> None:
    generation = generate(_notebook(tmp_path, [("p", """
        def outer():
            ### BEGIN SOLUTION
            x = 0
            def inner():
                nonlocal x
                x += 1
            inner()
            return x
            ### END SOLUTION
    """)]))
    assert [m.operator for m in generation.not_compiling] == ["dropped statement `x = 0`"]
    assert generation.mutants and "dropped statement `x = 0`" not in {m.operator for m in generation.mutants}


def test_sample_is_reproducible(tmp_path: Path) -> None:
    mutants = generate(ENGINE / "source" / "m00-engine" / "m00-engine.ipynb").mutants
    assert [m.id for m in sample(mutants, 4, seed=7)] == [m.id for m in sample(list(reversed(mutants)), 4, seed=7)]
    assert len(sample(mutants, 4, seed=7)) == 4 and len(sample(mutants, None, seed=7)) == len(mutants)


def test_equivalents_file_needs_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "equivalent-mutants.yaml"
    assert load_equivalents(path) == {}
    path.write_text(yaml.safe_dump([{"id": "abc", "part": "p", "diff": "-a\n+b\n"}]))
    with pytest.raises(EquivalentsError, match="entry 1 needs id, part and a non-empty reason"):
        load_equivalents(path)
    path.write_text(yaml.safe_dump([{"id": "abc", "part": "p", "diff": "-a\n+b\n", "reason": "x is never read"}]))
    assert load_equivalents(path)["abc"].reason == "x is never read"


def test_report_leaves_equivalents_and_grader_errors_out_of_the_rate(tmp_path: Path) -> None:
    mutants = generate(ENGINE / "source" / "m00-engine" / "m00-engine.ipynb", ["matmul"]).mutants
    outcomes = [Outcome(mutants[0], KILLED, 0, 2, 1.0), Outcome(mutants[1], KILLED, 1, 2, 1.0),
                Outcome(mutants[2], SURVIVED, 2, 2, 1.0), Outcome(mutants[3], ERROR, 0, 0, 1.0, "disk full")]
    from coursekit.mutate.equivalents import Equivalent

    report = build_report(milestone_id="m00-engine", outcomes=outcomes, not_compiling=[], generated=len(mutants),
                          equivalents=[(mutants[4], Equivalent(mutants[4].id, "matmul", "same result", ""))],
                          sample=None, seed=0, stale_equivalents=[])
    row = report["parts"]["matmul"]
    assert (row["killed"], row["survived"], row["grader-error"], row["equivalent"]) == (2, 1, 1, 1)
    assert row["kill_rate"] == pytest.approx(2 / 3, abs=1e-4) and report["kill_rate"] == row["kill_rate"]
    markdown = render_markdown(report)
    assert mutants[2].diff.rstrip() in markdown and "same result" in markdown and "disk full" in markdown


def test_unknown_part_is_a_one_line_error() -> None:
    result = CliRunner().invoke(cli, ["--course", str(ENGINE / "course.yaml"), "mutate", "m00-engine",
                                      "--parts", "nope", "--list"])
    assert result.exit_code != 0
    assert "m00-engine has no part nope; its parts are add, matmul, counter" in result.output


def _engine_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(ENGINE, course)
    return course / "course.yaml"


def test_marked_equivalents_are_not_graded(tmp_path: Path) -> None:
    course_file = _engine_copy(tmp_path)
    notebook = course_file.parent / "source" / "m00-engine" / "m00-engine.ipynb"
    marked = next(m for m in generate(notebook).mutants if m.operator == "return None" and m.part == "add")
    reference = course_file.parent / "reference" / "m00-engine"
    reference.mkdir(parents=True)
    (reference / "equivalent-mutants.yaml").write_text(yaml.safe_dump(
        [{"id": marked.id, "part": "add", "diff": marked.diff, "reason": "test: marked by hand"}]))
    result = CliRunner().invoke(cli, ["--course", str(course_file), "mutate", "m00-engine", "--list"])
    assert result.exit_code == 0, result.output
    assert "(1 marked equivalent, 0 not compiling, dropped)" in result.output
    assert marked.id not in result.output


@pytest.mark.slow
def test_engine_course_end_to_end(tmp_path: Path) -> None:
    """Through the CLI and the sandboxed grader: both mutants of `add` are killed, the equivalent is listed."""
    course_file = _engine_copy(tmp_path)
    notebook = course_file.parent / "source" / "m00-engine" / "m00-engine.ipynb"
    add = [m for m in generate(notebook).mutants if m.part == "add"]
    assert sorted(m.operator for m in add) == ["arithmetic + -> -", "return None"]
    (course_file.parent / "reference" / "m00-engine").mkdir(parents=True)
    (course_file.parent / "reference" / "m00-engine" / "equivalent-mutants.yaml").write_text(yaml.safe_dump(
        [{"id": "0000000000", "part": "add", "diff": "", "reason": "test: an entry that matches nothing"}]))
    result = CliRunner().invoke(cli, ["--course", str(course_file), "mutate", "m00-engine", "--parts", "add",
                                      "--jobs", "2", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.output.splitlines() if line.startswith(("[1/2] add ", "[2/2] add "))]
    assert len(progress) == 2 and all(" killed " in line and "ETA" in line for line in progress), result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["parts"]["add"]["kill_rate"] == 1.0 and report["graded"] == 2
    kept = [json.loads(line) for line in (tmp_path / "out" / "progress.jsonl").read_text().splitlines()]
    assert sorted(kept, key=lambda m: m["id"]) == sorted(report["mutants"], key=lambda m: m["id"])
    assert [e["id"] for e in report["stale_equivalents"]] == ["0000000000"]
    assert "Stale equivalent entries" in (tmp_path / "out" / "report.md").read_text()


def _milestones_with_suites() -> list[str]:
    course = load_course(COURSE_FILE, check_files=False)
    return [m.id for m in course.milestones
            if MilestonePaths.of(COURSE_FILE, m).source_notebook.is_file()
            and MilestonePaths.of(COURSE_FILE, m).hidden_suite.is_dir()]


SAMPLE_SIZE = 1  # per milestone: ~10 s of CI each on 2 cores; coverage is `course mutate <id>`'s job


@pytest.mark.slow
@pytest.mark.parametrize("milestone_id", _milestones_with_suites())
def test_a_fixed_sample_of_mutants_is_measured(milestone_id: str) -> None:
    """A fixed sample per milestone goes through the real grader on its part and gets a verdict.

    The verdict itself (killed or survived) is the suite's quality, measured by `course mutate`
    and recorded in reference/<id>/README.md; what CI guards here is that every milestone's
    mutants can be generated, compiled, graded in the sandbox and classified (no grader error).
    """
    course = load_course(COURSE_FILE, check_files=False)
    paths = MilestonePaths.of(COURSE_FILE, course.milestone(milestone_id))
    equivalents = load_equivalents(paths.reference_dir / "equivalent-mutants.yaml")
    generation = generate(paths.source_notebook)
    assert generation.mutants and not generation.unparsed_cells
    candidates = [m for m in generation.mutants if m.id not in equivalents]
    chosen = sample(candidates, SAMPLE_SIZE, seed=0)
    outcomes = grade_all(COURSE_FILE, milestone_id, paths.source_notebook, chosen, jobs=1, device="cpu",
                         echo=print)
    assert sorted(o.mutant.id for o in outcomes) == sorted(m.id for m in chosen)
    errors = [f"{o.mutant.part} {o.mutant.id}: {o.detail}" for o in outcomes if o.status == ERROR]
    assert not errors, "mutants the grader could not measure:\n" + "\n".join(errors)


@pytest.mark.parametrize("milestone_id", _milestones_with_suites())
def test_equivalents_files_name_real_mutants(milestone_id: str) -> None:
    """Every marked equivalent is still generated (a stale id would silently stop being excluded)."""
    course = load_course(COURSE_FILE, check_files=False)
    paths = MilestonePaths.of(COURSE_FILE, course.milestone(milestone_id))
    marked = load_equivalents(paths.reference_dir / "equivalent-mutants.yaml")
    if not marked:
        return
    generated = {m.id: m for m in generate(paths.source_notebook, sorted({e.part for e in marked.values()})).mutants}
    stale = [i for i in marked if i not in generated]
    assert not stale, f"{milestone_id}: equivalent-mutants.yaml names mutants no longer generated: {stale}"
    for entry in marked.values():
        # The id ignores line numbers (an edited docstring above shifts them), so the diff is compared
        # without its @@ hunk header; the changed and context lines must still be the same.
        assert generated[entry.id].part == entry.part, entry.id
        assert _without_hunk_headers(generated[entry.id].diff) == _without_hunk_headers(entry.diff), entry.id


def _without_hunk_headers(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if not line.startswith("@@")]


@pytest.mark.slow
def test_mutant_option_regrades_only_the_named_survivors(tmp_path: Path) -> None:
    course_file = _engine_copy(tmp_path)
    notebook = course_file.parent / "source" / "m00-engine" / "m00-engine.ipynb"
    chosen = next(m for m in generate(notebook).mutants if m.part == "add")
    result = CliRunner().invoke(cli, ["--course", str(course_file), "mutate", "m00-engine", "--mutant", chosen.id,
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [m["id"] for m in report["mutants"]] == [chosen.id] and report["mutants"][0]["status"] == "killed"
    unknown = CliRunner().invoke(cli, ["--course", str(course_file), "mutate", "m00-engine", "--mutant", "ffffffffff"])
    assert unknown.exit_code != 0 and "no mutant ffffffffff" in unknown.output


# --- course mutate --summary: the newest verdict per mutant over every run ---------------------------------------


def _verdict(mutant: str, part: str, status: str, operator: str = "compare < -> <=") -> dict:
    return {"id": mutant, "part": part, "operator": operator, "status": status, "score": 0, "max_score": 1,
            "seconds": 0.1, "detail": "", "diff": ""}


def _run(base: Path, name: str, mtime: float, *, report: list[dict] | None = None,
         progress: list[dict] | None = None, progress_mtime: float | None = None, tail: str = "") -> None:
    """A run folder as `course mutate` leaves it: report.json and/or progress.jsonl, with set mtimes."""
    folder = base / name
    folder.mkdir(parents=True)
    if progress is not None:
        lines = "".join(json.dumps(entry) + "\n" for entry in progress) + tail
        (folder / "progress.jsonl").write_text(lines, encoding="utf-8")
        stamp = progress_mtime if progress_mtime is not None else mtime
        os.utime(folder / "progress.jsonl", (stamp, stamp))
    if report is not None:
        (folder / "report.json").write_text(json.dumps({"milestone": "m", "mutants": report}), encoding="utf-8")
        os.utime(folder / "report.json", (mtime, mtime))


def test_summary_newest_verdict_wins(tmp_path: Path) -> None:
    """A re-check after a test was strengthened supersedes the full run; an older sample is superseded by it."""
    _run(tmp_path, "sample", 1_000, report=[_verdict("c", "add", KILLED)])
    _run(tmp_path, "full", 2_000, report=[_verdict("a", "add", SURVIVED), _verdict("b", "add", KILLED),
                                          _verdict("c", "add", SURVIVED)])
    _run(tmp_path, "recheck-1", 3_000, report=[_verdict("a", "add", KILLED)])
    latest = summary.latest_outcomes(tmp_path)
    assert {i: e["status"] for i, e in latest.outcomes.items()} == {"a": KILLED, "b": KILLED, "c": SURVIVED}
    assert [p.parent.name for p in latest.files] == ["sample", "full", "recheck-1"]
    assert [e["id"] for e in summary.survivors(latest, set())] == ["c"]


def test_summary_reads_interrupted_progress_and_ignores_grader_errors(tmp_path: Path) -> None:
    assert summary.GRADED == (KILLED, SURVIVED) and ERROR not in summary.GRADED
    # finished run, its progress.jsonl as old as the report: the report alone is read
    _run(tmp_path, "full", 2_000, report=[_verdict("a", "add", SURVIVED), _verdict("b", "add", KILLED)],
         progress=[_verdict("a", "add", SURVIVED), _verdict("b", "add", KILLED)])
    # interrupted re-check, no report.json: a grader error (ignored) and a line cut off mid-write
    _run(tmp_path, "recheck-1", 3_000, progress=[_verdict("a", "add", KILLED), _verdict("b", "add", ERROR)],
         tail='{"id": "b", "par')
    # a re-run into a folder whose report.json is older than its progress.jsonl: the newer lines count
    _run(tmp_path, "recheck-2", 1_500, report=[_verdict("d", "matmul", KILLED)],
         progress=[_verdict("d", "matmul", SURVIVED)], progress_mtime=4_000)
    latest = summary.latest_outcomes(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in latest.files) == [
        "full/report.json", "recheck-1/progress.jsonl", "recheck-2/progress.jsonl", "recheck-2/report.json"]
    assert {i: e["status"] for i, e in latest.outcomes.items()} == {"a": KILLED, "b": KILLED, "d": SURVIVED}


def test_summary_counts_equivalents_apart(tmp_path: Path) -> None:
    _run(tmp_path, "full", 1_000, report=[_verdict("a", "add", KILLED), _verdict("b", "add", SURVIVED),
                                          _verdict("c", "add", SURVIVED), _verdict("d", "matmul", ERROR)])
    latest = summary.latest_outcomes(tmp_path)
    assert summary.part_rows(latest.outcomes.values(), {"c"}) == {
        "add": {"graded": 2, KILLED: 1, SURVIVED: 1, "equivalent": 1}}
    assert summary.render_table(latest, {"c"}).splitlines() == [
        "| part | graded | killed | survived | equivalent | kill rate |", "|---|---:|---:|---:|---:|---:|",
        "| add | 2 | 1 | 1 | 1 | 50.0% |", "| **all** | 2 | 1 | 1 | 1 | 50.0% |", "",
        "(1 report(s) read; 3 distinct mutants graded)"]
    assert [e["id"] for e in summary.survivors(latest, {"c"})] == ["b"]


def test_summary_counts_equivalents_a_run_skipped(tmp_path: Path) -> None:
    """A full run never grades the mutants already marked equivalent; its report lists them, and the table
    counts those still marked (m13's 17 showed as 0 before this)."""
    _run(tmp_path, "full", 1_000, report=[_verdict("a", "add", KILLED)])
    report = tmp_path / "full" / "report.json"
    data = json.loads(report.read_text())
    data["equivalent"] = [{"id": "e1", "part": "matmul", "operator": "x", "reason": "r", "diff": ""},
                          {"id": "e2", "part": "add", "operator": "x", "reason": "r", "diff": ""}]
    report.write_text(json.dumps(data))
    latest = summary.latest_outcomes(tmp_path)
    assert latest.skipped == {"e1": "matmul", "e2": "add"}
    # e2 is no longer marked (its entry was removed from equivalent-mutants.yaml): not counted
    assert summary.part_rows(latest.outcomes.values(), {"e1"}, latest.skipped) == {
        "add": {"graded": 1, KILLED: 1, SURVIVED: 0, "equivalent": 0},
        "matmul": {"graded": 0, KILLED: 0, SURVIVED: 0, "equivalent": 1}}
    assert "| **all** | 1 | 1 | 0 | 1 | 100.0% |" in summary.render_table(latest, {"e1"}).splitlines()


def test_mutate_summary_grades_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI on the engine course: the table and the survivors, without generating a mutant."""
    def refuse(*args, **kwargs):
        raise AssertionError("--summary must not generate nor grade")

    monkeypatch.setattr("coursekit.mutate.generate.generate", refuse)
    monkeypatch.setattr("coursekit.mutate.runner.grade_reference", refuse)
    course_file = _engine_copy(tmp_path)
    base = course_file.parent / "out" / "mutate" / "m00-engine"
    _run(base, "full", 1_000, report=[_verdict("b2", "matmul", SURVIVED, "drop statement"),
                                      _verdict("a1", "add", SURVIVED), _verdict("a2", "add", SURVIVED),
                                      _verdict("a3", "add", KILLED), _verdict("b1", "matmul", SURVIVED)])
    _run(base, "recheck-1", 2_000, report=[_verdict("a1", "add", KILLED)])
    (course_file.parent / "reference" / "m00-engine").mkdir(parents=True)
    (course_file.parent / "reference" / "m00-engine" / "equivalent-mutants.yaml").write_text(yaml.safe_dump(
        [{"id": "a2", "part": "add", "diff": "", "reason": "test: same result"}]))
    invoke = ["--course", str(course_file), "mutate", "m00-engine", "--summary"]
    table = CliRunner().invoke(cli, invoke)
    assert table.exit_code == 0, table.output
    assert "| add | 2 | 2 | 0 | 1 | 100.0% |" in table.output and "| matmul | 2 | 0 | 2 | 0 | 0.0% |" in table.output
    assert "| **all** | 4 | 2 | 2 | 1 | 50.0% |" in table.output
    assert "(2 report(s) read; 5 distinct mutants graded)" in table.output
    left = CliRunner().invoke(cli, [*invoke, "--survivors"])
    assert left.exit_code == 0, left.output
    assert left.output.splitlines() == ["b1 matmul compare < -> <=", "b2 matmul drop statement"]
    elsewhere = CliRunner().invoke(cli, [*invoke, "--out", str(base / "recheck-1")])
    assert "(1 report(s) read; 1 distinct mutants graded)" in elsewhere.output, elsewhere.output
    alone = CliRunner().invoke(cli, ["--course", str(course_file), "mutate", "m00-engine", "--survivors"])
    assert alone.exit_code != 0 and "--survivors goes with --summary" in alone.output


def test_mutate_summary_without_reports_is_a_one_line_error(tmp_path: Path) -> None:
    course_file = _engine_copy(tmp_path)
    result = CliRunner().invoke(cli, ["--course", str(course_file), "mutate", "m00-engine", "--summary"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "nothing to summarise" in lines[0] and "`course mutate m00-engine`" in lines[0]
