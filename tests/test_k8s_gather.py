"""`course gather`: shards of a cluster run become one results folder, like a local `course grade`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.infra import k8s
from coursekit.review.synthetic import write_synthetic_class

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course.yaml"
MILESTONE = "m01-linear-algebra"  # same parts as the synthetic class


def _split_into_shards(local: Path, cluster: Path, shards: int) -> None:
    """Lay out `local` (one batch) the way `shards` pods write it: shards/<i>/<student>/ + summary.json."""
    summary = json.loads((local / "summary.json").read_text())
    students = [row["student"] for row in summary["submissions"]]
    for index in range(shards):
        mine = k8s.shard_of(students, index, shards)
        shard = cluster / "shards" / str(index)
        shard.mkdir(parents=True)
        for student in mine:
            shutil.copytree(local / student, shard / student)
        rows = [row for row in summary["submissions"] if row["student"] in mine]
        (shard / "summary.json").write_text(json.dumps({**summary, "submissions": rows}))


def test_gather_rebuilds_the_local_layout(tmp_path: Path) -> None:
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    students = write_synthetic_class(local, 9, seed=3, milestone_id=MILESTONE)
    _split_into_shards(local, cluster, 4)
    result = CliRunner().invoke(cli, ["--course", str(COURSE), "gather", str(cluster), MILESTONE])
    assert result.exit_code == 0, result.output
    assert "gathered 9 submissions from 4 shards" in result.output
    for student in students:
        assert (cluster / student / "results.json").read_bytes() == (local / student / "results.json").read_bytes()
    # The engine's summary writer over the merged folder gives what it gives over the local one.
    from coursekit.grading.batch import write_summary

    want = write_summary(local, MILESTONE)
    got = json.loads((cluster / "summary.json").read_text())
    assert [r["student"] for r in got["submissions"]] == sorted(students)
    assert got["submissions"] == want["submissions"]
    assert got["milestone"] == MILESTONE and got["max_score"] == want["max_score"]
    # The review store's gradebook: one row per student.
    rows = (cluster / "gradebook.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 9 and all(any(s in r for r in rows) for s in students)
    assert (cluster / "gradebook.sqlite").is_file()
    # Idempotent: gathering again changes nothing.
    again = CliRunner().invoke(cli, ["--course", str(COURSE), "gather", str(cluster), MILESTONE])
    assert again.exit_code == 0, again.output
    regathered = json.loads((cluster / "summary.json").read_text())
    assert regathered["submissions"] == got["submissions"]


def test_empty_shard_is_fine(tmp_path: Path) -> None:
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    write_synthetic_class(local, 2, seed=1, milestone_id=MILESTONE)
    _split_into_shards(local, cluster, 2)
    (cluster / "shards" / "2").mkdir()  # a pod whose share was empty writes an empty folder
    result = CliRunner().invoke(cli, ["--course", str(COURSE), "gather", str(cluster), MILESTONE])
    assert result.exit_code == 0, result.output
    assert len(json.loads((cluster / "summary.json").read_text())["submissions"]) == 2


@pytest.mark.parametrize("damage, message", [
    ("unfinished", "shard 1 did not finish"),
    ("duplicate", "was graded twice"),
    ("other-milestone", "is for 'm02-calculus', not 'm01-linear-algebra'"),
])
def test_broken_shards_are_one_clear_line(tmp_path: Path, damage: str, message: str) -> None:
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    write_synthetic_class(local, 4, seed=2, milestone_id=MILESTONE)
    _split_into_shards(local, cluster, 2)
    shard0, shard1 = cluster / "shards" / "0", cluster / "shards" / "1"
    if damage == "unfinished":
        (shard1 / "summary.json").unlink()
    elif damage == "duplicate":
        twin = next(p for p in shard0.iterdir() if p.is_dir())
        shutil.copytree(twin, shard1 / twin.name)
    else:
        s1 = json.loads((shard1 / "summary.json").read_text())
        (shard1 / "summary.json").write_text(json.dumps({**s1, "milestone": "m02-calculus"}))
    result = CliRunner().invoke(cli, ["--course", str(COURSE), "gather", str(cluster), MILESTONE])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


def test_not_a_cluster_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--course", str(COURSE), "gather", str(tmp_path), MILESTONE])
    assert result.exit_code == 1 and "no shards/ folder" in result.output


@pytest.mark.slow
def test_pods_then_gather_with_the_real_engine(tmp_path: Path) -> None:
    """What the Job's pods run (`python -m coursekit.infra.k8s shard`), on the image's grading bundle."""
    from coursekit.infra.bundle import write_bundle
    from tests.test_gradescope_package import MID, make_course

    source_course = make_course(tmp_path / "course")
    write_bundle(source_course, tmp_path / "bundle")  # what the image holds at /course
    course_file = tmp_path / "bundle" / "course.yaml"
    uploads = tmp_path / "work" / "submissions"
    uploads.mkdir(parents=True)
    shutil.copy(source_course.parent / "source" / MID / f"{MID}.ipynb", uploads / "ada.ipynb")
    shutil.copy(tmp_path / "bundle" / "release" / MID / f"{MID}.ipynb", uploads / "bob.ipynb")
    docs = k8s.manifests(course_file=course_file, milestone_id=MID, submissions=sorted(uploads.iterdir()),
                         shards=2, image="r/g:1", namespace="n")
    config, job = docs[0], docs[3]
    listing = tmp_path / "config" / "submissions.txt"
    listing.parent.mkdir()
    listing.write_text(config["data"]["submissions.txt"])
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    # The pod's command, with this machine's paths for the image's.
    swap = {"/course/course.yaml": str(course_file), "/etc/coursekit/submissions.txt": str(listing),
            "/work/submissions": str(uploads), "/work/results": str(tmp_path / "work" / "results")}
    argv = [sys.executable if a == "python" else swap.get(a, a) for a in command]
    for index in range(job["spec"]["completions"]):
        done = subprocess.run(argv, env={**os.environ, "JOB_COMPLETION_INDEX": str(index)},
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "work" / "results"
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["0", "1"]
    result = CliRunner().invoke(cli, ["--course", str(course_file), "gather", str(out), MID])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    scores = {row["student"]: (row["score"], row["status"]) for row in summary["submissions"]}
    assert scores == {"ada": (5.0, "ok"), "bob": (0.0, "ok")}
    assert (out / "ada" / "feedback.html").is_file() and (out / "gradebook.csv").is_file()
