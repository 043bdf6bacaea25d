"""A submission that is not a notebook fails every test at setup: no test body (and no oracle) runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from coursekit.grading.notebook import SubmissionError
from coursekit.grading.plugin import GradingPlugin
from coursekit.grading.run_one import _Unreadable

TESTS = '''
from pathlib import Path
from coursekit_student.testing import part, points

MARK = Path({mark!r})


@part("p")
@points(2)
def test_expensive_oracle_first(submission):
    MARK.write_text("the body ran")  # stands for minutes of reference computation
    assert submission.f(1) == 1
'''


def test_unreadable_submission_fails_at_setup_without_running_the_body(tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_x.py").write_text(TESTS.format(mark=str(mark)))
    error = SubmissionError("the file is not a notebook: invalid JSON (Expecting value at line 1); upload the .ipynb")
    plugin = GradingPlugin(backend=_Unreadable(error), hidden_dir=suite, device="cpu", gpu_available=False,
                           test_seconds=10, submission_seconds=60, parts={"p": 2})
    code = pytest.main([str(suite), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-c", "/dev/null",
                        "--rootdir", str(tmp_path), "--import-mode=importlib"], plugins=[plugin])
    assert code == 1
    [record] = plugin.state.records.values()
    assert record.outcome == "error" and record.score == 0 and "invalid JSON" in record.output
    assert not mark.exists(), "the test body ran for a submission that could not be read"
