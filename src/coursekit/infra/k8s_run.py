"""Running a cluster batch's plan with kubectl: uploads in one stream, and a watcher that fails fast.

``kubectl wait --for=condition=Complete`` sits until its timeout (hours for a big batch) when a
pod can never start (a wrong image, a missing pull secret) or the Job has failed; the watcher
here polls the Job and its pods and stops at once with the pod's own reason. Submissions go up
as one tar stream into the staging pod (one ``kubectl exec`` instead of one ``kubectl cp`` per
student); results come back with one ``kubectl cp`` of the results folder.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

from coursekit.grading.api import GraderError

# Waiting reasons that never resolve by themselves: report them instead of waiting for the deadline.
STUCK = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
         "CreateContainerError", "ErrImageNeverPull"}
POLL_SECONDS = 10.0


class K8sError(GraderError):
    """Cluster grading cannot go on; one line saying what to fix (a GraderError, so `course grade` shows it)."""


def upload_tar(submissions: list[Path]) -> bytes:
    """The submissions (files or folders) as one tar stream, each under its own name; links are not followed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(submissions, key=lambda p: p.name):
            # dereference=False: a link inside a student's folder travels as a link, and the grader
            # refuses links inside folder submissions (it never follows them)
            archive.add(str(path), arcname=path.name, recursive=True)
    return buffer.getvalue()


def _kubectl_json(kubectl: list[str], *args: str) -> dict[str, Any]:
    result = subprocess.run([*kubectl, *args, "-o", "json"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise K8sError(f"`{' '.join([*kubectl, *args])}` failed: {detail}")
    return json.loads(result.stdout or "{}")


def pod_problems(pods: dict[str, Any], *, stuck_only: bool) -> list[str]:
    """'pod P: REASON (message)' for pods that failed, or (stuck_only) that can never start."""
    found = []
    for pod in pods.get("items", []):
        name = pod.get("metadata", {}).get("name", "?")
        for status in pod.get("status", {}).get("containerStatuses", []) or []:
            state = status.get("state", {})
            waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
            if waiting.get("reason") in STUCK:
                found.append(f"pod {name}: {waiting['reason']} ({waiting.get('message', '').strip()[:300]})")
            elif not stuck_only and terminated and terminated.get("exitCode", 0) != 0:
                found.append(f"pod {name}: {terminated.get('reason', 'Error')}, exit {terminated.get('exitCode')}"
                             + (f" ({terminated['message'].strip()[:300]})" if terminated.get("message") else ""))
        if not stuck_only and pod.get("status", {}).get("reason"):  # e.g. Evicted, DeadlineExceeded
            found.append(f"pod {name}: {pod['status']['reason']} ({pod['status'].get('message', '')[:300]})")
    return found


def watch_job(kubectl: list[str], name: str, deadline_seconds: float, *,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
    """Return when the Job completes; raise K8sError at once when it failed or a pod can never start,
    or when ``deadline_seconds`` of ``clock`` have passed (polling every POLL_SECONDS with ``sleep``;
    tests pass a fake clock so the deadline is checked without waiting it out)."""
    ends = clock() + deadline_seconds
    while True:
        job = _kubectl_json(kubectl, "get", f"job/{name}")
        conditions = {c.get("type"): c for c in job.get("status", {}).get("conditions", []) or []
                      if c.get("status") == "True"}
        if "Complete" in conditions:
            return
        pods = _kubectl_json(kubectl, "get", "pods", "-l", f"job-name={name}")
        if "Failed" in conditions:
            why = pod_problems(pods, stuck_only=False) or [conditions["Failed"].get("message") or "no pod reason"]
            raise K8sError(f"job {name} failed ({conditions['Failed'].get('reason', 'Failed')}): {'; '.join(why[:3])}")
        stuck = pod_problems(pods, stuck_only=True)
        if stuck:
            raise K8sError(f"job {name} cannot start: {'; '.join(stuck[:3])}; fix the image or --image-pull-secret "
                           f"and delete the job (kubectl delete job/{name})")
        if clock() >= ends:
            raise K8sError(f"job {name} did not finish within {deadline_seconds:.0f} s; "
                           f"see `kubectl describe job/{name}`")
        sleep(POLL_SECONDS)


def run_steps(steps: list[Any], inputs: dict[str, bytes], kubectl: str = "kubectl") -> None:
    """Run a plan's steps in order; K8sError names the step that failed."""
    if shutil.which(kubectl) is None:
        raise K8sError("no `kubectl` on PATH; install it and point KUBECONFIG at the cluster, "
                       "or use --dry-run to print the manifests")
    from coursekit.infra.k8s import COURSE_CLI

    for number, step in enumerate(steps, 1):
        if step.watch:
            try:
                watch_job(step.argv[:3], step.watch, step.deadline)
            except K8sError as exc:
                raise K8sError(f"step {number} failed ({step.text()}): {exc}") from None
            continue
        argv = list(step.argv)
        if argv[0] == "course":  # the same interpreter's CLI, whatever PATH says
            argv = [*COURSE_CLI, *argv[1:]]
        result = subprocess.run(argv, input=inputs.get(step.stdin or "", b""), capture_output=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            raise K8sError(f"step {number} failed ({step.text()}): {detail}")
