"""Grading on a Kubernetes cluster: an Indexed Job whose pods each grade one shard.

Layout of the shared volume (a ReadWriteMany PersistentVolumeClaim mounted at ``/work``)::

    /work/submissions/<name>            uploaded by a staging pod (kubectl cp)
    /work/results/shards/<index>/...    what `course grade` wrote in pod <index>

Pod ``i`` grades the submissions whose position ``k`` in the ConfigMap's sorted list satisfies
``k % shards == i`` (``JOB_COMPLETION_INDEX``, set by Kubernetes for Indexed Jobs), with the
very same ``course grade`` as a laptop. ``course gather`` then merges the shards into one
results folder (summary.json, gradebook). GPU milestones request ``nvidia.com/gpu: 1`` per pod.

The grader's sandbox needs root with CAP_SYS_ADMIN inside the pod (mount and network
namespaces, per-slot uids for student code); the runtime's default AppArmor profile forbids
mount(2), so the grading container runs Unconfined for AppArmor while keeping the default
seccomp profile. Without that the engine still grades but reports ``sandbox: degraded``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from coursekit.config.loader import load_course
from coursekit.config.schema import Milestone
from coursekit.grading.api import GraderError
from coursekit.infra.image import IMAGE_NAME, kit_version
from coursekit.infra.k8s_run import K8sError, run_steps, upload_tar

WORK = "/work"
CONFIG = "/etc/coursekit"
COURSE_IN_IMAGE = "/course/course.yaml"
CPUS_PER_POD = 1  # each pod grades its share one submission at a time
GRADER_UID = 10001  # the image's unprivileged user (owner of the shared volume's files)
LABEL = "app.kubernetes.io/name"
COURSE_CLI = [sys.executable, "-c", "from coursekit.cli import main; main()"]  # this interpreter's `course`


def shard_of(items: list[str], index: int, shards: int) -> list[str]:
    """The items pod ``index`` grades: every ``shards``-th one, starting at ``index``."""
    if not 0 <= index < shards:
        raise K8sError(f"shard index {index} is outside 0..{shards - 1}")
    return [item for position, item in enumerate(items) if position % shards == index]


def _dns_name(text: str, limit: int) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:limit].rstrip("-")


def submission_names(submissions: list[Path]) -> list[str]:
    """Names the submissions get on the shared volume (their file/folder names), checked unique.

    Students are named as the engine names them (file stem or folder name), so two submissions
    of one student are refused here, before they could land in different shards.
    """
    from coursekit.grading.batch import discover

    names: dict[str, Path] = {}
    for path in submissions:
        if not path.exists():
            raise K8sError(f"{path}: no such submission; pass .ipynb files or submission folders")
        if path.name in names:
            raise K8sError(f"two submissions are named {path.name} ({names[path.name]} and {path}); "
                           f"rename one: students are identified by file name")
        names[path.name] = path
    try:
        discover(list(submissions))
    except GraderError as exc:
        raise K8sError(str(exc)) from None
    return sorted(names)


def job_name(milestone_id: str, names: list[str]) -> str:
    """A stable name per (milestone, set of submissions): re-applying the same batch is idempotent."""
    digest = hashlib.sha256("\n".join([milestone_id, *names]).encode()).hexdigest()[:8]
    return f"grade-{_dns_name(milestone_id, 40)}-{digest}"


def _grader_security(full_sandbox: bool) -> dict[str, Any]:
    if not full_sandbox:
        return {"runAsUser": GRADER_UID, "runAsGroup": GRADER_UID, "runAsNonRoot": True,
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    # Root in the container only to build the sandbox: the engine unshares mount+network namespaces
    # (SYS_ADMIN), hides secrets under tmpfs and drops student code to per-slot uids (SETUID/SETGID),
    # whose processes it kills (KILL); everything else is dropped.
    return {"runAsUser": 0, "runAsNonRoot": False,
            "capabilities": {"drop": ["ALL"],
                             "add": ["SYS_ADMIN", "SETUID", "SETGID", "KILL", "CHOWN", "FOWNER", "DAC_OVERRIDE"]},
            "appArmorProfile": {"type": "Unconfined"}}


def pod_device(milestone: Milestone, device: str) -> str:
    """The --device each pod grades with. A GPU milestone on "auto" asks for CUDA: a GPU node whose
    driver does not work then fails loudly instead of quietly grading the CPU smoke variants."""
    if device in ("cpu", "cuda"):
        return device
    return "cuda" if milestone.needs == "gpu" else "cpu"


def _resources(device: str, memory_mb: int, ephemeral: str | None) -> dict[str, Any]:
    # The worker's address-space limit plus room for the trusted side (pytest, torch on the oracle side).
    memory = f"{memory_mb + 2048}Mi"
    resources: dict[str, Any] = {"requests": {"cpu": str(CPUS_PER_POD), "memory": memory},
                                 "limits": {"memory": memory}}
    if ephemeral:  # node-local disk (/tmp, logs): a submission that fills it evicts only its own pod
        resources["requests"]["ephemeral-storage"] = resources["limits"]["ephemeral-storage"] = ephemeral
    if device == "cuda":
        resources["limits"]["nvidia.com/gpu"] = 1
        resources["requests"]["nvidia.com/gpu"] = 1
    return resources


@dataclass(frozen=True)
class Batch:
    """What every object of one grading batch shares."""

    name: str
    namespace: str
    image: str
    milestone: Milestone
    shards: int
    per_pod: int           # submissions in the largest shard
    submission_seconds: float
    memory_mb: int
    device: str = "cpu"                 # what each pod passes to `course grade --device`
    times_csv: str | None = None        # student,submitted_at rows for this batch (late penalties)
    pull_secret: str | None = None      # imagePullSecrets for a private registry
    storage_class: str | None = None    # the shared volume's StorageClass (must offer ReadWriteMany)
    ephemeral_storage: str | None = None

    def meta(self, suffix: str = "") -> dict[str, Any]:
        labels = {LABEL: "coursekit-grader", "coursekit/milestone": _dns_name(self.milestone.id, 63),
                  "coursekit/run": self.name}
        return {"name": f"{self.name}{suffix}", "namespace": self.namespace, "labels": labels}

    def pod_common(self) -> dict[str, Any]:
        volumes = [{"name": "work", "persistentVolumeClaim": {"claimName": f"{self.name}-work"}},
                   {"name": "config", "configMap": {"name": f"{self.name}-submissions"}},
                   {"name": "tmp", "emptyDir": {}}]
        if self.ephemeral_storage:
            volumes[2]["emptyDir"] = {"sizeLimit": self.ephemeral_storage}
        spec = {"automountServiceAccountToken": False, "enableServiceLinks": False, "restartPolicy": "Never",
                "securityContext": {"fsGroup": GRADER_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                "volumes": volumes}
        if self.pull_secret:
            spec["imagePullSecrets"] = [{"name": self.pull_secret}]
        return spec

    def container(self, name: str, command: list[str], security: dict[str, Any],
                  resources: dict[str, Any]) -> dict[str, Any]:
        mounts = [{"name": "work", "mountPath": WORK}, {"name": "config", "mountPath": CONFIG, "readOnly": True},
                  {"name": "tmp", "mountPath": "/tmp"}]
        return {"name": name, "image": self.image, "imagePullPolicy": "IfNotPresent", "command": command,
                "workingDir": WORK, "env": [{"name": "COURSE_DATA_CACHE", "value": "/opt/course-data"}],
                "securityContext": security, "volumeMounts": mounts, "resources": resources}


def _config_map(batch: Batch, names: list[str]) -> dict[str, Any]:
    data = {"milestone": batch.milestone.id, "shards": str(batch.shards), "device": batch.device,
            "submissions.txt": "".join(f"{n}\n" for n in names)}
    if batch.times_csv:
        data["times.csv"] = batch.times_csv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": batch.meta("-submissions"), "data": data}


def _claim(batch: Batch, storage: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": storage}}}
    if batch.storage_class:
        spec["storageClassName"] = batch.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": batch.meta("-work"), "spec": spec}


def _staging_pod(batch: Batch) -> dict[str, Any]:
    """Receives the uploads and hands the results back; needs no privilege at all."""
    small = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    container = batch.container("stage", ["sleep", "86400"], _grader_security(False), small)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": batch.meta("-stage"),
            "spec": {**batch.pod_common(), "containers": [container]}}


def _job(batch: Batch, full_sandbox: bool) -> dict[str, Any]:
    command = ["python", "-m", "coursekit.infra.k8s", "shard", "--course", COURSE_IN_IMAGE,
               "--milestone", batch.milestone.id, "--list", f"{CONFIG}/submissions.txt",
               "--submissions", f"{WORK}/submissions", "--out", f"{WORK}/results", "--shards", str(batch.shards),
               "--device", batch.device, *(["--times", f"{CONFIG}/times.csv"] if batch.times_csv else [])]
    container = batch.container("grader", command, _grader_security(full_sandbox),
                                _resources(batch.device, batch.memory_mb, batch.ephemeral_storage))
    pod: dict[str, Any] = {**batch.pod_common(), "containers": [container]}
    if batch.device == "cuda":
        pod["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": batch.meta(),
            "spec": {"completionMode": "Indexed", "completions": batch.shards, "parallelism": batch.shards,
                     "backoffLimitPerIndex": 1, "maxFailedIndexes": batch.shards,
                     # Every submission of a shard at its own time limit, twice over, plus image pull.
                     "activeDeadlineSeconds": int(2 * batch.per_pod * batch.submission_seconds + 900),
                     "ttlSecondsAfterFinished": 7 * 86400,
                     "template": {"metadata": {"labels": batch.meta()["labels"]}, "spec": pod}}}


def _times_csv(times: dict[str, dt.datetime] | None, submissions: list[Path]) -> str | None:
    """The --times rows of this batch's students (named as the engine names them)."""
    if not times:
        return None
    from coursekit.grading.batch import discover

    students = {item.student for item in discover(list(submissions))}
    rows = [f"{student},{stamp.isoformat()}\n" for student, stamp in sorted(times.items()) if student in students]
    return "student,submitted_at\n" + "".join(rows) if rows else None


def manifests(*, course_file: Path, milestone_id: str, submissions: list[Path], shards: int,
              image: str | None, namespace: str, storage: str = "10Gi", full_sandbox: bool = True,
              device: str = "auto", times: dict[str, dt.datetime] | None = None, pull_secret: str | None = None,
              storage_class: str | None = None, ephemeral_storage: str | None = None) -> list[dict[str, Any]]:
    """ConfigMap, PersistentVolumeClaim, staging Pod and Indexed Job for one grading batch."""
    course = load_course(course_file, check_files=False)
    milestone = course.milestone(milestone_id, error=K8sError)
    names = submission_names(submissions)
    if not names:
        raise K8sError("no submissions given; pass the .ipynb files (or folders) to grade")
    if shards < 1:
        raise K8sError(f"--shards {shards}: give at least 1")
    shards = min(shards, len(names))  # an empty shard would only cost a pod
    flavour = "cuda" if pod_device(milestone, device) == "cuda" else "cpu"
    limits = course.limits_for(milestone)
    batch = Batch(name=job_name(milestone_id, names), namespace=namespace, milestone=milestone, shards=shards,
                  image=image or f"{IMAGE_NAME}:{kit_version(course_file.resolve().parent)}-{flavour}",
                  per_pod=math.ceil(len(names) / shards), submission_seconds=limits.submission_seconds,
                  memory_mb=limits.memory_mb, device=pod_device(milestone, device),
                  times_csv=_times_csv(times, submissions), pull_secret=pull_secret, storage_class=storage_class,
                  ephemeral_storage=ephemeral_storage)
    return [_config_map(batch, names), _claim(batch, storage), _staging_pod(batch), _job(batch, full_sandbox)]


class _Dumper(yaml.SafeDumper):
    """Plain manifests: no anchors/aliases for shared dicts, multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(documents: list[dict[str, Any]], header: Iterable[str] = ()) -> str:
    """Multi-document YAML, with ``header`` lines as leading comments."""
    comments = "".join(f"# {line}\n" for line in header)
    body = "---\n".join(yaml.dump(doc, Dumper=_Dumper, sort_keys=False) for doc in documents)
    return comments + "---\n" + body


@dataclass(frozen=True)
class Step:
    """One command of a batch; ``stdin`` names the manifests piped to it ("setup" or "job")."""

    argv: list[str]
    stdin: str | None = None
    watch: str | None = None     # a Job to watch (fails at once with its pods' reason) instead of running argv
    deadline: float = 0.0

    def text(self) -> str:
        note = {"setup": " < (ConfigMap, PVC, staging Pod)", "job": " < (the Job)",
                "uploads": " < (the submissions, one tar stream)"}.get(self.stdin or "", "")
        return shlex.join(self.argv) + note


def plan(documents: list[dict[str, Any]], submissions: list[Path], out: Path) -> list[Step]:
    """The commands that run a batch end to end, in order (the Job starts once its inputs are uploaded)."""
    config_map, _claim, staging, job = documents
    ns = job["metadata"]["namespace"]
    stage = staging["metadata"]["name"]
    name = job["metadata"]["name"]
    deadline = job["spec"]["activeDeadlineSeconds"]
    kubectl = ["kubectl", "--namespace", ns]
    steps = [Step([*kubectl, "apply", "-f", "-"], "setup"),
             Step([*kubectl, "wait", "--for=condition=Ready", f"pod/{stage}", "--timeout=600s"]),
             Step([*kubectl, "exec", stage, "--", "mkdir", "-p", f"{WORK}/submissions", f"{WORK}/results"])]
    steps += [Step([*kubectl, "exec", "-i", stage, "--", "tar", "-xf", "-", "-C", f"{WORK}/submissions"], "uploads")]
    steps += [Step([*kubectl, "apply", "-f", "-"], "job"),
              Step([*kubectl, "wait", "--for=condition=Complete", f"job/{name}", f"--timeout={deadline}s"],
                   watch=name, deadline=deadline),
              Step([*kubectl, "cp", f"{stage}:{WORK}/results", str(out)]),
              Step([*kubectl, "delete", "pod", stage, "--wait=false"]),
              Step(["course", "gather", str(out), config_map["data"]["milestone"]])]
    return steps


def grade_on_k8s(*, course_file: Path, milestone_id: str, submissions: list[Path], out: Path,
                 shards: int, dry_run: bool, image: str | None, namespace: str, **options: Any) -> str:
    """Grade ``submissions`` as an Indexed Job; returns the manifests, headed by the commands that run them.

    Without ``dry_run`` it runs those commands (kubectl must be on PATH) and leaves the merged
    results in ``out``, as a local ``course grade --out`` would.
    """
    documents = manifests(course_file=course_file, milestone_id=milestone_id, submissions=submissions,
                          shards=shards, image=image, namespace=namespace, **options)
    steps = plan(documents, submissions, out)
    header = ["Grading batch for the Zero-to-LLM kit (`course grade --backend k8s`), run as:"]
    header += [f"  {i}. {step.text()}" for i, step in enumerate(steps, 1)]
    text = render(documents, header)
    if not dry_run:
        apply(documents, steps, submissions)
    return text


def apply(documents: list[dict[str, Any]], steps: list[Step], submissions: list[Path] | None = None,
          kubectl: str = "kubectl") -> None:
    """Run the plan; K8sError names the step that failed (and, for the Job, its pods' reason)."""
    inputs = {"setup": render(documents[:3]).encode(), "job": render(documents[3:]).encode(),
              "uploads": upload_tar(list(submissions or []))}
    run_steps(steps, inputs, kubectl)


# --- inside a pod --------------------------------------------------------------------------------

def run_shard(*, course_file: Path, milestone_id: str, listing: Path, submissions_dir: Path, out: Path,
              shards: int, index: int, course_cmd: list[str] | None = None, device: str = "auto",
              times: Path | None = None) -> int:
    """Grade this pod's share with `course grade`; returns its exit code (0 for an empty share)."""
    names = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    mine = shard_of(names, index, shards)
    shard_out = out / "shards" / str(index)
    if not mine:
        shard_out.mkdir(parents=True, exist_ok=True)
        return 0
    missing = [n for n in mine if not (submissions_dir / n).exists()]
    if missing:
        raise K8sError(f"{len(missing)} submissions were not uploaded to {submissions_dir} (first: {missing[0]}); "
                       f"re-run the kubectl cp steps")
    course_cmd = course_cmd or COURSE_CLI
    # One submission at a time: the pod requests one CPU, while os.cpu_count() (the default) sees the node's.
    argv = [*course_cmd, "--course", str(course_file), "grade", milestone_id,
            *[str(submissions_dir / n) for n in mine], "--out", str(shard_out), "--jobs", str(CPUS_PER_POD),
            "--device", device, *(["--times", str(times)] if times else [])]
    print("shard", index, "of", shards, ":", len(mine), "submissions", flush=True)
    return subprocess.run(argv, check=False).returncode


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.infra.k8s")
    sub = parser.add_subparsers(dest="verb", required=True)
    shard = sub.add_parser("shard", help="grade this pod's shard (index from JOB_COMPLETION_INDEX)")
    shard.add_argument("--course", type=Path, required=True)
    shard.add_argument("--milestone", required=True)
    shard.add_argument("--list", type=Path, required=True)
    shard.add_argument("--submissions", type=Path, required=True)
    shard.add_argument("--out", type=Path, required=True)
    shard.add_argument("--shards", type=int, required=True)
    shard.add_argument("--index", type=int, default=None, help="default: $JOB_COMPLETION_INDEX")
    shard.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    shard.add_argument("--times", type=Path, default=None, help="student,submitted_at CSV (late penalties)")
    args = parser.parse_args(argv)
    index = args.index if args.index is not None else int(os.environ.get("JOB_COMPLETION_INDEX", "-1"))
    try:
        return run_shard(course_file=args.course, milestone_id=args.milestone, listing=args.list,
                         submissions_dir=args.submissions, out=args.out, shards=args.shards, index=index,
                         device=args.device, times=args.times)
    except K8sError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_main())
