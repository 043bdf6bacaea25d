"""Where a milestone's pieces live, relative to course.yaml (one place, so nobody guesses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coursekit.config.schema import Milestone


@dataclass(frozen=True)
class MilestonePaths:
    root: Path
    source_notebook: Path
    public_tests: Path
    hidden_suite: Path
    release_dir: Path
    release_notebook: Path
    reference_dir: Path
    mutants: Path

    @classmethod
    def of(cls, course_file: Path, milestone: Milestone) -> "MilestonePaths":
        root = Path(course_file).resolve().parent
        notebook = root / milestone.notebook
        release = root / "release" / milestone.id
        return cls(root=root, source_notebook=notebook, public_tests=notebook.parent / "tests",
                   hidden_suite=root / "autograder" / "suites" / milestone.id, release_dir=release,
                   release_notebook=release / notebook.name, reference_dir=root / "reference" / milestone.id,
                   mutants=root / "tests" / "mutants" / f"{milestone.id}.yaml")
