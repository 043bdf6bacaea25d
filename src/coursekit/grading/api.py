"""Keyword-only entry points of the grading engine (used by the CLI, validate, infra and tests)."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coursekit.config import load_course
from coursekit.config.schema import Course, Milestone
from coursekit.grading.paths import MilestonePaths
from coursekit.grading.pool import GraderProcessError, GradingServer, preloads_for
from coursekit.grading.results import build_results
from coursekit.grading.results_model import Results, read_results, write_results


class GraderError(Exception):
    """The grader itself cannot run (bad milestone, missing suite, no GPU where required)."""


def resolve_device(requested: str, *, needs_gpu: bool = True) -> str:
    """cpu or cuda. ``auto`` looks for a GPU only for a milestone that needs one (course.yaml ``needs: gpu``):
    a CPU milestone is graded on the CPU without probing CUDA (which imported torch, about 1.3 s)."""
    if requested in ("cpu", "cuda"):
        if requested == "cuda" and not cuda_available():
            raise GraderError("--device cuda was asked for but no CUDA GPU is visible; use --device auto or cpu")
        return requested
    if requested != "auto":
        raise GraderError(f"unknown device {requested!r}; use auto, cpu or cuda")
    if not needs_gpu:
        return "cpu"
    return "cuda" if cuda_available() else "cpu"


def cuda_available() -> bool:
    """Whether a CUDA GPU is usable here; torch is imported only where the cheap checks cannot say no."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    # No NVIDIA driver (or WSL's GPU device) on a Linux host means no CUDA, whatever torch would say.
    if sys.platform.startswith("linux") and not (os.path.exists("/proc/driver/nvidia")
                                                 or glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg")):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def check_gradable(course: Course, milestone: Milestone, course_file: Path, device: str) -> None:
    paths = MilestonePaths.of(course_file, milestone)
    if not paths.hidden_suite.is_dir():
        raise GraderError(f"no hidden suite for {milestone.id}: expected {paths.hidden_suite}")
    if milestone.needs == "gpu" and device != "cuda" and course.course.on_missing_gpu == "fail":
        raise GraderError(f"{milestone.id} needs a GPU (course.yaml on_missing_gpu: fail) and none is visible")


def prepare(course_file: Path, milestone_id: str, device: str) -> tuple[Path, Course, Milestone, str]:
    """Resolve what a grading run needs, or raise GraderError saying why the grader cannot run."""
    course_file = Path(course_file).resolve()
    course = load_course(course_file, check_files=False)
    milestone = course.milestone(milestone_id, error=GraderError)
    device = resolve_device(device, needs_gpu=milestone.needs == "gpu")
    check_gradable(course, milestone, course_file, device)
    return course_file, course, milestone, device


def grade_one(*, course_file: Path, milestone_id: str, notebook: Path, student: str, out_dir: Path | None = None,
              device: str = "auto", submitted_at: dt.datetime | None = None, backend: str = "sandbox",
              only_parts: list[str] | None = None, server: GradingServer | None = None,
              time_source: str | None = None, stop_at_first_loss: bool = False) -> Results:
    """Grade one notebook in a fresh trusted process; return results (and write them under out_dir).

    The process is a child forked for this submission alone by ``server`` (a batch keeps one server
    per slot, see pool.py), or by a server started for this call. ``only_parts`` runs just those
    parts' tests (checking a mutant on the part it breaks); ``stop_at_first_loss`` ends the run at
    the first failed test, for course mutate, where one lost test is the whole answer.
    """
    from coursekit.grading.sandbox import probe_env

    own_server = server is None
    if server is None:
        # Started first: its interpreter imports pytest and the engine while this process resolves the
        # course and probes the sandbox (the probe's answer travels in the config).
        server = start_server(Path(course_file).resolve(), None, preload=False)  # it grades this one only
    try:
        course_file, course, milestone, device = prepare(course_file, milestone_id, device)
    except BaseException:
        if own_server:
            server.close()
        raise
    limits = course.limits_for(milestone)
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as scratch:
        target_dir = Path(out_dir) if out_dir else Path(scratch) / student
        target_dir.mkdir(parents=True, exist_ok=True)
        results_path = target_dir / "results.json"
        config_path = Path(scratch) / "config.json"
        config_path.write_text(json.dumps({
            "course_file": str(course_file), "milestone_id": milestone.id, "notebook": str(Path(notebook).resolve()),
            "student": student, "out": str(results_path), "device": device, "backend": backend,
            "only_parts": list(only_parts) if only_parts else None,
            "submitted_at": submitted_at.isoformat() if submitted_at else None, "time_source": time_source,
            "env": probe_env(),  # a server's child applies it (run_one): the server needn't wait for the probe "preload_in_child": bool(getattr(server, "lean", False)),
            "stop_at_first_loss": bool(stop_at_first_loss)}))
        budget = limits.submission_seconds + limits.notebook_seconds + 60
        started = time.monotonic()
        try:
            error = _run_in(server, config_path, Path(scratch) / "grader-output.log", budget)
        finally:
            if own_server:
                server.close()
        if error or not results_path.is_file():
            results = build_results(course=course, milestone=milestone, student=student, sha256=None, records=[],
                                    metrics={}, notebook_errors=[], execution_time=time.monotonic() - started,
                                    device=device, gpu_mode=None, peak_memory_mb=None, restarts=0,
                                    sandbox="none", submitted_at=submitted_at,
                                    grader_error=error or "the grader wrote no results", time_source=time_source)
            write_results(results_path, results)
        else:
            results = read_results(results_path)
        if out_dir:
            write_feedback(target_dir, results)
            _keep_submission(Path(notebook), target_dir)
        return results


def _keep_submission(notebook: Path, target_dir: Path) -> None:
    """DIR/<student>/submission.ipynb: the notebook as graded, for TAs to read and grade written answers."""
    from coursekit.review.submission_view import keep_copy

    keep_copy(notebook, target_dir)


def start_server(course_file: Path, milestone: Milestone | None, *, preload: bool = True) -> GradingServer:
    """A grading server for this milestone; it pre-imports what the milestone's tests import (torch, sklearn...).

    ``preload=False`` for a server that grades one submission only (``--lean``, pool.serve): it
    imports only what launches the worker and forks at once; its child imports pytest and the
    suite's modules while the student's worker starts (run_one), so those imports cost no wall time.
    ``milestone`` may be None there: nothing is pre-imported for it.
    """
    modules = []
    if preload and milestone is not None:
        paths = MilestonePaths.of(course_file, milestone)
        modules = preloads_for([paths.hidden_suite, paths.public_tests])
    return GradingServer(_grader_env(probe=False), preload=modules, lean=not preload)


def _run_in(server: GradingServer, config_path: Path, log_path: Path, budget: float) -> str | None:
    """Grade in a child of ``server``; the grader error to record, or None when results were written."""
    try:
        reply = server.grade(config_path, log_path, budget)
    except GraderProcessError as exc:
        return str(exc)
    if reply.get("timed_out"):
        return f"grading took longer than the {budget:.0f} s budget and was stopped"
    if reply.get("exit") != 0:
        try:
            output = log_path.read_text(encoding="utf-8", errors="replace").strip()[-2000:]
        except OSError:
            output = ""
        return f"grader process failed (exit {reply.get('exit')}): {output}"
    return None


def _grader_env(*, probe: bool = True) -> dict:
    from coursekit.grading.sandbox import probe_env

    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")
    if probe:
        env.update(probe_env())  # the sandbox's abilities are probed once per batch, not per submission
    return env


def write_feedback(target_dir: Path, results: Results) -> None:
    """feedback.md and feedback.html for the student (rendered by the review package)."""
    from coursekit.review.feedback import render_feedback_html, render_feedback_md

    (target_dir / "feedback.md").write_text(render_feedback_md(results), encoding="utf-8")
    (target_dir / "feedback.html").write_text(render_feedback_html(results), encoding="utf-8")


def collect_tests(*, course_file: Path, milestone_id: str) -> list[dict]:
    """Every test of a milestone with its part, points and kind, without running student code."""
    course_file = Path(course_file).resolve()
    milestone = load_course(course_file, check_files=False).milestone(milestone_id, error=GraderError)
    with tempfile.TemporaryDirectory(prefix="coursekit-collect-") as scratch:
        config_path = Path(scratch) / "config.json"
        config_path.write_text(json.dumps({"course_file": str(course_file), "milestone_id": milestone.id}))
        completed = subprocess.run([sys.executable, "-m", "coursekit.grading.run_one", "--collect", str(config_path)],
                                   capture_output=True, text=True, timeout=300, env=_grader_env())
    if completed.returncode != 0:
        raise GraderError(f"collecting {milestone.id}'s tests failed: {completed.stderr.strip()[-1500:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
