"""A submission's notebook bytes from a ``.ipynb``, a ``.zip`` or a student's folder, never through a link.

The path the instructor names on the command line is the operator's choice and is followed even
when it is a symlink (``latest -> exports-2027-02-01``). Everything *inside* a submission comes from
the student, so nothing there is followed: a folder that holds any symbolic link, and a zip with a
symlink entry (Unix mode in ``external_attr``), an absolute path or a ``..`` component, are refused
as a whole, because a link to the solution notebook (or to another student's) must not score. Hard
links are refused the same way: a file in the folder with more than one name (``st_nlink > 1``) may
be the solution itself under another name (anyone who can write both places can make one, and no
path check sees it). The chosen file is opened with ``O_NOFOLLOW`` and its link count checked on
the open descriptor, so it cannot be swapped for a link after the check, and reads are capped at
:data:`MAX_NOTEBOOK_BYTES` whatever sizes a zip header claims.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
CANDIDATE_SUFFIXES = (".ipynb", ".zip")


class SubmissionError(Exception):
    """The submission cannot be graded as a notebook; the message says why, for the student."""


def _too_big(size: int) -> str:
    return (f"the notebook is {size / 1e6:.0f} MB (limit {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB); "
            "clear outputs (Edit → Clear All Outputs), save and upload again")


def _ignored(relative: Path) -> bool:
    """Jupyter's checkpoints, hidden files and macOS resource forks are never the submission."""
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def _hard_link_error(names: list[str]) -> SubmissionError:
    shown = ", ".join(ascii(name) for name in sorted(names)[:5])
    return SubmissionError(f"the submission folder holds a hard link ({shown}: a file with another name elsewhere); "
                           "links are never followed, upload the notebook file itself")


def notebook_in_folder(folder: Path) -> Path:
    """The one notebook (or zip) in a student's folder from an LMS export; no links anywhere in it."""
    found, links, hard_links = [], [], []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = here / name
            if path.is_symlink():
                links.append(path.relative_to(folder).as_posix())
            elif name in filenames and path.lstat().st_nlink > 1:  # a folder always has several names
                hard_links.append(path.relative_to(folder).as_posix())
            elif name in filenames and path.suffix in CANDIDATE_SUFFIXES and not _ignored(path.relative_to(folder)):
                found.append(path)
    if links:
        shown = ", ".join(ascii(name) for name in sorted(links)[:5])
        raise SubmissionError(f"the submission folder holds a symbolic link ({shown}); links are never followed, "
                              "upload the notebook file itself")
    if hard_links:
        raise _hard_link_error(hard_links)
    found.sort()
    if len(found) != 1:
        names = ", ".join(ascii(p.name)[1:-1] for p in found[:5]) or "none"
        raise SubmissionError(f"the submission folder must hold exactly one .ipynb or .zip (found {len(found)}: "
                              f"{names}); upload just the notebook to be graded")
    return found[0]


def _open_regular(path: Path, *, follow: bool) -> BinaryIO:
    """An open binary stream on a regular file, refusing links (unless ``follow``), FIFOs and devices."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow and path.is_symlink():
            raise SubmissionError(f"the submission holds a symbolic link ({ascii(path.name)}), which is never "
                                  "followed; upload the notebook file itself") from None
        raise SubmissionError(f"the submission could not be read ({exc.strerror}); upload it again") from None
    stream = os.fdopen(fd, "rb")
    info = os.fstat(stream.fileno())
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the grader, a device never ends
        stream.close()
        raise SubmissionError("the submission is not a regular file; upload the .ipynb saved by Jupyter")
    if not follow and info.st_nlink > 1:  # linked in after the folder was walked: checked on what was opened
        stream.close()
        raise _hard_link_error([path.name])
    if info.st_size > MAX_NOTEBOOK_BYTES and path.suffix != ".zip":
        stream.close()
        raise SubmissionError(_too_big(info.st_size))
    return stream


def _read_capped(path: Path, *, follow: bool) -> bytes:
    with _open_regular(path, follow=follow) as stream:
        data = stream.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(_too_big(len(data)))
    return data


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is refused (a link, an absolute path, a ``..`` component), or None."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a '..' path"
    return None


def read_zip(data_path: Path, *, follow: bool) -> bytes:
    """The one notebook inside a zip, refusing the whole zip if any entry is unsafe."""
    try:
        with _open_regular(data_path, follow=follow) as raw, zipfile.ZipFile(raw) as archive:
            members = archive.infolist()
            for info in members:
                why = _unsafe_member(info)
                if why:
                    raise SubmissionError(f"the zip holds {why} ({ascii(info.filename)}); re-create the zip from "
                                          "the notebook file itself and upload again")
            names = [i for i in members if i.filename.endswith(".ipynb") and not i.is_dir()
                     and not _ignored(Path(i.filename))]
            if len(names) != 1:
                raise SubmissionError(f"the zip must hold exactly one .ipynb (found {len(names)})")
            if names[0].file_size > MAX_NOTEBOOK_BYTES:
                raise SubmissionError(_too_big(names[0].file_size))
            with archive.open(names[0]) as member:  # the header's size may lie: cap what is inflated
                data = member.read(MAX_NOTEBOOK_BYTES + 1)
            if len(data) > MAX_NOTEBOOK_BYTES:
                raise SubmissionError(_too_big(len(data)))
            return data
    except SubmissionError:
        raise
    except OSError as exc:
        raise SubmissionError(f"the .zip could not be read ({exc.strerror or exc}); re-create it and upload again") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError):
        raise SubmissionError("the .zip file is damaged; re-create it and upload again") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted entries, unsupported compression
        raise SubmissionError(f"the .zip cannot be opened ({exc}); re-create it without a password and upload "
                              "again") from None


def read_notebook_bytes(path: Path) -> bytes:
    """The notebook's bytes from a .ipynb, a .zip holding exactly one .ipynb, or a folder holding one."""
    path = Path(path)
    follow = True  # the top-level path is the instructor's
    if path.is_dir():
        path, follow = notebook_in_folder(path), False
    if path.suffix == ".zip":
        return read_zip(path, follow=follow)
    return _read_capped(path, follow=follow)
