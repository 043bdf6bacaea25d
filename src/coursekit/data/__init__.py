"""Instructor/grader side of the data layer: the registry comes from course.yaml.

The fetching, verification and loaders live in ``coursekit_student.data`` (students need
them too); this module only adapts course.yaml to them and adds ``load_dataset`` for hidden
suites (trusted side: labels and held-out data never go to the student's process).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursekit.config import Course, load_course
from coursekit_student.data import (CACHE_ENV, MIRROR_ENV, DataError, FileSpec, Registry, cache_dir, fetch,
                                    fetch_file, load_mnist, parse_registry, read_idx, verify)

COURSE_ENV = "COURSE_FILE"
TEXT_SUFFIXES = (".txt", ".en", ".tsv", ".csv", ".md", ".all", ".train", ".dev", ".test")


def registry_for(course: Course) -> Registry:
    return parse_registry({name: spec.model_dump(mode="json") for name, spec in course.datasets.items()})


def find_course_file(course_file: str | Path | None = None) -> Path:
    """``course_file``, else $COURSE_FILE, else course.yaml in the working directory or above it,
    else the one of this checkout (hidden suites run from anywhere)."""
    if course_file:
        return Path(course_file)
    if os.environ.get(COURSE_ENV):
        return Path(os.environ[COURSE_ENV])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "course.yaml").is_file():
            return folder / "course.yaml"
    return Path(__file__).resolve().parents[3] / "course.yaml"


def default_mirror(course_root: Path) -> str | None:
    """$COURSE_DATA_MIRROR, else a ``shared/data`` folder next to the course checkout (the
    department's read-only copy), else None (download from the declared URLs)."""
    if os.environ.get(MIRROR_ENV):
        return os.environ[MIRROR_ENV]
    shared = course_root.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


@dataclass
class FileStatus:
    dataset: str
    file: FileSpec
    path: Path
    state: str  # "ok", "missing" or what verify() found wrong


def status(course: Course, cache: str | Path | None = None, names: list[str] | None = None) -> list[FileStatus]:
    """Where each declared file stands in the cache (verifies the cached bytes)."""
    rows = []
    for name, spec in registry_for(course).items():
        if names and name not in names:
            continue
        for file in spec.files:
            path = cache_dir(cache) / name / file.name
            state = "missing" if not path.is_file() else (verify(path, file) or "ok")
            rows.append(FileStatus(name, file, path, state))
    return rows


def fetch_all(course: Course, names: list[str] | None = None, *, cache: str | Path | None = None,
              mirror: str | None = None) -> dict[str, list[Path]]:
    registry = registry_for(course)
    unknown = [n for n in names or [] if n not in registry]
    if unknown:
        raise DataError(f"unknown dataset {unknown[0]!r}; course.yaml declares: {', '.join(sorted(registry))}")
    return {name: fetch(name, registry=registry, cache=cache, mirror=mirror) for name in names or list(registry)}


def _load_file(path: Path) -> Any:
    if path.suffix == ".json":
        import json

        return json.loads(path.read_text(encoding="utf-8"))
    if path.suffix in TEXT_SUFFIXES or not path.suffix:
        return path.read_text(encoding="utf-8", errors="replace")
    return path


def load_dataset(name: str, *, course_file: str | Path | None = None, cache: str | Path | None = None,
                 mirror: str | None = None) -> dict[str, Any]:
    """A whole data set, verified, for hidden tests (trusted side).

    MNIST-style sets (idx files) give ``{"train": (images, labels), "test": (images, labels)}``
    with uint8 (N, 28, 28) images and int64 labels. Other sets give ``{file name: content}``:
    text files as str, .json parsed, anything else as its cached Path.
    """
    path = find_course_file(course_file)
    course = load_course(path, check_files=False)
    registry = registry_for(course)
    if name not in registry:
        raise DataError(f"unknown dataset {name!r}; {path} declares: {', '.join(sorted(registry)) or 'none'}")
    mirror = mirror if mirror is not None else default_mirror(path.resolve().parent)
    files = registry[name].files
    if files and all("-idx" in f.name for f in files):
        return {split: load_mnist(split, name=name, registry=registry, cache=cache, mirror=mirror)
                for split in ("train", "test")}
    return {f.name: _load_file(fetch_file(name, f, cache=cache, mirror=mirror)) for f in files}


__all__ = ["CACHE_ENV", "MIRROR_ENV", "DataError", "FileStatus", "default_mirror", "fetch_all", "find_course_file",
           "load_dataset", "read_idx", "registry_for", "status"]
