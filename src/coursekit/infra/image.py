"""``course image build``: the exact ``docker build`` for the autograder images."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from coursekit.infra.lock import cuda_lock_problems, lock_path, parse_lock

IMAGE_NAME = "zero-to-llm-grader"


class ImageError(Exception):
    """The image cannot be built; the message is one line saying what to do."""


@dataclass(frozen=True)
class BuildPlan:
    dockerfile: Path
    tag: str
    context: Path
    build_args: dict[str, str]

    def argv(self, docker: str = "docker") -> list[str]:
        argv = [docker, "build", "--file", str(self.dockerfile), "--tag", self.tag]
        for key, value in sorted(self.build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        return argv + [str(self.context)]

    def command(self) -> str:
        return shlex.join(self.argv())


def dockerfile_for(root: Path, gpu: bool) -> Path:
    return root / "infra" / ("Dockerfile.cuda" if gpu else "Dockerfile.cpu")


def dockerfile_arg(dockerfile: Path, name: str) -> str | None:
    """The default of ``ARG name=...`` in a Dockerfile (None if absent)."""
    match = re.search(rf"^ARG {re.escape(name)}=\"?([^\"\n]*)\"?$", dockerfile.read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else None


def kit_version(root: Path) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def default_tag(root: Path, gpu: bool) -> str:
    return f"{IMAGE_NAME}:{kit_version(root)}-{'cuda' if gpu else 'cpu'}"


def plan_build(root: Path, *, gpu: bool, tag: str | None = None, datasets: list[str] | None = None) -> BuildPlan:
    """Check the inputs of a build and return what ``docker build`` will be run with."""
    dockerfile = dockerfile_for(root, gpu)
    if not dockerfile.is_file():
        raise ImageError(f"{dockerfile} is missing; run from the course repository root (it has infra/)")
    lock = lock_path(root)
    if not lock.is_file():
        raise ImageError(f"{lock} is missing; generate it with `course image lock`")
    torch_locked = parse_lock(lock.read_text(encoding="utf-8")).get("torch")
    torch_arg = dockerfile_arg(dockerfile, "TORCH_VERSION")
    if torch_locked != torch_arg:
        raise ImageError(f"{dockerfile.name} builds torch {torch_arg} but the lock pins {torch_locked}; "
                         f"set `ARG TORCH_VERSION={torch_locked}` in {dockerfile.name}")
    if gpu and (problems := cuda_lock_problems(root)):
        raise ImageError(f"infra/requirements-cuda.lock: {problems[0]}")
    for needed in ("README.md", "course.yaml", "src"):
        if not (root / needed).exists():
            raise ImageError(f"{root / needed} is missing but the image copies it; create it or build from the repo root")
    if datasets:
        from coursekit.config.loader import load_course

        declared = load_course(root / "course.yaml", check_files=False).datasets
        unknown = [name for name in datasets if name not in declared]
        if unknown:
            raise ImageError(f"--dataset {unknown[0]}: not declared under `datasets:` in course.yaml "
                             f"(declared: {', '.join(sorted(declared)) or 'none'})")
    args = {"BAKE_DATASETS": " ".join(datasets)} if datasets else {}
    return BuildPlan(dockerfile=dockerfile.relative_to(root) if dockerfile.is_relative_to(root) else dockerfile,
                     tag=tag or default_tag(root, gpu), context=Path("."), build_args=args)


def docker_available(docker: str = "docker") -> str:
    """Path of the docker client, after checking an engine answers; ImageError otherwise."""
    client = shutil.which(docker)
    if client is None:
        raise ImageError("no `docker` client on PATH; install Docker (or use --dry-run to print the build command)")
    probe = subprocess.run([client, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                           timeout=30, check=False)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        raise ImageError(f"no Docker engine reachable ({reason}); start dockerd or set DOCKER_HOST, "
                         f"or use --dry-run to print the build command")
    return client


def build(root: Path, plan: BuildPlan, docker: str = "docker") -> int:
    """Run the build (BuildKit, so the per-Dockerfile .dockerignore applies); returns docker's exit code."""
    client = docker_available(docker)
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    return subprocess.run(plan.argv(client), cwd=root, env=env, check=False).returncode
