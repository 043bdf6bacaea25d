"""Course data sets: fetch once, verify, cache, load.

Every file is declared once (``datasets:`` in course.yaml, shipped as ``datasets.json``) with
its URL, size and sha256. A file is fetched from a mirror first (``COURSE_DATA_MIRROR``: a
folder laid out ``<dataset>/<file>`` or a base URL with the same layout), then from its URL;
it is written to a temporary file, verified, and only then renamed into the cache
(``COURSE_DATA_CACHE``, default ``~/.cache/zero-to-llm``), so a corrupted or truncated
download is rejected and never cached.

A ``.gz`` file may also declare ``raw_sha256``, the sha256 of its *decompressed* content: a
mirror holding a recompressed copy (different bytes, same data) is accepted.

This module is part of the student package: it must not import ``coursekit``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

CACHE_ENV = "COURSE_DATA_CACHE"
MIRROR_ENV = "COURSE_DATA_MIRROR"
REGISTRY_ENV = "COURSE_DATASETS"
DEFAULT_CACHE = Path("~/.cache/zero-to-llm")
CHUNK = 1 << 20
TIMEOUT_S = 60


class DataError(RuntimeError):
    """A data set cannot be found, fetched or verified; the message is one line with the fix."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    url: str
    sha256: str
    size: int
    raw_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    files: tuple[FileSpec, ...]

    def file(self, name: str | None = None) -> FileSpec:
        if name is None:
            if len(self.files) != 1:
                raise DataError(f"dataset {self.name!r} has {len(self.files)} files; name one of: "
                                f"{', '.join(f.name for f in self.files)}")
            return self.files[0]
        for spec in self.files:
            if spec.name == name:
                return spec
        raise DataError(f"dataset {self.name!r} has no file {name!r}; it has: {', '.join(f.name for f in self.files)}")


Registry = dict[str, DatasetSpec]


# ---------------------------------------------------------------- registry


def parse_registry(data: dict) -> Registry:
    """``{name: {"files": [{name, url, sha256, size, raw_sha256?}, ...], ...}}`` -> specs."""
    registry: Registry = {}
    for name, entry in data.items():
        files = tuple(FileSpec(name=f["name"], url=f["url"], sha256=f["sha256"], size=int(f["size"]),
                               raw_sha256=f.get("raw_sha256")) for f in entry["files"])
        registry[name] = DatasetSpec(name, files)
    return registry


def _registry_candidates() -> Iterable[Path]:
    if os.environ.get(REGISTRY_ENV):
        yield Path(os.environ[REGISTRY_ENV])
    # Notebooks run in release/<id>/ (datasets.json sits in release/); an instructor's kernel runs
    # in source/<id>/ of the course checkout, whose release/ holds it.
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        yield folder / "datasets.json"
        yield folder / "release" / "datasets.json"
    yield Path(__file__).with_name("datasets.json")  # installed package (written by `course release`)


def load_registry(path: str | Path | None = None) -> Registry:
    """The course's data sets, from ``path``, $COURSE_DATASETS, a datasets.json above the
    working directory, or the copy inside this package."""
    candidates = [Path(path)] if path else list(_registry_candidates())
    for candidate in candidates:
        if candidate.is_file():
            try:
                return parse_registry(json.loads(candidate.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(f"{candidate}: not a valid datasets.json ({exc}); reinstall the course "
                                f"package or rebuild it with `course release`") from None
    raise DataError("no datasets.json found; run from inside the course's release/ folder, "
                    f"set {REGISTRY_ENV}=/path/to/datasets.json, or reinstall with `pip install ./release`")


def _spec(name: str, registry: Registry | None) -> DatasetSpec:
    registry = load_registry() if registry is None else registry
    if name not in registry:
        raise DataError(f"unknown dataset {name!r}; the course declares: {', '.join(sorted(registry)) or 'none'}")
    return registry[name]


# ---------------------------------------------------------------- verification


def cache_dir(cache: str | Path | None = None) -> Path:
    return Path(cache or os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def _sha256(path: Path, *, gunzip: bool = False) -> str:
    digest = hashlib.sha256()
    opener: Callable = gzip.open if gunzip else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, spec: FileSpec) -> str | None:
    """None if ``path`` holds the declared content, else what is wrong (a short phrase)."""
    size = path.stat().st_size
    if size == spec.size and _sha256(path) == spec.sha256:
        return None
    if spec.raw_sha256:
        try:
            if _sha256(path, gunzip=True) == spec.raw_sha256:
                return None  # a recompressed copy of the same data
        except (OSError, EOFError, gzip.BadGzipFile):
            return f"not a valid gzip file ({size} bytes) and sha256 mismatch"
        return f"sha256 mismatch (and its decompressed content does not match raw_sha256 {spec.raw_sha256[:12]}…)"
    if size != spec.size:
        return f"size {size} bytes, expected {spec.size}"
    return f"sha256 mismatch: got {_sha256(path)[:12]}…, expected {spec.sha256[:12]}…"


# ---------------------------------------------------------------- fetching


def _sources(dataset: str, spec: FileSpec, mirror: str | None) -> list[str]:
    sources = []
    if mirror:
        if "://" in mirror:
            sources.append(f"{mirror.rstrip('/')}/{urllib.parse.quote(dataset)}/{urllib.parse.quote(spec.name)}")
        else:
            sources.append(str(Path(mirror).expanduser() / dataset / spec.name))
    sources.append(spec.url)
    return sources


def _copy_into(source: str, handle, limit: int) -> None:
    """Copy a folder path or a URL into an open temp file, refusing more than ``limit`` bytes."""
    if "://" not in source:
        if not Path(source).is_file():
            raise FileNotFoundError(f"{source} does not exist")
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle, CHUNK)
        return
    request = urllib.request.Request(source, headers={"User-Agent": "zero-to-llm-course"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - declared URLs only
        copied = 0
        while chunk := response.read(CHUNK):
            copied += len(chunk)
            if copied > limit:
                raise OSError(f"more than {limit} bytes; not the declared file")
            handle.write(chunk)


def _try_source(source: str, target: Path, spec: FileSpec) -> str | None:
    """Fetch one source into ``target`` atomically; None on success, else the reason it failed."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            _copy_into(source, handle, limit=4 * spec.size + CHUNK)
        problem = verify(tmp, spec)
        if problem:
            return f"{source}: {problem}"
        os.replace(tmp, target)  # atomic: the cache only ever holds verified files
        return None
    except urllib.error.HTTPError as exc:
        return f"{source}: HTTP {exc.code} {exc.reason}"
    except (OSError, urllib.error.URLError, ValueError) as exc:
        return f"{source}: {getattr(exc, 'reason', None) or exc}"
    finally:
        tmp.unlink(missing_ok=True)


def fetch_file(dataset: str, spec: FileSpec, *, cache: str | Path | None = None,
               mirror: str | None = None) -> Path:
    """The verified cached copy of one file, fetching it if needed. Raises DataError."""
    target = cache_dir(cache) / dataset / spec.name
    if target.is_file():
        if verify(target, spec) is None:
            return target
        target.unlink()  # a corrupted cache entry is refetched, never used
    target.parent.mkdir(parents=True, exist_ok=True)
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    problems = []
    for source in _sources(dataset, spec, mirror):
        problem = _try_source(source, target, spec)
        if problem is None:
            return target
        problems.append(problem)
    raise DataError(f"could not fetch {dataset}/{spec.name}: " + "; ".join(problems) +
                    f"; check your connection or set {MIRROR_ENV} to a folder or URL with a copy")


def fetch(name: str, *, registry: Registry | None = None, cache: str | Path | None = None,
          mirror: str | None = None) -> list[Path]:
    """Fetch every file of a data set; returns their cached paths."""
    spec = _spec(name, registry)
    return [fetch_file(name, f, cache=cache, mirror=mirror) for f in spec.files]


def dataset_path(name: str, file: str | None = None, *, registry: Registry | None = None,
                 cache: str | Path | None = None, mirror: str | None = None) -> Path:
    """Path of one verified file of a data set (``file`` may be omitted for one-file data sets)."""
    spec = _spec(name, registry)
    return fetch_file(name, spec.file(file), cache=cache, mirror=mirror)


# ---------------------------------------------------------------- loaders

IDX_IMAGES, IDX_LABELS = 2051, 2049
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an idx file (optionally .gz): big-endian header, then uint8 data."""
    opener: Callable = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an idx file of unsigned bytes; delete it from the cache and fetch again")
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path}: idx header says {shape} but holds {body.size} values; the file is truncated")
    return body.reshape(shape)


def load_mnist(split: str = "train", *, name: str = "mnist", limit: int | None = None,
               registry: Registry | None = None, cache: str | Path | None = None,
               mirror: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style images and labels.

    Args:
        split: "train" (60,000) or "test" (10,000).
        name: a data set with the four idx files (e.g. "mnist").
        limit: keep only the first ``limit`` examples.
    Returns:
        images: (N, 28, 28) uint8 in [0, 255]; labels: (N,) int64 in [0, 9].
    """
    if split not in SPLIT_PREFIX:
        raise DataError(f"split must be 'train' or 'test', not {split!r}")
    prefix = SPLIT_PREFIX[split]
    images = read_idx(dataset_path(name, f"{prefix}-images-idx3-ubyte.gz", registry=registry, cache=cache, mirror=mirror))
    labels = read_idx(dataset_path(name, f"{prefix}-labels-idx1-ubyte.gz", registry=registry, cache=cache, mirror=mirror))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{name} {split}: images {images.shape} and labels {labels.shape} do not match")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.copy(), labels.astype(np.int64)


def load_text(name: str, file: str | None = None, *, encoding: str = "utf-8", registry: Registry | None = None,
              cache: str | Path | None = None, mirror: str | None = None) -> str:
    """A text file of a data set as one string (e.g. ``load_text("tinyshakespeare")``)."""
    path = dataset_path(name, file, registry=registry, cache=cache, mirror=mirror)
    return path.read_text(encoding=encoding)


__all__ = ["DataError", "DatasetSpec", "FileSpec", "cache_dir", "dataset_path", "fetch", "fetch_file",
           "load_mnist", "load_registry", "load_text", "parse_registry", "read_idx", "verify"]
