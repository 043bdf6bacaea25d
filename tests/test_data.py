"""The data layer: fetch through a loopback HTTP server and a mirror folder, verify, cache, load."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.data import load_dataset
from coursekit_student import data

REPO = Path(__file__).resolve().parents[1]
MIRROR = (REPO / ".." / "shared" / "data").resolve()
FIXTURE_COURSE = REPO / "tests/fixtures/course/course.yaml"

pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"shared data mirror {MIRROR} is absent")

SHAKESPEARE = data.FileSpec(
    name="input.txt", url="http://127.0.0.1:9/unused", size=1115394,
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def serve():
    """serve(folder) -> base URL of a loopback HTTP server for that folder (stopped after the test)."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None  # keep test output quiet
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def registry(spec: data.FileSpec, name: str = "tinyshakespeare") -> data.Registry:
    return {name: data.DatasetSpec(name, (spec,))}


def test_good_fetch_over_http_is_verified_and_cached(serve, cache: Path) -> None:
    base = serve(MIRROR)
    spec = data.FileSpec(**{**SHAKESPEARE.__dict__, "url": f"{base}/tinyshakespeare/input.txt"})
    path = data.dataset_path("tinyshakespeare", registry=registry(spec))
    assert path == cache / "tinyshakespeare/input.txt"
    assert sha256(path) == spec.sha256
    assert data.load_text("tinyshakespeare", registry=registry(spec)).startswith("First Citizen:")
    assert [p.name for p in path.parent.iterdir()] == ["input.txt"]  # no temp files left


def test_corrupted_download_is_rejected_and_not_cached(serve, cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "served/tinyshakespeare"
    bad.mkdir(parents=True)
    text = (MIRROR / "tinyshakespeare/input.txt").read_bytes()
    (bad / "input.txt").write_bytes(text[:1000] + b"X" + text[1001:])  # same size, one byte flipped
    spec = data.FileSpec(**{**SHAKESPEARE.__dict__, "url": f"{serve(tmp_path / 'served')}/tinyshakespeare/input.txt"})
    with pytest.raises(data.DataError) as info:
        data.dataset_path("tinyshakespeare", registry=registry(spec))
    message = str(info.value)
    assert "\n" not in message
    assert "could not fetch tinyshakespeare/input.txt" in message
    assert "sha256 mismatch: got" in message and "expected 86c4e6aa9db7" in message
    assert "COURSE_DATA_MIRROR" in message  # says how to fix it
    assert not (cache / "tinyshakespeare").exists() or not any((cache / "tinyshakespeare").iterdir())


def test_truncated_download_reports_size(serve, cache: Path, tmp_path: Path) -> None:
    short = tmp_path / "served/tinyshakespeare"
    short.mkdir(parents=True)
    (short / "input.txt").write_bytes((MIRROR / "tinyshakespeare/input.txt").read_bytes()[:5000])
    spec = data.FileSpec(**{**SHAKESPEARE.__dict__, "url": f"{serve(tmp_path / 'served')}/tinyshakespeare/input.txt"})
    with pytest.raises(data.DataError, match="size 5000 bytes, expected 1115394"):
        data.fetch("tinyshakespeare", registry=registry(spec))


def test_mirror_folder_is_tried_first(cache: Path) -> None:
    # The URL is a closed loopback port: only the mirror can satisfy this fetch.
    path = data.dataset_path("tinyshakespeare", registry=registry(SHAKESPEARE), mirror=str(MIRROR))
    assert sha256(path) == SHAKESPEARE.sha256


def test_mirror_from_environment_and_as_base_url(serve, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.MIRROR_ENV, serve(MIRROR))
    assert sha256(data.dataset_path("tinyshakespeare", registry=registry(SHAKESPEARE))) == SHAKESPEARE.sha256


def test_every_source_failing_names_each_reason(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(data.DataError) as info:
        data.dataset_path("tinyshakespeare", registry=registry(SHAKESPEARE), mirror=str(tmp_path / "empty"))
    message = str(info.value)
    assert f"{tmp_path / 'empty'}/tinyshakespeare/input.txt does not exist" in message
    assert "http://127.0.0.1:9/unused:" in message


def test_recompressed_gz_accepted_by_raw_sha256(cache: Path, tmp_path: Path) -> None:
    original = MIRROR / "mnist/t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(original.read_bytes())
    mirror = tmp_path / "mirror/mnist"
    mirror.mkdir(parents=True)
    (mirror / original.name).write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
    spec = data.FileSpec(name=original.name, url="http://127.0.0.1:9/unused", size=original.stat().st_size,
                         sha256=sha256(original), raw_sha256=hashlib.sha256(raw).hexdigest())
    assert sha256(mirror / original.name) != spec.sha256  # really different bytes
    path = data.dataset_path("mnist", original.name, registry=registry(spec, "mnist"), mirror=str(tmp_path / "mirror"))
    assert gzip.decompress(path.read_bytes()) == raw
    # without raw_sha256 the same copy is rejected
    strict = data.FileSpec(**{**spec.__dict__, "raw_sha256": None})
    shutil.rmtree(cache)
    with pytest.raises(data.DataError):
        data.dataset_path("mnist", original.name, registry=registry(strict, "mnist"), mirror=str(tmp_path / "mirror"))


def test_corrupted_cache_entry_is_replaced(cache: Path) -> None:
    path = data.dataset_path("tinyshakespeare", registry=registry(SHAKESPEARE), mirror=str(MIRROR))
    path.write_bytes(b"tampered")
    again = data.dataset_path("tinyshakespeare", registry=registry(SHAKESPEARE), mirror=str(MIRROR))
    assert sha256(again) == SHAKESPEARE.sha256


def test_load_mnist_parses_idx(cache: Path) -> None:
    reg = data.parse_registry({"mnist": {"files": [
        {"name": f.name, "url": "http://127.0.0.1:9/unused", "sha256": sha256(f), "size": f.stat().st_size}
        for f in sorted((MIRROR / "mnist").glob("t10k-*"))]}})
    images, labels = data.load_mnist("test", registry=reg, mirror=str(MIRROR))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert labels[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]  # the well-known first test digits
    assert np.bincount(labels).tolist()[:2] == [980, 1135]
    small, small_labels = data.load_mnist("test", limit=5, registry=reg, mirror=str(MIRROR))
    assert small.shape == (5, 28, 28) and small_labels.tolist() == [7, 2, 1, 0, 4]
    with pytest.raises(data.DataError, match="split must be 'train' or 'test'"):
        data.load_mnist("valid", registry=reg)


def test_read_idx_rejects_truncated_files(tmp_path: Path) -> None:
    raw = gzip.decompress((MIRROR / "mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "cut").write_bytes(raw[:100])
    with pytest.raises(data.DataError, match="truncated"):
        data.read_idx(tmp_path / "cut")
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(data.DataError, match="not an idx file"):
        data.read_idx(tmp_path / "junk")


def test_unknown_names_are_clear_errors(cache: Path) -> None:
    reg = registry(SHAKESPEARE)
    with pytest.raises(data.DataError, match=r"unknown dataset 'shakespeare'; the course declares: tinyshakespeare"):
        data.dataset_path("shakespeare", registry=reg)
    with pytest.raises(data.DataError, match=r"has no file 'in.txt'; it has: input.txt"):
        data.dataset_path("tinyshakespeare", "in.txt", registry=reg)


def test_registry_found_from_release_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "release/m08").mkdir(parents=True)
    (tmp_path / "release/datasets.json").write_text(
        '{"tinyshakespeare": {"files": [{"name": "input.txt", "url": "u", "sha256": "%s", "size": 1115394}]}}'
        % SHAKESPEARE.sha256)
    monkeypatch.delenv(data.REGISTRY_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "release/m08")  # where a student's notebook runs
    assert data.load_registry()["tinyshakespeare"].files[0].sha256 == SHAKESPEARE.sha256
    (tmp_path / "source/m08").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "source/m08")  # an instructor's kernel in the course checkout
    assert "tinyshakespeare" in data.load_registry()


def test_student_module_does_not_import_coursekit() -> None:
    code = ("import sys, coursekit_student.data; "
            "bad = [m for m in sys.modules if m == 'coursekit' or m.startswith('coursekit.')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cli_fetch_and_list(cache: Path) -> None:
    runner = CliRunner()
    base = ["--course", str(FIXTURE_COURSE), "data"]
    result = runner.invoke(cli, [*base, "list"])
    assert result.exit_code == 0 and "missing" in result.output
    result = runner.invoke(cli, [*base, "fetch", "tinyshakespeare", "--mirror", str(MIRROR), "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    assert "tinyshakespeare: 1 file(s), 1.1 MB verified" in result.output
    result = runner.invoke(cli, [*base, "list", "--cache", str(cache)])
    assert result.exit_code == 0 and "ok" in result.output
    (cache / "tinyshakespeare/input.txt").write_bytes(b"x")
    result = runner.invoke(cli, [*base, "list", "--cache", str(cache)])
    assert result.exit_code == 1 and "size 1 bytes, expected 1115394" in result.output
    result = runner.invoke(cli, [*base, "fetch", "nope"])
    assert result.exit_code == 1 and "unknown dataset 'nope'" in result.output


def test_trusted_load_dataset_for_hidden_suites(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.MIRROR_ENV, str(MIRROR))
    loaded = load_dataset("tinyshakespeare", course_file=FIXTURE_COURSE)
    assert len(loaded["input.txt"]) == 1115394  # ASCII text: characters == bytes
    monkeypatch.setenv("COURSE_FILE", str(FIXTURE_COURSE))
    with pytest.raises(data.DataError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")


@pytest.mark.slow
def test_trusted_load_dataset_mnist_from_real_course(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.MIRROR_ENV, str(MIRROR))
    loaded = load_dataset("mnist", course_file=REPO / "course.yaml")
    (train_x, train_y), (test_x, test_y) = loaded["train"], loaded["test"]
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_y.shape == (60000,) and test_y.shape == (10000,)
    assert set(train_y.tolist()) == set(range(10)) and (train_y == 1).sum() == 6742  # MNIST's published class count
    assert abs(train_x.mean() / 255 - 0.1307) < 1e-3  # the published MNIST pixel mean
    assert os.path.getsize(cache / "mnist/train-images-idx3-ubyte.gz") == 9719438
