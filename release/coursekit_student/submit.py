"""``course submit <id>``: run the SAVED notebook in a fresh kernel like the grader does, then package it.

What the student learns before uploading: whether the file on disk is what they think it is
(unsaved work in a running Jupyter, cells run out of order, never run), which cells raise, which
cells are slow, and what ``check_all()`` says in a clean kernel. The upload is
``<id>-submission.zip`` (the notebook + a manifest with its sha256) or the validated ``.ipynb``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

from coursekit_student import __version__
from coursekit_student.checker import GRADING_ENV, MILESTONE_ENV, NO_RECORD_ENV, CheckSetupError, find_milestone_dir

RESULT_MARK = "__COURSEKIT_CHECK_ALL__"
# The grader refuses larger notebooks (coursekit.grading.notebook.MAX_NOTEBOOK_BYTES; a test keeps them equal).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
CHECK_CELL = (
    "import json as _ck_json\n"
    "from coursekit_student.checker import check_all as _ck_check_all\n"
    f"print({RESULT_MARK!r} + _ck_json.dumps(_ck_check_all(quiet=True).to_json()))\n"
)


class SubmitError(Exception):
    """The notebook cannot be submitted as is; the message says what to do."""


@dataclass
class SubmitReport:
    milestone: str
    notebook: Path
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # cells raising something other than NotImplementedError
    not_implemented: list[int] = field(default_factory=list)
    slow: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    check: dict[str, Any] | None = None
    output: Path | None = None


def find_notebook(milestone: str, notebook: str | os.PathLike | None, cwd: Path | None = None) -> Path:
    """The notebook to submit: ``--notebook`` or ``<id>.ipynb`` here, in ``<id>/`` or in ``release/<id>/``."""
    cwd = Path.cwd() if cwd is None else cwd
    if notebook is not None:
        path = Path(notebook)
        if not path.is_file():
            raise SubmitError(f"{path}: no such notebook; check the path given to --notebook")
        return path.resolve()
    candidates = [cwd / f"{milestone}.ipynb", cwd / milestone / f"{milestone}.ipynb",
                  cwd / "release" / milestone / f"{milestone}.ipynb"]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise SubmitError(f"no {milestone}.ipynb in {cwd}, {cwd / milestone} or {cwd / 'release' / milestone}; "
                      f"run from your course folder or pass --notebook PATH")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate the saved notebook (what Gradescope and the grader will read)."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (ValueError, nbformat.ValidationError) as exc:  # json errors are ValueErrors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmitError(f"{path.name} is not a valid notebook ({first}); open it in JupyterLab and save it "
                          f"again (File > Save), or re-download the release and copy your code over") from None
    return notebook


# ----------------------------------------------------------------------------- is the saved file current?


def order_warnings(notebook: nbformat.NotebookNode) -> list[str]:
    """Signals in the saved file itself: never run, or run out of order."""
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()]
    counts = [(i, c.get("execution_count")) for i, c in code if c.get("execution_count") is not None]
    if code and not counts:
        return ["the saved notebook has no outputs: it was never run, or was saved with outputs cleared; run it "
                "top to bottom (Run > Run All Cells), check the results, then save (Ctrl-S)"]
    for (i, a), (j, b) in zip(counts, counts[1:]):
        if b < a:
            return [f"cells were run out of order (cell {i} is In[{a}] but cell {j} below it is In[{b}]): what you "
                    f"saw may differ from a top-to-bottom run; the fresh-kernel results below are what the grader sees"]
    return []


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def running_session_warnings(path: Path, timeout: float = 2.0) -> list[str]:
    """Ask every running Jupyter server on this machine whether this notebook's kernel ran code after the save.

    A kernel whose last activity is later than the file's modification time has executed cells
    whose effect (code edits, outputs) may not be on disk yet.
    """
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # no Jupyter server installed: nothing can be open
        return []
    saved = path.stat().st_mtime
    warnings = []
    for server in list_running_servers():
        root = Path(server.get("root_dir") or server.get("notebook_dir") or "/").resolve()
        url = f"{server['url'].rstrip('/')}/api/sessions"
        request = urllib.request.Request(url, headers={"Authorization": f"token {server.get('token', '')}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - localhost server
                sessions = json.load(response)
        except (OSError, ValueError):
            continue  # a stale runtime file or a server that refuses us
        for session in sessions:
            if (root / session.get("path", "")).resolve() != path.resolve():
                continue
            active = _parse_time(session.get("kernel", {}).get("last_activity"))
            if active is not None and active > saved + 2:  # 2 s: the save itself talks to the kernel
                ago = int(active - saved)
                warnings.append(f"{path.name} is open in a running Jupyter and its kernel ran code {ago} s after the "
                                f"file was last saved: save it (Ctrl-S) so the submission has your latest work")
    return warnings


# ----------------------------------------------------------------------------- the fresh-kernel run


def _executable_copy(notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[int]]:
    """What the grader runs: every code cell not tagged ``ungraded``, plus a final check_all cell."""
    runnable = copy.deepcopy(notebook)
    keep, origin = [], []
    for index, cell in enumerate(runnable.cells):
        if cell.cell_type == "code" and "ungraded" not in cell.get("metadata", {}).get("tags", []):
            keep.append(cell)
            origin.append(index)
    keep.append(nbformat.v4.new_code_cell(CHECK_CELL))
    runnable.cells = keep
    return runnable, origin


def _seconds(cell: nbformat.NotebookNode) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start = _parse_time(timing.get("iopub.execute_input") or timing.get("shell.execute_request"))
    end = _parse_time(timing.get("shell.execute_reply"))
    return max(0.0, end - start) if start is not None and end is not None else 0.0


def _child_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(GRADING_ENV, None)  # check_all must really run in the fresh kernel
    env[MILESTONE_ENV] = str(folder)
    env[NO_RECORD_ENV] = "1"
    return env


def run_fresh(notebook: nbformat.NotebookNode, folder: Path, report: SubmitReport, *,
              cell_timeout: float, slow_seconds: float) -> None:
    """Execute the saved notebook top to bottom in a new kernel with cwd = the milestone folder."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    runnable, origin = _executable_copy(notebook)
    manager = KernelManager(kernel_name="python3")
    client = NotebookClient(runnable, km=manager, timeout=cell_timeout, allow_errors=True, record_timing=True,
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    try:
        # the kernel's own stderr (transport notices) is noise here; its failures surface as DeadKernelError
        client.execute(env=_child_env(folder), stderr=subprocess.DEVNULL)
    except CellTimeoutError:
        stuck = next((origin[i] for i, c in enumerate(runnable.cells[:-1]) if not c.get("outputs") and
                      c.get("execution_count") is None), None)
        report.errors.append(f"cell {stuck}: still running after {cell_timeout:g} s, so the run was stopped; "
                             f"the grader would time out too: make it faster or tag it `ungraded`")
    except DeadKernelError as exc:
        report.errors.append(f"the kernel died while running the notebook ({exc}); look for code that uses too "
                             f"much memory or calls exit()")
    report.seconds = time.perf_counter() - start
    for position, cell in enumerate(runnable.cells[:-1]):
        index = origin[position]
        _collect_cell(index, cell, report, slow_seconds)
    report.check = _check_result(runnable.cells[-1])


def _collect_cell(index: int, cell: nbformat.NotebookNode, report: SubmitReport, slow_seconds: float) -> None:
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        if output.get("ename") == "NotImplementedError":
            report.not_implemented.append(index)
        else:
            evalue = (output.get("evalue") or "").strip().splitlines()
            report.errors.append(f"cell {index}: {output.get('ename')}: {evalue[0] if evalue else ''}".rstrip(": "))
    seconds = _seconds(cell)
    if seconds >= slow_seconds:
        report.slow.append((index, seconds))


def _check_result(cell: nbformat.NotebookNode) -> dict[str, Any] | None:
    for output in cell.get("outputs", []):
        text = output.get("text", "") if output.get("output_type") == "stream" else ""
        for line in text.splitlines():
            if line.startswith(RESULT_MARK):
                return json.loads(line[len(RESULT_MARK):])
    return None


# ----------------------------------------------------------------------------- packaging


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_zip(report: SubmitReport, out_dir: Path) -> Path:
    """``<id>-submission.zip``: the saved notebook's exact bytes as ``<id>.ipynb`` + manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{report.milestone}-submission.zip"
    manifest = {
        "milestone": report.milestone,
        "notebook": f"{report.milestone}.ipynb",
        "sha256": report.sha256,
        "bytes": report.notebook.stat().st_size,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kit_version": __version__,
        "public_checks": None if report.check is None else {
            k: report.check[k] for k in ("points", "max_points", "passed", "failed", "parts")},
        "warnings": report.warnings,
        "errors": report.errors,
    }
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(report.notebook, manifest["notebook"])
        archive.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(target)
    return target


def submit(milestone: str, *, notebook: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
           fmt: str = "zip", cell_timeout: float = 300.0, slow_seconds: float = 10.0, run: bool = True) -> SubmitReport:
    """Check and package a submission; raises SubmitError when it cannot be submitted as is."""
    path = find_notebook(milestone, notebook)
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise SubmitError(f"{path.name} is {size / 2**20:.0f} MB and the grader accepts at most "
                          f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MB; clear outputs (Edit > Clear Outputs of All Cells), "
                          f"save and submit again")
    saved = read_notebook(path)
    try:
        folder = path.parent if any((path.parent / "tests").glob("test_*.py")) else find_milestone_dir(milestone)
    except CheckSetupError as exc:
        raise SubmitError(str(exc)) from None
    report = SubmitReport(milestone, path, sha256=sha256_of(path))
    report.warnings += running_session_warnings(path) + order_warnings(saved)
    if fmt == "ipynb" and path.name != f"{milestone}.ipynb":
        report.warnings.append(f"the file is named {path.name}; upload it as {milestone}.ipynb (rename it) so "
                               f"the autograder finds it, or use the zip, which names it for you")
    if run:
        run_fresh(saved, folder, report, cell_timeout=cell_timeout, slow_seconds=slow_seconds)
    if fmt == "zip":
        report.output = write_zip(report, Path(out_dir) if out_dir else Path.cwd())
    else:
        report.output = path
    return report


def format_report(report: SubmitReport) -> str:
    """The text shown by ``course submit``."""
    lines = [f"{report.milestone}: {report.notebook} (sha256 {report.sha256[:12]}...)"]
    lines += [f"warning: {w}" for w in report.warnings]
    if report.check is not None and report.check.get("error"):
        lines.append(f"error: check_all() could not run in the fresh kernel: {report.check['error']}")
    elif report.check is not None:
        c = report.check
        lines.append(f"fresh-kernel run: {report.seconds:.1f} s; public checks {c['passed']} passed, {c['failed']} "
                     f"failed: {c['points']:g}/{c['max_points']:g} public points (hidden tests also count)")
        for part, row in c["parts"].items():
            lines.append(f"  {part:<24} {row['passed']:g}/{row['total']:g} tests  "
                         f"{row['points']:g}/{row['max_points']:g} points")
    elif report.seconds:
        lines.append("fresh-kernel run: check_all() did not finish (see the errors above)")
    tests = (report.check or {}).get("tests", [])
    todo = list(dict.fromkeys(t["part"] for t in tests if t["outcome"] == "not_implemented"))  # notebook order
    if todo:
        lines.append(f"not implemented yet: {', '.join(todo)}")
    if report.not_implemented:
        lines.append(f"cells raising NotImplementedError: {', '.join(map(str, report.not_implemented))}")
    lines += [f"error: {e}" for e in report.errors]
    lines += [f"slow: cell {i} took {s:.1f} s; the grader limits notebook time: tag slow demos `ungraded` or "
              f"make them cheaper" for i, s in report.slow]
    if report.output is not None and report.output.suffix == ".zip":
        lines.append(f"wrote {report.output}: upload this file")
    elif report.output is not None:
        lines.append(f"{report.output.name} is ready: upload this file ({report.output}) as it is")
    return "\n".join(lines)
