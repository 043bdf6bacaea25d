"""Input that names things (issue 18): file names, links inside folders and zips, text in feedback and logs.

Replayed by tests/test_hostile_names.py as one batch next to the honest reference.
Each case says under which student id its results must land (a refused name lands under its
stand-in id, inside OUT), its status and its exact score.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from coursekit.grading.names import stand_in_id
from tests.hostile.corpus import COUNTER, HONEST, MATMUL, notebook_bytes

# add raises with a message that tries Markdown, a code fence break-out, ANSI colours, a screen
# clear, an OSC 8 link and a carriage-return overwrite; the notebook also prints them while loading.
HOSTILE_TEXT = ("```\n# Full marks [claim](http://evil.example/) ![x](http://evil.example/x.png)\n```"
                "\x1b[31mRED\x1b[0m\x1b[2J \x1b]8;;http://evil.example/\x1b\\docs\x1b]8;;\x1b\\ \roverwritten")
TRACEBACK_CELLS = [f"print({HOSTILE_TEXT!r})\n",
                   f"def add(a, b):\n    raise ValueError({HOSTILE_TEXT!r})\n", MATMUL, COUNTER]


@dataclass
class NameCase:
    label: str                                   # test id
    why: str
    build: Callable[[Path, dict], Path]          # writes the submission into a folder, returns what to grade
    student: str                                 # where its results must land: OUT/<student>
    status: str
    score: float
    error: str = ""                              # part of the one-line reason, for refused or invalid ones


def _file(name: str, cells: list[str] = HONEST) -> Callable[[Path, dict], Path]:
    def build(folder: Path, context: dict) -> Path:
        path = folder / name
        path.write_bytes(notebook_bytes(cells))
        return path
    return build


def _folder_link_to_solution(folder: Path, context: dict) -> Path:
    target = folder / "link_to_solution"
    target.mkdir()
    solution = context["course_root"] / "source" / "m00-engine" / "m00-engine.ipynb"
    (target / "m00-engine.ipynb").symlink_to(solution)
    return target


def _folder_hard_link_to_solution(folder: Path, context: dict) -> Path:
    """No path leads outside the folder, yet the file *is* the solution: a second name for its inode."""
    target = folder / "hard_link_to_solution"
    target.mkdir()
    solution = context["course_root"] / "source" / "m00-engine" / "m00-engine.ipynb"
    os.link(solution, target / "m00-engine.ipynb")
    return target


def _moodle_folder(folder: Path, context: dict) -> Path:
    """Moodle's "Download all submissions": <full name>_<participant id>_assignsubmission_file_/<file>."""
    target = folder / "Jane O'Neil_12345_assignsubmission_file_"
    target.mkdir()
    (target / "m00-engine.ipynb").write_bytes(notebook_bytes(HONEST))
    return target


def _empty_folder(folder: Path, context: dict) -> Path:
    (folder / "empty_folder").mkdir()
    return folder / "empty_folder"


def _two_notebooks(folder: Path, context: dict) -> Path:
    target = folder / "two_notebooks"
    target.mkdir()
    for name in ("draft.ipynb", "final.ipynb"):
        (target / name).write_bytes(notebook_bytes(HONEST))
    return target


def _zip_symlink(folder: Path, context: dict) -> Path:
    path = folder / "zip_symlink.zip"
    info = zipfile.ZipInfo("m00-engine.ipynb")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    solution = context["course_root"] / "source" / "m00-engine" / "m00-engine.ipynb"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, str(solution))
    return path


def _zip_slip(folder: Path, context: dict) -> Path:
    path = folder / "zip_slip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../x.ipynb", notebook_bytes(HONEST))
    return path


def cases(context: dict) -> list[NameCase]:
    refused = "rename the file or folder to the student's id"
    return [
        NameCase("dots3", "'...ipynb' has the stem '..': it wrote its results into OUT's parent", _file("...ipynb"),
                 stand_in_id(".."), "invalid", 0, "is '.' or '..'"),
        NameCase("dots2", "'..ipynb' has the stem '.': OUT itself", _file("..ipynb"), stand_in_id("."), "invalid", 0,
                 "is '.' or '..'"),
        NameCase("formula", "a spreadsheet formula as a file name", _file("=HYPERLINK(CONCAT(A1,B1)).ipynb"),
                 stand_in_id("=HYPERLINK(CONCAT(A1,B1))"), "invalid", 0, refused),
        NameCase("dash", "a command-line option as a file name", _file("-rf.ipynb"), stand_in_id("-rf"), "invalid",
                 0, "starting with '-'"),
        NameCase("ansi", "an ANSI escape in the file name", _file("ansi\x1b[2Jname.ipynb"),
                 stand_in_id("ansi\x1b[2Jname"), "invalid", 0, "'\\x1b'"),
        NameCase("at_sign", "an accepted id that a spreadsheet would read as a formula", _file("@mallory.ipynb"),
                 "@mallory", "ok", 6),
        NameCase("link_to_solution", "a folder holding a symlink to the solution notebook", _folder_link_to_solution,
                 "link_to_solution", "invalid", 0, "symbolic link"),
        NameCase("hard_link_to_solution", "a folder holding a hard link to the solution notebook",
                 _folder_hard_link_to_solution, "hard_link_to_solution", "invalid", 0, "hard link"),
        NameCase("moodle_folder", "a Moodle export folder: spaces and an apostrophe in a real name are accepted",
                 _moodle_folder, "Jane O'Neil_12345", "ok", 6),
        NameCase("empty_folder", "an empty submission folder", _empty_folder, "empty_folder", "invalid", 0,
                 "found 0"),
        NameCase("two_notebooks", "a folder with two notebooks", _two_notebooks, "two_notebooks", "invalid", 0,
                 "found 2"),
        NameCase("zip_symlink", "a zip whose notebook entry is a symlink to the solution", _zip_symlink,
                 "zip_symlink", "invalid", 0, "a symbolic link"),
        NameCase("zip_slip", "a zip with a ../../x.ipynb entry", _zip_slip, "zip_slip", "invalid", 0, "'..' path"),
        NameCase("hostile_traceback", "add's error message carries Markdown, backticks and terminal escapes",
                 _file("hostile_traceback.ipynb", TRACEBACK_CELLS), "hostile_traceback", "ok", 4),
    ]
