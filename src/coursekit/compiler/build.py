"""Plan, write and check the student release tree.

The release is computed as a mapping ``relative path -> bytes`` (a *plan*) before anything is
written, so ``course release`` and ``course release --check`` share one code path: writing
is "make release/ equal the plan", checking is "diff release/ against the plan".
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from coursekit.compiler.notebook import compile_file
from coursekit.config import Course, Milestone

# Never copied from source/<id>/ into the release: the source notebook itself (its compiled
# version is written instead), editor/cache litter, and anything whose name says it is a
# solution (``solution.py``, ``solutions/``) -- a convention authors can rely on.
LITTER = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store", "*.pyc", ".*")
EXCLUDE_NAMES = (*LITTER, "*solution*", "*Solution*", "*SOLUTION*")
PACKAGE = "coursekit_student"
TOP_LEVEL = ("pyproject.toml", "README.md", "datasets.json")
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("coursekit.compiler", "templates"),
    keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)


class ReleaseError(ValueError):
    """The release cannot be built; one-line message naming what and how to fix."""


@dataclass
class Plan:
    """What release/ should contain, and which folders the plan owns (extras there are stale)."""

    files: dict[str, bytes] = field(default_factory=dict)
    owned_dirs: list[str] = field(default_factory=list)

    def add(self, rel: str, data: bytes) -> None:
        self.files[rel] = data


def _litter(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in LITTER)


def _excluded(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in EXCLUDE_NAMES)


def _walk(root: Path) -> list[Path]:
    """Files under root, sorted, skipping excluded names at every level."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _excluded(d))
        found += [Path(dirpath) / f for f in sorted(filenames) if not _excluded(f)]
    return found


def plan_milestone(plan: Plan, course_root: Path, milestone: Milestone) -> None:
    notebook = (course_root / milestone.notebook).resolve()
    if not notebook.is_file():
        raise ReleaseError(f"{milestone.notebook}: source notebook of {milestone.id} does not exist; "
                           f"create it or fix `notebook:` in course.yaml")
    source_dir = notebook.parent
    out = milestone.id
    plan.owned_dirs.append(out)
    plan.add(f"{out}/{milestone.id}.ipynb",
             compile_file(notebook, label=milestone.notebook, part_points=dict(milestone.parts)))
    for path in _walk(source_dir):
        if path == notebook:
            continue
        rel = path.relative_to(source_dir).as_posix()
        label = f"{Path(milestone.notebook).parent.as_posix()}/{rel}"
        # Helper notebooks go through the same pipeline: they may hold solution regions too.
        data = compile_file(path, label=label) if path.suffix == ".ipynb" else path.read_bytes()
        plan.add(f"{out}/{rel}", data)


# What a student's environment needs, as ranges; pinned to the grader's exact versions when the kit's
# lock is at hand, so a notebook that passes check() at home meets the same libraries when graded.
STUDENT_REQUIREMENTS = {"numpy": ">=1.26", "scipy": ">=1.11", "scikit-learn": ">=1.3", "matplotlib": ">=3.8",
                        "torch": ">=2.4", "regex": ">=2023", "jupyterlab": ">=4", "ipykernel": ">=6.25",
                        "gymnasium": ">=1.0", "ipywidgets": ">=8", "nbformat": ">=5.9", "nbclient": ">=0.9", "pytest": ">=8"}


def _lock_pins(course_root: Path) -> dict[str, str]:
    from coursekit.infra.lock import LockError, lock_path, parse_lock

    kit_root = Path(__import__("coursekit").__file__).resolve().parents[2]
    for root in (course_root, kit_root):
        path = lock_path(root)
        if path.is_file():
            try:
                return parse_lock(path.read_text(encoding="utf-8"))
            except LockError:
                return {}
    return {}


def student_dependencies(course_root: Path) -> list[str]:
    pins = _lock_pins(course_root)
    return [f"{name}=={pins[name]}" if name in pins else f"{name}{spec}" for name, spec in STUDENT_REQUIREMENTS.items()]


def _torch_pin(course_root: Path) -> str:
    return _lock_pins(course_root).get("torch", "")


def plan_package(plan: Plan, course: Course, course_root: Path | None = None) -> None:
    """The student package (coursekit_student), its pyproject, datasets.json and README."""
    package_dir = Path(__import__(PACKAGE).__file__).parent
    plan.owned_dirs.append(PACKAGE)
    for path in _walk(package_dir):
        plan.add(f"{PACKAGE}/{path.relative_to(package_dir).as_posix()}", path.read_bytes())
    datasets = {name: spec.model_dump(mode="json") for name, spec in course.datasets.items()}
    datasets_json = (json.dumps(datasets, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    plan.add("datasets.json", datasets_json)
    # Installed students have no release/ folder around their notebooks; ship the registry inside too.
    plan.add(f"{PACKAGE}/datasets.json", datasets_json)
    course_root = course_root or Path.cwd()
    version = __import__(PACKAGE).__version__
    context = {"course": course, "version": version, "package": PACKAGE,
               "dependencies": student_dependencies(course_root), "torch": _torch_pin(course_root)}
    for name in ("pyproject.toml", "README.md"):
        plan.add(name, TEMPLATES.get_template(f"{name}.j2").render(**context).encode())


def select(course: Course, ids: tuple[str, ...] | list[str]) -> list[Milestone]:
    if not ids:
        return list(course.milestones)
    return [course.milestone(i, error=ReleaseError) for i in ids]


def make_plan(course: Course, course_root: Path, milestones: list[Milestone]) -> Plan:
    plan = Plan()
    for milestone in milestones:
        plan_milestone(plan, course_root, milestone)
    plan_package(plan, course, course_root)
    return plan


# ---------------------------------------------------------------- comparing and writing


@dataclass
class Diff:
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra)

    def summary(self, release_name: str = "release") -> str:
        lines = []
        for kind, paths in (("changed", self.changed), ("missing", self.missing), ("extra", self.extra)):
            for rel in paths:
                detail = self.details.get(rel)
                lines.append(f"  {kind:8} {release_name}/{rel}" + (f"\n{detail}" if detail else ""))
        return "\n".join(lines)


def _first_difference(old: bytes, new: bytes) -> str:
    """The first differing lines, unified-diff style, indented; enough to see why it is stale."""
    try:
        a, b = old.decode("utf-8").splitlines(), new.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return f"           binary: {len(old)} bytes on disk, {len(new)} bytes expected"
    hunk = [line for line in difflib.unified_diff(a, b, "on disk", "expected", n=0, lineterm="")][2:8]
    return "\n".join(f"           {line[:160]}" for line in hunk)


def _existing(release: Path, plan: Plan, milestone_ids: list[str], all_milestones: bool) -> set[str]:
    """Files currently in the parts of release/ this plan is responsible for."""
    found: set[str] = set()
    roots = [release / d for d in plan.owned_dirs]
    if all_milestones:
        # A milestone folder left over after a rename or removal from course.yaml is stale too.
        roots += [p for p in release.glob("m[0-9][0-9]-*") if p.is_dir() and p.name not in milestone_ids]
    for root in roots:
        if root.is_dir():
            # Editor/runtime litter (a student's .course/ progress, caches) is neither built nor stale;
            # a stray solution file is stale and gets removed.
            found |= {p.relative_to(release).as_posix() for p in root.rglob("*")
                      if p.is_file() and not any(_litter(part) for part in p.relative_to(release).parts)}
    found |= {name for name in TOP_LEVEL if (release / name).is_file()}
    return found


def diff_release(release: Path, plan: Plan, *, all_milestones: bool) -> Diff:
    ids = [d for d in plan.owned_dirs if d != PACKAGE]
    existing = _existing(release, plan, ids, all_milestones)
    diff = Diff()
    for rel, data in sorted(plan.files.items()):
        path = release / rel
        if rel not in existing:
            diff.missing.append(rel)
        elif path.read_bytes() != data:
            diff.changed.append(rel)
            diff.details[rel] = _first_difference(path.read_bytes(), data)
    diff.extra = sorted(existing - set(plan.files))
    return diff


def write_release(release: Path, plan: Plan, diff: Diff) -> None:
    """Make release/ equal the plan, touching only files that differ (so mtimes stay meaningful)."""
    for rel in diff.changed + diff.missing:
        path = release / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp-release")
        tmp.write_bytes(plan.files[rel])
        os.replace(tmp, path)
    for rel in diff.extra:
        (release / rel).unlink()
    for directory in sorted({(release / rel).parent for rel in diff.extra}, key=lambda p: -len(p.parts)):
        while directory != release and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent
