"""Student ids from file and folder names: what is accepted, and where its results may go.

A student id names the folder ``OUT/<id>`` that the grader writes into, a row in the gradebook and
a page on the dashboard, and it is typed into spreadsheets and terminals. File names come from
students (an upload keeps the name they chose), so an id is accepted only from a safe alphabet:
letters and digits (any script, NFC-normalised so macOS and Linux spell it the same way) and
``. _ - @ +``, not starting with ``.`` or ``-`` (hidden files, ``.``/``..``, command-line
options), at most :data:`MAX_ID_CHARS` characters. Person names as LMSs write them are accepted
too: single spaces and apostrophes *between* other characters (Moodle's "Download all submissions"
names a folder ``Jane O'Neil_12345_assignsubmission_file_``); a leading, trailing or doubled space
is refused, because two ids that differ only there look the same in every table. Anything else
(``/``, NUL, tabs and other control characters, ANSI escapes, ``=`` formulas) is refused with a
one-line reason; the batch grades it as an "invalid" submission under a stand-in id
(:func:`stand_in_id`) so nothing of it is lost.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

MAX_ID_CHARS = 100
MAX_ID_BYTES = 200            # file systems allow 255 bytes per name; leave room for ".tmp" suffixes
PUNCTUATION = frozenset("._-@+")
INNER_ONLY = frozenset(" '\u2019")  # a space, ' and ’ (O’Neil): only between two other characters
STAND_IN_PREFIX = "invalid-name-"
# What an LMS export appends to the student's part of a name: Gradescope-style "-submission",
# Moodle's file-submission folders "<full name>_<participant id>_assignsubmission_file_".
LMS_SUFFIXES = ("-submission", "_assignsubmission_file_")


class StudentIdError(ValueError):
    """A file or folder name that cannot be a student id; the message says why and what to rename."""


def shown(name: str) -> str:
    """A name as it may be printed: ``ascii()`` shows control characters and escapes as ``\\x1b``."""
    text = ascii(name)
    return text if len(text) <= 80 else text[:77] + "...'"


def check_student_id(name: str) -> str:
    """The student id for ``name`` (NFC-normalised), or StudentIdError saying what is wrong with it."""
    student = unicodedata.normalize("NFC", name)
    fix = ("rename the file or folder to the student's id (letters, digits and . _ - @ +, single spaces "
           "between words) and grade it again")
    if not student:
        raise StudentIdError(f"the file name gives an empty student id; {fix}")
    if student[0] in ".-":
        what = "'.' or '..'" if set(student) == {"."} else f"a name starting with {student[0]!r}"
        raise StudentIdError(f"the student id {shown(student)} is {what}, which is not allowed; {fix}")
    if student[0] in INNER_ONLY or student[-1] in INNER_ONLY or "  " in student:
        raise StudentIdError(f"the student id {shown(student)} starts or ends with a space or quote, or has two "
                             f"spaces in a row, which is not allowed; {fix}")
    bad = sorted({ch for ch in student if not (ch.isalnum() or ch in PUNCTUATION or ch in INNER_ONLY)})
    if bad:
        listed = " ".join(ascii(ch) for ch in bad[:8])
        raise StudentIdError(f"the student id {shown(student)} has characters that are not allowed ({listed}); {fix}")
    if len(student) > MAX_ID_CHARS or len(student.encode("utf-8")) > MAX_ID_BYTES:
        raise StudentIdError(f"the student id {shown(student)} is longer than {MAX_ID_CHARS} characters; {fix}")
    return student


def student_id_of(name: str) -> str:
    """The student id for a submission's file stem or folder name, without an LMS export's suffix."""
    for suffix in LMS_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return check_student_id(name.removesuffix(suffix))
    return check_student_id(name)


def stand_in_id(name: str) -> str:
    """A safe, stable id for a refused name (the same name always maps to the same folder)."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{STAND_IN_PREFIX}{digest}"


def out_folder(out_dir: Path, student: str) -> Path:
    """``OUT/<student>``, checked to be a direct child of OUT once both are resolved.

    The alphabet already excludes ``/`` and ``..``; this is the second lock, and it also refuses an
    ``OUT/<student>`` that exists as a symlink pointing elsewhere (left there by anyone).
    """
    root = Path(out_dir).resolve()
    target = root / student
    if target.resolve().parent != root or target.name != student:
        raise StudentIdError(f"the results folder for {shown(student)} would not be inside {root}; "
                         f"remove {target} if it is a link, or rename the submission")
    return target
