"""Student ids from file and folder names: what is accepted, and where its results may go.

A student id names the folder ``OUT/<id>`` that the grader writes into, a row in the gradebook and
a page on the dashboard, and it is typed into spreadsheets and terminals. File names come from
students (an upload keeps the name they chose), so an id is accepted only from a safe alphabet:
letters and digits (any script, NFC-normalised so macOS and Linux spell it the same way) and
``. _ - @ +``, not starting with ``.`` or ``-`` (hidden files, ``.``/``..``, command-line
options), at most :data:`MAX_ID_CHARS` characters. Anything else (``/``, NUL, control characters,
ANSI escapes, ``=`` formulas, spaces) is refused with a one-line reason; the batch grades it as an
"invalid" submission under a stand-in id (:func:`stand_in_id`) so nothing of it is lost.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

MAX_ID_CHARS = 100
MAX_ID_BYTES = 200            # file systems allow 255 bytes per name; leave room for ".tmp" suffixes
PUNCTUATION = frozenset("._-@+")
STAND_IN_PREFIX = "invalid-name-"


class StudentIdError(ValueError):
    """A file or folder name that cannot be a student id; the message says why and what to rename."""


def shown(name: str) -> str:
    """A name as it may be printed: ``ascii()`` shows control characters and escapes as ``\\x1b``."""
    text = ascii(name)
    return text if len(text) <= 80 else text[:77] + "...'"


def check_student_id(name: str) -> str:
    """The student id for ``name`` (NFC-normalised), or StudentIdError saying what is wrong with it."""
    student = unicodedata.normalize("NFC", name)
    fix = "rename the file or folder to the student's id (letters, digits and . _ - @ +) and grade it again"
    if not student:
        raise StudentIdError(f"the file name gives an empty student id; {fix}")
    if student[0] in ".-":
        what = "'.' or '..'" if set(student) == {"."} else f"a name starting with {student[0]!r}"
        raise StudentIdError(f"the student id {shown(student)} is {what}, which is not allowed; {fix}")
    bad = sorted({ch for ch in student if not (ch.isalnum() or ch in PUNCTUATION)})
    if bad:
        listed = " ".join(ascii(ch) for ch in bad[:8])
        raise StudentIdError(f"the student id {shown(student)} has characters that are not allowed ({listed}); {fix}")
    if len(student) > MAX_ID_CHARS or len(student.encode("utf-8")) > MAX_ID_BYTES:
        raise StudentIdError(f"the student id {shown(student)} is longer than {MAX_ID_CHARS} characters; {fix}")
    return student


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
