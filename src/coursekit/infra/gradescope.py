"""Gradescope: package a milestone's autograder, and run it inside Gradescope's container.

Gradescope's contract: the zip holds ``setup.sh`` (run once, as root, at image build) and
``run_autograder`` (run per submission) at its top level and is unpacked in
``/autograder/source``; the submission is in ``/autograder/submission`` with
``/autograder/submission_metadata.json`` beside it; the score goes to
``/autograder/results/results.json``.

The zip carries only what grading needs: the kit (``src/``, ``pyproject.toml``, the lock), and
of the course ``course.yaml`` (this milestone only), its hidden suite, its public tests and its
*release* notebook. Never a source notebook: those hold the solutions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Any, Iterable


from coursekit.config.loader import load_course
from coursekit.grading.results_model import Results
from coursekit.infra.bundle import course_bundle, gradable, tree
from coursekit.infra.lock import lock_path, parse_lock

FILES = Path(__file__).with_name("gradescope_files")
SCHEMA = Path(__file__).with_name("gradescope_results.schema.json")
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can store: same bytes on every build


class PackageError(Exception):
    """The package cannot be built; one line saying what to fix."""


def kit_root_for(course_root: Path) -> Path:
    """The kit's repository (pyproject.toml, src/, infra/): the course's own folder, else this kit's checkout."""
    import coursekit

    for candidate in (course_root, Path(coursekit.__file__).resolve().parents[2]):
        if (candidate / "pyproject.toml").is_file() and (candidate / "src" / "coursekit").is_dir():
            return candidate
    raise PackageError(f"cannot find the kit's source (pyproject.toml + src/coursekit) next to {course_root}; "
                       f"package from a checkout of the kit")


def package_contents(course_file: Path, milestone_id: str, kit_root: Path | None = None) -> dict[str, Path | bytes]:
    """Zip path -> file (or bytes) for one milestone's Gradescope autograder."""
    course = load_course(course_file, check_files=False)
    root = course_file.resolve().parent
    kit = kit_root or kit_root_for(root)
    milestone = course.milestone(milestone_id, error=PackageError)
    problem = gradable(course_file, milestone_id)
    if problem:
        raise PackageError(f"cannot package {milestone_id}: {problem}")
    if milestone.needs == "gpu" and course.course.on_missing_gpu == "fail":
        raise PackageError(f"{milestone_id} needs a GPU, Gradescope has none, and course.yaml says "
                           f"on_missing_gpu: fail; grade it with the CUDA image instead (infra/README.md)")
    lock = lock_path(kit)
    if not lock.is_file():
        raise PackageError(f"{lock} is missing; generate it with `course image lock`")
    for needed in ("pyproject.toml", "README.md"):
        if not (kit / needed).is_file():
            raise PackageError(f"{kit / needed} is missing but installing the kit needs it; restore it")
    contents: dict[str, Path | bytes] = {
        "setup.sh": FILES / "setup.sh",
        "run_autograder": FILES / "run_autograder.sh",  # *.sh: shipped as package data
        "kit/pyproject.toml": kit / "pyproject.toml",
        "kit/README.md": kit / "README.md",
        "kit/requirements.lock": lock,
    }
    contents.update(tree(kit / "src", "kit/src"))
    contents.update({f"course/{name}": source for name, source in course_bundle(course_file, [milestone_id]).items()})
    manifest = {
        "milestone": milestone_id,
        "needs": milestone.needs,
        "datasets": " ".join(milestone.datasets),
        "torch": parse_lock(lock.read_text(encoding="utf-8"))["torch"],
    }
    contents["gradescope.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return contents


def needs_gpu(course_file: Path, milestone_id: str) -> bool:
    return load_course(course_file, check_files=False).milestone(milestone_id).needs == "gpu"


def _mode(name: str) -> int:
    executable = name in {"setup.sh", "run_autograder"}
    return (0o100755 if executable else 0o100644) << 16


def write_zip(contents: dict[str, Path | bytes], out: Path) -> str:
    """Write a reproducible zip (sorted entries, fixed time and modes); returns its sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(contents):
            source = contents[name]
            data = source if isinstance(source, bytes) else source.read_bytes()
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.create_system = 3  # Unix, so external_attr's permission bits are honoured
            info.external_attr = _mode(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def package(course_file: Path, milestone_id: str, out: Path | None = None,
            kit_root: Path | None = None) -> tuple[Path, str]:
    """Build ``<out>`` (default ``dist/gradescope/<id>.zip`` beside course.yaml); returns (path, sha256)."""
    contents = package_contents(course_file, milestone_id, kit_root)
    out = out or course_file.resolve().parent / "dist" / "gradescope" / f"{milestone_id}.zip"
    return out, write_zip(contents, out)


# --- inside Gradescope's container -------------------------------------------------------------

def _student(metadata: dict[str, Any]) -> str:
    users = metadata.get("users") or []
    email = (users[0].get("email") or "") if users else ""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", email.split("@", 1)[0]).strip("-.")
    return slug or "submission"


def _submitted_at(metadata: dict[str, Any]) -> dt.datetime | None:
    created = metadata.get("created_at")
    if not created:
        return None
    stamp = dt.datetime.fromisoformat(created)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def find_notebook(submission: Path, milestone_id: str) -> Path:
    """The notebook to grade: ``<id>.ipynb`` if uploaded, else the only .ipynb; ValueError otherwise."""
    links = sorted(p.relative_to(submission).as_posix() for p in submission.rglob("*") if p.is_symlink())
    if links:  # Gradescope unpacks uploaded zips: a link could point at files of the autograder itself
        raise ValueError(f"your upload holds a symbolic link ({ascii(links[0])}), which is never followed; "
                         f"upload {milestone_id}.ipynb itself")
    notebooks = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    exact = [p for p in notebooks if p.name == f"{milestone_id}.ipynb"]
    if exact:
        return exact[0]
    if len(notebooks) == 1:
        return notebooks[0]
    if not notebooks:
        raise ValueError(f"no .ipynb in your submission; upload {milestone_id}.ipynb (JupyterLab: File > Download)")
    names = ", ".join(p.name for p in notebooks)
    raise ValueError(f"several notebooks uploaded ({names}); upload only {milestone_id}.ipynb")


def error_results(milestone_id: str, student: str, message: str) -> dict[str, Any]:
    """A valid results.json when grading could not happen (Gradescope shows `output`)."""
    return {
        "score": 0.0,
        "output": message,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"milestone": milestone_id, "student": student,
                       "grader": {"status": "error", "error": message}},
    }


def run(root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns the results."""
    source = root / "source"
    manifest = json.loads((source / "gradescope.json").read_text(encoding="utf-8"))
    milestone_id = manifest["milestone"]
    metadata_file = root / "submission_metadata.json"
    metadata = json.loads(metadata_file.read_text(encoding="utf-8")) if metadata_file.is_file() else {}
    student = _student(metadata)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        notebook = find_notebook(root / "submission", milestone_id)
    except ValueError as exc:
        results = error_results(milestone_id, student, f"Not graded: {exc}.")
    else:
        from coursekit.infra.gradescope_view import to_gradescope

        course_file = source / "course" / "course.yaml"
        graded = _grade(course_file, milestone_id, notebook, student, _submitted_at(metadata), results_dir)
        if not isinstance(graded, dict):  # graded (a Results); a dict is error_results' message
            course = load_course(course_file, check_files=False)
            # Gradescope's due date (and the student's extension there) decides lateness on Gradescope.
            results = to_gradescope(graded, metadata=metadata,
                                    policy=course.late_policy_for(course.milestone(milestone_id)))
        else:
            results = graded
    (results_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


def _grade(course_file: Path, milestone_id: str, notebook: Path, student: str,
           submitted_at: dt.datetime | None, results_dir: Path) -> Results | dict[str, Any]:
    import tempfile

    from coursekit.grading.api import grade_one

    with tempfile.TemporaryDirectory(prefix="coursekit-gs-") as tmp:
        try:
            return grade_one(course_file=course_file, milestone_id=milestone_id, notebook=notebook,
                             student=student, out_dir=Path(tmp), device="auto", submitted_at=submitted_at,
                             time_source="gradescope")
        except Exception:  # noqa: BLE001 - the student must get a results.json whatever broke
            traceback.print_exc()  # stdout/stderr are hidden from students on Gradescope
            return error_results(milestone_id, student, "The autograder failed on this submission (not your "
                                 "fault, nothing was scored). Staff have the log; please tell them.")


def validate_results(results: dict[str, Any]) -> list[str]:
    """Problems of a results dict against Gradescope's schema (empty if valid)."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(results)]


def _main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit.infra.gradescope")
    sub = parser.add_subparsers(dest="verb", required=True)
    run_parser = sub.add_parser("run", help="grade the submission in a Gradescope layout")
    run_parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(list(argv) if argv is not None else None)
    results = run(args.root)
    print(f"score {results.get('score')} -> {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
