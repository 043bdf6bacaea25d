"""Cluster grading: the Indexed Job and its companions, validated against Kubernetes' schemas."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from coursekit.infra import k8s

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course.yaml"
CPU_ID, GPU_ID = "m01-linear-algebra", "m08-pytorch-mnist"
K8S_VERSION = "1.33"  # Indexed Jobs with backoffLimitPerIndex and appArmorProfile are GA/beta here


def _submissions(tmp_path: Path, count: int = 5) -> list[Path]:
    folder = tmp_path / "subs"
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"student{i:02d}.ipynb"
        path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        paths.append(path)
    return paths


def _docs(tmp_path: Path, milestone: str, shards: int = 2, count: int = 5) -> list[dict]:
    text = k8s.grade_on_k8s(course_file=COURSE, milestone_id=milestone, submissions=_submissions(tmp_path, count),
                            out=tmp_path / "out", shards=shards, dry_run=True, image=None, namespace="course-grading")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _by_kind(docs: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("milestone", [CPU_ID, GPU_ID])
def test_manifests_validate_against_kubernetes_schemas(tmp_path: Path, milestone: str) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate (ships the k8s schemas)")
    docs = _docs(tmp_path, milestone)
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "Job", "PersistentVolumeClaim", "Pod"]
    for doc in docs:
        kv.validate(doc, K8S_VERSION, strict=True)  # strict: an unknown field is an error


def test_schema_validation_catches_a_misspelt_field(tmp_path: Path) -> None:
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    job = _by_kind(_docs(tmp_path, CPU_ID))["Job"]
    job["spec"]["completionsMode"] = job["spec"].pop("completionMode")
    with pytest.raises(kv.ValidationError):
        kv.validate(job, K8S_VERSION, strict=True)


def test_cpu_job_is_indexed_and_sandboxed(tmp_path: Path) -> None:
    kinds = _by_kind(_docs(tmp_path, CPU_ID, shards=3, count=7))
    job, config = kinds["Job"], kinds["ConfigMap"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == 3 and spec["parallelism"] == 3
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["image"].endswith("-cpu")
    assert "nvidia.com/gpu" not in json.dumps(pod) and "nodeSelector" not in pod
    security = container["securityContext"]
    assert "SYS_ADMIN" in security["capabilities"]["add"] and security["capabilities"]["drop"] == ["ALL"]
    assert security["runAsUser"] == 0 and security["appArmorProfile"] == {"type": "Unconfined"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # The pod's command grades its own share, reading the list the ConfigMap mounts.
    command = container["command"]
    assert command[:4] == ["python", "-m", "coursekit.infra.k8s", "shard"]
    assert command[command.index("--shards") + 1] == "3"
    listed = config["data"]["submissions.txt"].split()
    assert listed == [f"student{i:02d}.ipynb" for i in range(7)]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/work"] == "work" and mounts["/etc/coursekit"] == "config"
    claim = kinds["PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert {v["name"]: v for v in pod["volumes"]}["work"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    # The staging pod that receives uploads needs no privilege at all.
    stage = kinds["Pod"]["spec"]["containers"][0]["securityContext"]
    assert stage["runAsNonRoot"] is True and stage["allowPrivilegeEscalation"] is False


def test_gpu_job_requests_a_gpu_on_gpu_nodes(tmp_path: Path) -> None:
    pod = _by_kind(_docs(tmp_path, GPU_ID, shards=4, count=4))["Job"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"].endswith("-cuda")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_shards_partition_the_submissions_exactly() -> None:
    items = [f"s{i}" for i in range(11)]
    shares = [k8s.shard_of(items, index, 4) for index in range(4)]
    assert sorted(sum(shares, [])) == sorted(items)
    assert shares[1] == ["s1", "s5", "s9"]
    with pytest.raises(k8s.K8sError, match="outside 0..3"):
        k8s.shard_of(items, 4, 4)


def test_more_shards_than_submissions_is_clamped(tmp_path: Path) -> None:
    job = _by_kind(_docs(tmp_path, CPU_ID, shards=10, count=3))["Job"]
    assert job["spec"]["completions"] == 3 == job["spec"]["parallelism"]


def test_same_batch_same_names_and_bytes(tmp_path: Path) -> None:
    first = k8s.grade_on_k8s(course_file=COURSE, milestone_id=CPU_ID, submissions=_submissions(tmp_path),
                             out=tmp_path / "o", shards=2, dry_run=True, image="r/g:1", namespace="n")
    again = k8s.grade_on_k8s(course_file=COURSE, milestone_id=CPU_ID, submissions=_submissions(tmp_path)[::-1],
                             out=tmp_path / "o", shards=2, dry_run=True, image="r/g:1", namespace="n")
    assert first == again


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    subs = _submissions(tmp_path, 2)
    with pytest.raises(k8s.K8sError, match="no such submission"):
        k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=[tmp_path / "nope.ipynb"], shards=1,
                      image=None, namespace="n")
    twin = tmp_path / "other" / subs[0].name
    twin.parent.mkdir()
    twin.write_text("{}")
    with pytest.raises(k8s.K8sError, match="two submissions are named student00.ipynb"):
        k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=[subs[0], twin], shards=1, image=None,
                      namespace="n")
    with pytest.raises(k8s.K8sError, match="unknown milestone 'm99-x'"):
        k8s.manifests(course_file=COURSE, milestone_id="m99-x", submissions=subs, shards=1, image=None, namespace="n")


def test_without_kubectl_apply_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(k8s.K8sError, match=r"^no `kubectl` on PATH; install it .* or use --dry-run"):
        k8s.grade_on_k8s(course_file=COURSE, milestone_id=CPU_ID, submissions=_submissions(tmp_path), out=tmp_path / "o",
                         shards=2, dry_run=False, image=None, namespace="n")


FAKE_KUBECTL = """#!{python}
# Records each call and its stdin; `cp` copies like kubectl cp would, between here and a fake pod folder.
import json, os, shutil, sys
log = os.environ["FAKE_KUBECTL_LOG"]
pod = os.environ["FAKE_POD_ROOT"]
args = sys.argv[1:]
stdin = sys.stdin.read() if "-f" in args else ""
with open(log, "a") as handle:
    handle.write(json.dumps({{"argv": args, "stdin": stdin}}) + "\\n")
if "cp" in args:
    src, dst = args[args.index("cp") + 1:args.index("cp") + 3]
    into_pod = ":" in dst
    src = os.path.join(pod, src.split(":", 1)[1].lstrip("/")) if not into_pod else src
    dst = os.path.join(pod, dst.split(":", 1)[1].lstrip("/")) if into_pod else dst
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
"""


def test_apply_runs_the_plan_in_order_with_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, pod_root, log = tmp_path / "bin", tmp_path / "pod", tmp_path / "kubectl.log"
    bin_dir.mkdir()
    (pod_root / "work" / "results" / "shards" / "0").mkdir(parents=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_POD_ROOT", str(pod_root))
    subs = _submissions(tmp_path, 3)
    docs = k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=subs, shards=2, image="r/g:1",
                         namespace="n")
    steps = k8s.plan(docs, subs, tmp_path / "out")
    # Everything up to the final `course gather` (whose own tests live in test_k8s_gather.py).
    k8s.apply(docs, [s for s in steps if s.argv[0] == "kubectl"])
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    verbs = [c["argv"][2] for c in calls]
    assert verbs == ["apply", "wait", "exec", "cp", "cp", "cp", "apply", "wait", "cp", "delete"]
    setup = [d["kind"] for d in yaml.safe_load_all(calls[0]["stdin"]) if d]
    assert setup == ["ConfigMap", "PersistentVolumeClaim", "Pod"]  # the Job only after the uploads
    assert [d["kind"] for d in yaml.safe_load_all(calls[6]["stdin"]) if d] == ["Job"]
    assert sorted(p.name for p in (pod_root / "work" / "submissions").iterdir()) == [p.name for p in subs]
    assert (tmp_path / "out" / "shards" / "0").is_dir()  # results copied back for `course gather`


def test_failed_step_names_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text("#!/bin/sh\necho 'error: the server doesn'\"'\"'t have a resource type \"jobs\"' >&2\nexit 1\n")
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(k8s.K8sError, match=r"^step 1 failed \(kubectl --namespace n apply -f - < \(ConfigMap"):
        k8s.grade_on_k8s(course_file=COURSE, milestone_id=CPU_ID, submissions=_submissions(tmp_path),
                         out=tmp_path / "o", shards=1, dry_run=False, image=None, namespace="n")
