"""Student ids from file names, and reading a submission without following links (no grading here)."""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from coursekit.grading.names import (MAX_ID_CHARS, StudentIdError, check_student_id, out_folder, stand_in_id,
                                     student_id_of)
from coursekit.grading.submission_files import MAX_NOTEBOOK_BYTES, SubmissionError, read_notebook_bytes

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@pytest.mark.parametrize("name", ["alice", "Bob_Smith-2", "a.b@uni.edu", "jdoe+m01", "müller", "李雷", "_x", "0042",
                                  "Jane Doe_12345", "Seán O'Brien_7", "Zoë O\u2019Neil-Smith_42"])
def test_safe_names_are_their_own_id(name):
    assert check_student_id(name) == name


def test_nfd_names_become_nfc():
    assert check_student_id("mu\u0308ller") == "m\u00fcller"


@pytest.mark.parametrize("name, reason", [
    (".", "'.' or '..'"), ("..", "'.' or '..'"), ("", "empty"), (".hidden", "starting with '.'"),
    ("-rf", "starting with '-'"), ("=HYPERLINK(\"http://x\")", "not allowed ('\"' '(' ')' '/' ':' '=')"),
    ("a/b", "'/'"), ("a\x00b", "'\\x00'"), ("x\x1b[31mred", "'\\x1b'"),
    (" lead", "starts or ends with a space"), ("trail ", "starts or ends with a space"),
    ("'quoted'", "starts or ends with a space or quote"), ("two  spaces", "two spaces in a row"),
    ("tab\there", "'\\t'"), ("new\nline", "'\\n'"), ("x /..", "'/'"), ("=cmd x", "'='"),
    ("x\u202eevil", "'\\u202e'"), ("a" * (MAX_ID_CHARS + 1), "longer than"),
])
def test_unsafe_names_are_refused_in_one_line_saying_how_to_fix(name, reason):
    with pytest.raises(StudentIdError) as info:
        check_student_id(name)
    message = str(info.value)
    assert reason in message and "rename the file" in message and "\n" not in message
    assert "\x1b" not in message and "\x00" not in message  # the name is shown escaped


@pytest.mark.parametrize("name, student", [
    ("Jane Doe_12345_assignsubmission_file_", "Jane Doe_12345"),  # Moodle's "Download all submissions"
    ("Seán O'Brien_678_assignsubmission_file_", "Seán O'Brien_678"),
    ("jdoe-submission", "jdoe"),
    ("Jane Doe_12345_assignsubmission_onlinetext_", "Jane Doe_12345_assignsubmission_onlinetext_"),  # no notebook
])
def test_lms_export_names_give_the_students_id(name, student):
    assert student_id_of(name) == student


@pytest.mark.parametrize("name", ["-submission", "../x_assignsubmission_file_",
                                  "=HYPERLINK(1)_assignsubmission_file_", " x_1_assignsubmission_file_"])
def test_lms_suffix_never_makes_a_bad_name_safe(name):
    with pytest.raises(StudentIdError):
        student_id_of(name)


def test_stand_in_ids_are_safe_stable_and_distinct():
    assert check_student_id(stand_in_id("..")) == stand_in_id("..")
    assert stand_in_id("..") != stand_in_id(".")


def test_out_folder_must_be_a_direct_child(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert out_folder(out, "alice") == out.resolve() / "alice"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "mallory").symlink_to(elsewhere)  # a stale link in OUT would send results outside it
    with pytest.raises(StudentIdError, match="would not be inside"):
        out_folder(out, "mallory")
    with pytest.raises(StudentIdError):
        out_folder(out, "..")


# ------------------------------------------------------------------ folders and zips


def test_folder_with_a_symlink_to_the_solution_is_refused(tmp_path):
    solution = tmp_path / "solution.ipynb"
    solution.write_bytes(NOTEBOOK)
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "m01.ipynb").symlink_to(solution)
    with pytest.raises(SubmissionError, match="symbolic link .*'m01.ipynb'"):
        read_notebook_bytes(folder)


@pytest.mark.parametrize("where", ["m01.ipynb", "notes/data.csv"])
def test_folder_with_a_hard_link_to_a_file_outside_is_refused(tmp_path, where):
    solution = tmp_path / "solution.ipynb"
    solution.write_bytes(NOTEBOOK)
    folder = tmp_path / "mallory"
    (folder / "notes").mkdir(parents=True)
    if where != "m01.ipynb":
        (folder / "m01.ipynb").write_bytes(NOTEBOOK)
    os.link(solution, folder / where)  # no path check sees it: the same file under a second name
    with pytest.raises(SubmissionError, match=f"hard link .*'{where}'"):
        read_notebook_bytes(folder)


def test_hard_link_made_after_the_walk_is_refused_on_open(tmp_path):
    from coursekit.grading.submission_files import _read_capped

    notebook = tmp_path / "m01.ipynb"
    notebook.write_bytes(NOTEBOOK)
    assert _read_capped(notebook, follow=False) == NOTEBOOK
    os.link(notebook, tmp_path / "elsewhere.ipynb")
    with pytest.raises(SubmissionError, match="hard link"):
        _read_capped(notebook, follow=False)
    assert _read_capped(notebook, follow=True) == NOTEBOOK  # the operator's own path: their choice


def test_folder_with_a_linked_subfolder_is_refused(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "solution.ipynb").write_bytes(NOTEBOOK)
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "work").symlink_to(tmp_path / "source")
    with pytest.raises(SubmissionError, match="symbolic link"):
        read_notebook_bytes(folder)


def test_folder_empty_or_with_two_notebooks_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SubmissionError, match=r"exactly one .ipynb or .zip \(found 0: none\)"):
        read_notebook_bytes(empty)
    two = tmp_path / "two"
    two.mkdir()
    (two / "a.ipynb").write_bytes(NOTEBOOK)
    (two / "sub").mkdir()
    (two / "sub" / "b.ipynb").write_bytes(NOTEBOOK)
    (two / ".ipynb_checkpoints").mkdir()
    (two / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_bytes(NOTEBOOK)
    with pytest.raises(SubmissionError, match=r"found 2: a.ipynb, b.ipynb"):
        read_notebook_bytes(two)


def test_top_level_symlink_is_the_operators_choice_and_is_followed(tmp_path):
    real = tmp_path / "real.ipynb"
    real.write_bytes(NOTEBOOK)
    link = tmp_path / "alice.ipynb"
    link.symlink_to(real)
    assert read_notebook_bytes(link) == NOTEBOOK


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "alice.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(SubmissionError, match="not a regular file"):
        read_notebook_bytes(fifo)


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return path


def _symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize("entries, why", [
    ([_symlink_entry("m01.ipynb", "/course/source/m01/m01.ipynb")], "a symbolic link ('m01.ipynb')"),
    ([("m01.ipynb", NOTEBOOK), _symlink_entry("data", "/etc")], "a symbolic link ('data')"),
    ([("../../x.ipynb", NOTEBOOK)], "a '..' path ('../../x.ipynb')"),
    ([("..\\..\\x.ipynb", NOTEBOOK)], "a '..' path"),
    ([("/etc/x.ipynb", NOTEBOOK)], "an absolute path"),
    ([("C:/x.ipynb", NOTEBOOK)], "an absolute path"),
])
def test_unsafe_zip_entries_refuse_the_whole_zip(tmp_path, entries, why):
    path = _zip(tmp_path / "mallory.zip", entries)
    with pytest.raises(SubmissionError) as info:
        read_notebook_bytes(path)
    assert why in str(info.value) and "re-create the zip" in str(info.value)


def test_honest_zip_and_folder_zip_are_read(tmp_path):
    path = _zip(tmp_path / "alice.zip", [("work/m01.ipynb", NOTEBOOK), ("__MACOSX/work/._m01.ipynb", b"junk"),
                                         ("work/.ipynb_checkpoints/m01-checkpoint.ipynb", b"{}")])
    assert read_notebook_bytes(path) == NOTEBOOK
    folder = tmp_path / "bob"
    folder.mkdir()
    _zip(folder / "submission.zip", [("m01.ipynb", NOTEBOOK)])
    assert read_notebook_bytes(folder) == NOTEBOOK


def test_zip_bomb_is_capped_whatever_the_header_says(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m01.ipynb", b"0" * (MAX_NOTEBOOK_BYTES + 10))
    with pytest.raises(SubmissionError, match="MB"):
        read_notebook_bytes(path)


def test_encrypted_or_damaged_zip_is_a_submission_error(tmp_path):
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(SubmissionError, match="damaged"):
        read_notebook_bytes(damaged)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("m01.ipynb", NOTEBOOK)
    data = bytearray(buffer.getvalue())
    # Set the "encrypted" flag bit in the local and central headers: zipfile then asks for a password.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x01
    encrypted = tmp_path / "encrypted.zip"
    encrypted.write_bytes(bytes(data))
    with pytest.raises(SubmissionError, match="cannot be opened"):
        read_notebook_bytes(encrypted)


# ------------------------------------------------------------------ discover() and --times


def test_discover_refuses_bad_names_but_keeps_them_in_the_batch(tmp_path):
    from coursekit.grading.batch import discover

    names = ["alice.ipynb", "...ipynb", "..ipynb", "-rf.ipynb", "=HYPERLINK(1).ipynb", "x\x1b[2Jy.ipynb"]
    paths = []
    for name in names:
        (tmp_path / name).write_bytes(NOTEBOOK)
        paths.append(tmp_path / name)
    batch = discover(paths)
    assert len(batch) == len(names)
    by_path = {item.path.name: item for item in batch}
    assert by_path["alice.ipynb"].student == "alice" and by_path["alice.ipynb"].refused is None
    for name in names[1:]:
        item = by_path[name]
        assert item.student.startswith("invalid-name-") and "rename the file" in item.refused, item
        assert check_student_id(item.student) == item.student


def test_discover_stops_on_the_same_student_twice_even_by_case(tmp_path):
    from coursekit.grading.api import GraderError
    from coursekit.grading.batch import discover

    (tmp_path / "Alice.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "alice.zip").write_bytes(b"")
    with pytest.raises(GraderError, match="two submissions for student"):
        discover([tmp_path / "Alice.ipynb", tmp_path / "alice.zip"])


def test_read_times_normalises_ids_and_says_which_line_is_wrong(tmp_path):
    from coursekit.grading.api import GraderError
    from coursekit.grading.batch import read_times

    good = tmp_path / "times.csv"
    good.write_text("\ufeffstudent,submitted_at\nmu\u0308ller,2027-02-01T23:00:00+00:00\n", encoding="utf-8")
    assert read_times(good) == {"m\u00fcller": dt.datetime(2027, 2, 1, 23, tzinfo=dt.timezone.utc)}
    bad = tmp_path / "bad.csv"
    bad.write_text("student,submitted_at\nalice,2027-02-01T23:00:00+00:00\n../x,2027-02-01T23:00:00+00:00\n")
    with pytest.raises(GraderError, match=r"bad.csv, line 3: .*'\.\./x'"):
        read_times(bad)
    naive = tmp_path / "naive.csv"
    naive.write_text("student,submitted_at\nalice,2027-02-01T23:00:00\n")
    with pytest.raises(GraderError, match="line 2: .*no timezone"):
        read_times(naive)


def test_summary_and_printed_table_count_invalid_and_print_student_text_inert(tmp_path):
    import json

    from rich.console import Console

    from coursekit.grading.batch import Submission, _print_summary, write_summary

    def results(student: str, status: str, submission_error: str | None = None, error: str | None = None) -> None:
        folder = tmp_path / student
        folder.mkdir()
        folder.joinpath("results.json").write_text(json.dumps({
            "score": 0, "execution_time": 1.0, "tests": [],
            "extra_data": {"milestone": "m00", "student": student, "max_score": 6, "parts": {},
                           "grader": {"status": status, "error": error}, "submission_error": submission_error}}))

    results("alice", "ok")
    results("bob", "invalid", submission_error="the file is not a notebook: invalid JSON \x1b[2J[red]x[/red]")
    results("carol", "ok", submission_error="written before 'invalid' existed")  # an older results.json
    results("dave", "error", error="worker crashed")
    summary = write_summary(tmp_path, "m00")
    status = {row["student"]: row["status"] for row in summary["submissions"]}
    assert status == {"alice": "ok", "bob": "invalid", "carol": "invalid", "dave": "error"}
    assert (summary["errors"], summary["invalid"]) == (3, 2)
    buffer = io.StringIO()
    batch = [Submission(s, tmp_path / s, None) for s in status]
    _print_summary(Console(file=buffer, width=200), summary, batch, 1.0, tmp_path)
    printed = buffer.getvalue()
    assert "3 grading errors (2 invalid submissions)" in printed
    assert "bob: invalid: the file is not a notebook: invalid JSON [red]x[/red]" in printed  # no markup, no escape
    assert "\x1b" not in printed


def test_gradescope_upload_with_a_link_is_refused(tmp_path):
    from coursekit.infra.gradescope import find_notebook

    upload = tmp_path / "submission"
    upload.mkdir()
    (tmp_path / "elsewhere.ipynb").write_bytes(NOTEBOOK)
    (upload / "m01.ipynb").symlink_to(tmp_path / "elsewhere.ipynb")
    with pytest.raises(ValueError, match="symbolic link \\('m01.ipynb'\\)"):
        find_notebook(upload, "m01")
    (upload / "m01.ipynb").unlink()
    (upload / "m01.ipynb").write_bytes(NOTEBOOK)
    assert find_notebook(upload, "m01") == upload / "m01.ipynb"


def test_folder_metadata_behind_a_link_is_ignored(tmp_path):
    from coursekit.grading.batch import discover

    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "m01.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "meta.json").write_text('{"created_at": "2027-01-01T00:00:00+00:00"}')
    (folder / "submission_metadata.json").symlink_to(tmp_path / "meta.json")
    assert discover([folder])[0].submitted_at is None
    (folder / "submission_metadata.json").unlink()
    (folder / "submission_metadata.json").write_text('{"created_at": "2027-01-01T00:00:00+00:00"}')
    assert discover([folder])[0].submitted_at == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)


def test_cli_grades_a_dash_named_file_after_double_dash_as_invalid(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from coursekit.cli import cli
    from coursekit.grading.names import stand_in_id

    course = Path(__file__).parent / "fixtures" / "engine_course" / "course.yaml"
    monkeypatch.chdir(tmp_path)
    Path("-rf.ipynb").write_bytes(NOTEBOOK)
    result = CliRunner().invoke(cli, ["--course", str(course), "grade", "m00-engine", "--device", "cpu",
                                      "--out", "out", "--", "-rf.ipynb"])
    assert result.exit_code == 0, result.output
    summary = json.loads(Path("out/summary.json").read_text())
    assert [(r["student"], r["status"], r["score"]) for r in summary["submissions"]] == [
        (stand_in_id("-rf"), "invalid", 0)]
    assert "starting with '-'" in summary["submissions"][0]["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["-rf.ipynb", "out"]
