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
# Records each call; `cp` copies and `exec -i ... tar -xf - -C DIR` unpacks like a real pod would, between
# here and a fake pod folder; `get job` answers with FAKE_JOB_STATUS, `get pods` with FAKE_PODS.
import io, json, os, shutil, sys, tarfile
log = os.environ["FAKE_KUBECTL_LOG"]
pod = os.environ["FAKE_POD_ROOT"]
args = sys.argv[1:]
data = sys.stdin.buffer.read() if ("-f" in args or "-i" in args) else b""
with open(log, "a") as handle:
    handle.write(json.dumps({{"argv": args, "stdin": data.decode("utf-8", "replace") if "-f" in args else ""}}) + "\\n")
if "cp" in args:
    src, dst = args[args.index("cp") + 1:args.index("cp") + 3]
    into_pod = ":" in dst
    src = os.path.join(pod, src.split(":", 1)[1].lstrip("/")) if not into_pod else src
    dst = os.path.join(pod, dst.split(":", 1)[1].lstrip("/")) if into_pod else dst
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
elif "exec" in args and "tar" in args:
    target = os.path.join(pod, args[args.index("-C") + 1].lstrip("/"))
    os.makedirs(target, exist_ok=True)
    tarfile.open(fileobj=io.BytesIO(data)).extractall(target)
elif "get" in args and args[args.index("get") + 1].startswith("job/"):
    print(os.environ.get("FAKE_JOB_STATUS", json.dumps({{"status": {{"conditions": [{{"type": "Complete", "status": "True"}}]}}}})))
elif "get" in args and args[args.index("get") + 1] == "pods":
    print(os.environ.get("FAKE_PODS", json.dumps({{"items": []}})))
"""


def _fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    bin_dir, pod_root, log = tmp_path / "bin", tmp_path / "pod", tmp_path / "kubectl.log"
    bin_dir.mkdir()
    (pod_root / "work" / "results" / "shards" / "0").mkdir(parents=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_POD_ROOT", str(pod_root))
    return pod_root, log


def test_apply_runs_the_plan_in_order_with_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pod_root, log = _fake_kubectl(tmp_path, monkeypatch)
    subs = _submissions(tmp_path, 3)
    docs = k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=subs, shards=2, image="r/g:1",
                         namespace="n")
    steps = k8s.plan(docs, subs, tmp_path / "out")
    # Everything up to the final `course gather` (whose own tests live in test_k8s_gather.py).
    k8s.apply(docs, [s for s in steps if s.argv[0] == "kubectl"], subs)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    verbs = [c["argv"][2] for c in calls]
    # one upload stream for every submission, and the Job watched (`get job`) rather than waited on
    assert verbs == ["apply", "wait", "exec", "exec", "apply", "get", "cp", "delete"]
    setup = [d["kind"] for d in yaml.safe_load_all(calls[0]["stdin"]) if d]
    assert setup == ["ConfigMap", "PersistentVolumeClaim", "Pod"]  # the Job only after the uploads
    assert [d["kind"] for d in yaml.safe_load_all(calls[4]["stdin"]) if d] == ["Job"]
    assert sorted(p.name for p in (pod_root / "work" / "submissions").iterdir()) == [p.name for p in subs]
    assert (tmp_path / "out" / "shards" / "0").is_dir()  # results copied back for `course gather`


@pytest.mark.parametrize("job, pods, expected", [
    ({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}},
     {"items": [{"metadata": {"name": "grade-x-0"}, "status": {"containerStatuses": [
         {"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}]},
     r"job grade-\S+ failed \(BackoffLimitExceeded\): pod grade-x-0: OOMKilled, exit 137"),
    ({"status": {}},
     {"items": [{"metadata": {"name": "grade-x-1"}, "status": {"containerStatuses": [
         {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image r/g:1"}}}]}}]},
     r"cannot start: pod grade-x-1: ImagePullBackOff \(Back-off pulling image r/g:1\); fix the image"),
])
def test_a_failed_or_stuck_job_fails_the_command_at_once_with_the_pods_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, job: dict, pods: dict, expected: str) -> None:
    _fake_kubectl(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_JOB_STATUS", json.dumps(job))
    monkeypatch.setenv("FAKE_PODS", json.dumps(pods))
    subs = _submissions(tmp_path, 2)
    docs = k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=subs, shards=1, image="r/g:1",
                         namespace="n")
    steps = [s for s in k8s.plan(docs, subs, tmp_path / "out") if s.argv[0] == "kubectl"]
    with pytest.raises(k8s.K8sError, match=r"^step 6 failed .*" + expected):
        k8s.apply(docs, steps, subs)


def test_device_and_times_reach_the_pods(tmp_path: Path) -> None:
    import datetime as dt

    subs = _submissions(tmp_path, 3)
    stamp = dt.datetime(2027, 2, 6, 1, 0, tzinfo=dt.timezone.utc)
    times = {"student00": stamp, "student02": stamp, "someone-else": stamp}
    cpu = k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=subs, shards=1, image="r/g:1",
                        namespace="n", times=times)
    config, job = cpu[0], cpu[3]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--device") + 1] == "cpu"
    assert command[command.index("--times") + 1] == "/etc/coursekit/times.csv"
    assert config["data"]["times.csv"] == "student,submitted_at\n" + \
        f"student00,{stamp.isoformat()}\nstudent02,{stamp.isoformat()}\n"
    # a GPU milestone grades with CUDA on its GPU pods: a broken driver fails instead of grading smoke tests
    gpu = k8s.manifests(course_file=COURSE, milestone_id=GPU_ID, submissions=subs, shards=1, image="r/g:1",
                        namespace="n")
    command = gpu[3]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--device") + 1] == "cuda" and "--times" not in command
    forced = k8s.manifests(course_file=COURSE, milestone_id=GPU_ID, submissions=subs, shards=1, image="r/g:1",
                           namespace="n", device="cpu")
    container = forced[3]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_pull_secret_storage_class_and_ephemeral_storage(tmp_path: Path) -> None:
    docs = k8s.manifests(course_file=COURSE, milestone_id=CPU_ID, submissions=_submissions(tmp_path, 2), shards=1,
                         image="registry.example/g:1", namespace="n", pull_secret="regcred", storage_class="nfs",
                         ephemeral_storage="8Gi")
    kinds = _by_kind(docs)
    pod = kinds["Job"]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}] and kinds["Pod"]["spec"]["imagePullSecrets"]
    assert kinds["PersistentVolumeClaim"]["spec"]["storageClassName"] == "nfs"
    resources = pod["containers"][0]["resources"]
    assert resources["limits"]["ephemeral-storage"] == resources["requests"]["ephemeral-storage"] == "8Gi"
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "8Gi"}} in pod["volumes"]
    kv = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
    for doc in docs:
        kv.validate(doc, K8S_VERSION, strict=True)


def test_the_pod_passes_device_and_times_to_course_grade(tmp_path: Path) -> None:
    listing, seen = tmp_path / "list.txt", tmp_path / "argv.json"
    listing.write_text("a.ipynb\n")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("{}")
    record = [sys.executable, "-c", f"import json, sys; open({str(seen)!r}, 'w').write(json.dumps(sys.argv[1:]))"]
    code = k8s.run_shard(course_file=COURSE, milestone_id=CPU_ID, listing=listing, submissions_dir=tmp_path / "subs",
                         out=tmp_path / "out", shards=1, index=0, course_cmd=record, device="cuda",
                         times=Path("/etc/coursekit/times.csv"))
    argv = json.loads(seen.read_text())
    assert code == 0 and argv[argv.index("--device") + 1] == "cuda"
    assert argv[argv.index("--times") + 1] == "/etc/coursekit/times.csv"


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
