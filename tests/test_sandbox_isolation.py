"""The full sandbox keeps each worker inside its own allow-listed world (issue 18, "Isolation").

One batch at --jobs 2 under a one-core CPU budget (COURSEKIT_CORES=1: each submission's cgroup
gets half a core) grades the honest reference next to attacks on the host: another checkout's
hidden suite, a host unix socket, SysV IPC and files in world-writable folders, a double-forked
daemon and thirty busy children. Each attack earns exactly the honest score, the reference keeps
full marks, and after the batch nothing any of them made exists on the host.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import threading
from pathlib import Path

import pytest

from coursekit.grading import bwrap, cgroups
from coursekit.grading.batch import grade_batch
from coursekit.grading.sandbox import protections
from tests.hostile.corpus import write
from tests.hostile.isolation import cases, host_ipc_keys, host_process_names, ipc_keys

FIXTURE = Path(__file__).parent / "fixtures" / "engine_course"
pytestmark = pytest.mark.slow


def _listen(address, connections: list) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(8)

    def accept() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            connections.append(address)
            client.close()

    threading.Thread(target=accept, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if protections()[0] != "full":
        pytest.skip(f"the full sandbox is not available here (missing: {', '.join(protections()[1])}); "
                    "run `course doctor`")
    marker = secrets.token_hex(4)
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(FIXTURE, course, dirs_exist_ok=True)
    parent = Path("/srv") if os.access("/srv", os.W_OK) else Path("/tmp")
    other = parent / f"coursekit-other-{marker}"
    shutil.copytree(FIXTURE, other)
    socket_path = f"/tmp/coursekit-sock-{marker}"
    connections: list = []
    servers = [_listen(socket_path, connections), _listen(f"\0coursekit-{marker}", connections)]
    os.chmod(socket_path, 0o777)  # reachable by any uid: only the sandbox may stand in the way
    context = {"other_checkout": other, "socket_path": socket_path, "abstract": f"coursekit-{marker}",
               "marker": marker}
    corpus = cases(context)
    submissions, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("out")
    paths = [write(case, submissions, context) for case in corpus]
    font_lists = {path: path.read_bytes() for path in bwrap.matplotlib_font_cache()}
    saved = os.environ.get("COURSEKIT_CORES")
    os.environ["COURSEKIT_CORES"] = "1"
    try:
        summary = grade_batch(course_file=course / "course.yaml", milestone_id="m00-engine", submissions=paths,
                              out_dir=out, jobs=2, device="cpu")
    finally:
        os.environ.pop("COURSEKIT_CORES") if saved is None else os.environ.__setitem__("COURSEKIT_CORES", saved)
        for server in servers:
            server.close()
        os.unlink(socket_path)
        shutil.rmtree(other, ignore_errors=True)
    yield {"corpus": {c.name: c for c in corpus}, "summary": summary, "out": out, "marker": marker,
           "connections": connections, "font_lists": font_lists}
    for folder in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~")):
        Path(folder, f"leak-{marker}").unlink(missing_ok=True)  # only if a test below already failed


def _results(graded, name):
    return json.loads((graded["out"] / name / "results.json").read_text())


CASE_NAMES = [c.name for c in cases({"other_checkout": Path("/x"), "socket_path": "/y", "abstract": "z",
                                     "marker": "00000000"})]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_attack_earns_exactly_the_honest_score(graded, name):
    results = _results(graded, name)
    grader = results["extra_data"]["grader"]
    assert grader["status"] == "ok", grader
    assert (grader["sandbox"], grader["sandbox_missing"]) == ("full", [])
    assert results["score"] == graded["corpus"][name].score, (
        name, [(t["name"], t["extra_data"]["outcome"], t["output"][:200]) for t in results["tests"]])


def test_honest_neighbour_of_the_cpu_hog_passes_every_test(graded):
    results = _results(graded, "iso_honest")
    assert [t["extra_data"]["outcome"] for t in results["tests"]] == ["passed"] * len(results["tests"])
    hog = _results(graded, "iso_cpu_hog")
    assert hog["tests"] and all(t["extra_data"]["outcome"] != "passed" for t in hog["tests"])


def test_host_socket_was_never_reached(graded):
    assert graded["connections"] == []


def test_no_ipc_object_survives(graded):
    assert not set(ipc_keys(graded["marker"])) & host_ipc_keys()


def test_no_file_in_world_writable_host_folders(graded):
    for folder in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~")):
        assert not Path(folder, f"leak-{graded['marker']}").exists(), folder


def test_no_daemon_survives(graded):
    assert f"d{graded['marker'][-10:]}" not in host_process_names()


def test_no_cgroup_of_a_finished_grader_is_left(graded):
    for root in (cgroups.ROOT / c / cgroups.KIT for c in cgroups.V1_CONTROLLERS + ("",)):
        if root.is_dir():
            left = [p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("g")]
            assert all(cgroups._grader_alive(name) for name in left), left


def test_the_shared_font_list_is_read_only_in_every_worker(graded):
    # bound into every worker (matplotlib is installed with the kit); a write would reach the neighbours
    assert graded["font_lists"], "no matplotlib font list was built for the workers"
    for path, content in graded["font_lists"].items():
        assert path.read_bytes() == content, path
