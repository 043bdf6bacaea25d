"""Scores come only from trusted facts: handles, raise-only tests, secret-seeded hidden inputs.

Fast unit tests of the pieces; tests/test_hostile.py replays the attacks end to end.
"""

from __future__ import annotations

import operator
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from coursekit.grading.bridge import Bridge
from coursekit.grading.calls import CallLog, hold_raise_only_credit
from coursekit.grading.errors import RefusedOnHandle, StudentCodeError, error_class
from coursekit.grading.handles import RemoteObject
from coursekit.grading.plugin import TestRecord as Record
from coursekit.grading.sandbox import SandboxSpec
from coursekit.grading.secret import ENV, course_secret, init_secret, input_seed, secret_path


class FakeBridge:
    """Answers requests like a worker holding one object whose methods lie."""

    generation = 1

    def __init__(self, answers: dict, allow_operators: bool = False):
        self.answers, self.requests = answers, []
        self.allow_operators = allow_operators

    def request(self, op, **fields):
        self.requests.append((op, fields.get("name")))
        return self.answers[op]


def handle(answers=None, allow_operators=False) -> RemoteObject:
    return RemoteObject(FakeBridge(answers or {}, allow_operators), 1, 1, "Interval")


@pytest.mark.parametrize("compare", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
                                     operator.ne, operator.add, operator.sub, operator.mul, operator.truediv,
                                     operator.floordiv, operator.mod, operator.pow, operator.matmul,
                                     operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift])
@pytest.mark.parametrize("side", ["left", "right"])
def test_handles_refuse_comparison_and_arithmetic(compare, side):
    obj = handle()
    with pytest.raises(RefusedOnHandle, match="value out"):
        compare(obj, 0.5) if side == "left" else compare(0.5, obj)
    assert obj._bridge.requests == []  # the student's method was never asked


@pytest.mark.parametrize("unary", [operator.neg, operator.pos, abs, operator.invert, round, operator.index,
                                   bool, hash])
def test_handles_refuse_unary_operators_truth_and_hash(unary):
    obj = handle()
    with pytest.raises(RefusedOnHandle):
        unary(obj)
    assert obj._bridge.requests == []


def test_operators_tests_forward_arithmetic_but_never_ordering():
    # @operators (m06's Value): the student's + and - are what the test grades; < still decides nothing.
    obj = handle({"binop": "result", "unop": "negated"}, allow_operators=True)
    assert obj + 1 == "result" and 2 * obj == "result" and -obj == "negated"
    assert obj._bridge.requests == [("binop", "add"), ("binop", "mul"), ("unop", "neg")]
    for compare in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq):
        with pytest.raises(RefusedOnHandle):
            compare(obj, 1)
    with pytest.raises(RefusedOnHandle):
        round(obj)


def test_refusals_never_pass_for_the_students_own_type_error():
    # pytest.raises(TypeError) around `Value(2) ** Value(3)` must see the *student's* TypeError.
    with pytest.raises(RefusedOnHandle) as caught:
        handle() ** handle()
    assert not isinstance(caught.value, TypeError)


def test_sorting_handles_is_refused():
    with pytest.raises(RefusedOnHandle):
        sorted([handle(), handle()])
    with pytest.raises(RefusedOnHandle):
        max(handle(), handle())


def test_values_are_read_out_as_checked_data():
    obj = handle({"asarray": np.array([1.0, 2.0]), "unop": 2.5})
    np.testing.assert_array_equal(np.asarray(obj), [1.0, 2.0])
    assert np.asarray(obj, dtype=np.float32).dtype == np.float32
    assert float(obj) == 2.5


@pytest.mark.parametrize("answer", [[1.0, 2.0], "1", np.ma.masked_array([1.0])])
def test_reading_out_refuses_anything_but_plain_data(answer):
    obj = handle({"asarray": answer, "unop": answer})
    with pytest.raises(RefusedOnHandle):
        np.asarray(obj, dtype=float) if not isinstance(answer, str) else float(obj)


def test_float_of_a_handle_must_be_a_float():
    with pytest.raises(RefusedOnHandle, match="did not give a float"):
        float(handle({"unop": handle()}))


@pytest.mark.parametrize("bases,expected", [
    (["UnicodeDecodeError", "UnicodeError", "ValueError", "Exception", "BaseException"], UnicodeError),
    (["ValueError", "Exception", "BaseException"], ValueError), (["Exception", "BaseException"], None)])
def test_student_errors_keep_a_builtin_type_the_trusted_side_can_build(bases, expected):
    # A student raising UnicodeDecodeError (five constructor arguments) once crashed the public test's report.
    error = error_class(bases)("UnicodeDecodeError", "bad byte", "trace")
    assert isinstance(error, StudentCodeError) and (expected is None or isinstance(error, expected))


# --------------------------------------------------------------------------- raise-only credit

def record(name, outcome, ok=(), raised=(), points=1.0):
    r = Record(name=name, nodeid=name, kind="hidden", part="p", points=points, outcome=outcome,
                   score=points if outcome == "passed" else 0.0)
    r.calls_ok, r.calls_raised = set(ok), set(raised)
    return r


def test_a_function_that_only_raises_earns_nothing_from_its_raise_tests():
    records = [record("values", "failed", raised={"pca"}), record("rejects_bad_k", "passed", raised={"pca"})]
    held = hold_raise_only_credit(records)
    assert [r.name for r in held] == ["rejects_bad_k"]
    assert records[1].score == 0 and records[1].outcome == "failed"
    assert "`pca`" in records[1].output and "good input" in records[1].output


def test_raise_tests_count_once_the_function_works():
    records = [record("values", "passed", ok={"pca"}), record("rejects_bad_k", "passed", raised={"pca"})]
    assert hold_raise_only_credit(records) == []
    assert records[1].score == 1.0


def test_working_elsewhere_means_in_a_passed_test_of_that_callable():
    records = [record("values", "failed", ok={"pca"}), record("other", "passed", ok={"mean"}),
               record("rejects", "passed", raised={"pca"}), record("methods", "passed", ok={"Model.fit"}),
               record("fit_rejects", "passed", raised={"Model.fit"})]
    held = hold_raise_only_credit(records)
    assert [r.name for r in held] == ["rejects"]


def test_a_held_test_no_longer_vouches_for_what_returned_in_it():
    # `g` returned only inside a test that is itself held (its `f` never worked).
    records = [record("f_rejects", "passed", ok={"g"}, raised={"f"}), record("g_rejects", "passed", raised={"g"})]
    assert {r.name for r in hold_raise_only_credit(records)} == {"f_rejects", "g_rejects"}


def test_requests_are_labelled_by_the_student_code_they_run():
    from coursekit.grading.bridge import _label_of

    obj = handle()
    object.__setattr__(obj, "_label", "Interval.shift")
    assert _label_of("call", {"target": obj}) == "Interval.shift"
    assert _label_of("getattr", {"target": None, "name": "pca"}) == "pca"  # only its failure is recorded
    assert _label_of("binop", {"name": "add", "left": 2.0, "right": handle()}) == "Interval.__add__"
    assert _label_of("binop", {"name": "and_", "left": handle(), "right": 1}) == "Interval.__and__"
    assert _label_of("unop", {"name": "neg", "operand": handle()}) == "Interval.__neg__"
    assert _label_of("len", {"target": handle()}) is None  # len(gen) raising proves a generator: not a failure
    assert _label_of("seed", {"seed": 3}) is None


def test_call_log_is_per_test():
    log = CallLog()
    log.returned("a")
    log.raised("b")
    assert log.take() == ({"a"}, {"b"})
    assert log.take() == (set(), set())


# --------------------------------------------------------------------------- the course secret

def test_secret_is_generated_once_private_and_stable(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    first = course_secret(tmp_path)
    path = secret_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert course_secret(tmp_path) == first and len(first) >= 32
    assert init_secret(path) is False  # a second grader starting at once keeps the first one's secret
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temp files left


def test_environment_secret_wins_and_no_file_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "x" * 40)
    assert course_secret(tmp_path) == b"x" * 40
    assert not secret_path(tmp_path).exists()


def test_too_short_secret_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    secret_path(tmp_path).parent.mkdir()
    secret_path(tmp_path).write_text("short")
    with pytest.raises(Exception, match="too short"):
        course_secret(tmp_path)


def test_inputs_depend_on_submission_and_test_not_on_anything_else():
    secret = b"s" * 64
    a = input_seed(secret, "aa" * 32, "hidden::test_hidden::test_x")
    assert a == input_seed(secret, "aa" * 32, "hidden::test_hidden::test_x")
    assert a != input_seed(secret, "bb" * 32, "hidden::test_hidden::test_x")
    assert a != input_seed(secret, "aa" * 32, "hidden::test_hidden::test_y")
    assert a != input_seed(b"t" * 64, "aa" * 32, "hidden::test_hidden::test_x")
    streams = [np.random.default_rng(input_seed(secret, sha, "t")).normal(size=3) for sha in ("a", "a", "b")]
    np.testing.assert_array_equal(streams[0], streams[1])
    assert not np.allclose(streams[0], streams[2])


def test_secret_file_is_gitignored():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, ".gitignore")) as stream:
        assert "**/autograder/secret" in stream.read().split("\n")


# --------------------------------------------------------------------------- the trusted side's own bounds

def test_trusted_process_memory_is_capped_so_a_blow_up_is_a_memory_error():
    # In a child process: the cap is process-wide and must not leak into this test session.
    code = ("from coursekit.grading.trusted_limits import bound_own_memory\n"
            "limit = bound_own_memory(worker_memory_mb=64, headroom_mb=256)\n"
            "try:\n    hog = bytearray(1024 * 1024 * 1024)\n    print('allocated', limit)\n"
            "except MemoryError:\n    print('refused', limit)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused"), done.stdout


def test_kept_student_output_is_bounded_across_restarts():
    spec = SandboxSpec(memory_mb=512, cpu_seconds=10, processes=8, file_mb=1, output_kb=1, device="cpu", keep=[],
                       hide=[])
    bridge = Bridge(cells=[], spec=spec, notebook_seconds=1, call_seconds=1, bound_memory=False)
    for _ in range(50):  # fifty crashed workers, each with its (already cut) 1 KB of output
        bridge._keep_output("x" * 1024)
    assert len(bridge.output_text()) <= 4 * 1024 + 100
    assert bridge.output_text().endswith("[... output of later restarts cut ...]\n")


def test_course_secret_init_creates_once(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from coursekit.cli import cli

    monkeypatch.delenv(ENV, raising=False)
    (tmp_path / "course.yaml").write_text("course: {}\n")
    runner = CliRunner()
    first = runner.invoke(cli, ["--course", str(tmp_path / "course.yaml"), "secret", "init"])
    assert first.exit_code == 0 and "created" in first.output
    value = secret_path(tmp_path).read_text()
    again = runner.invoke(cli, ["--course", str(tmp_path / "course.yaml"), "secret", "init"])
    assert again.exit_code == 0 and "already exists" in again.output and secret_path(tmp_path).read_text() == value
    forced = runner.invoke(cli, ["--course", str(tmp_path / "course.yaml"), "secret", "init", "--force"])
    assert forced.exit_code == 0 and secret_path(tmp_path).read_text() != value
