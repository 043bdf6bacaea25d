"""A part held for review (static check) scores 0 until a TA releases it; then it keeps its computed score."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coursekit.cli import cli
from coursekit.review.ingest import record_batch
from coursekit.review.store import Gradebook
from coursekit.review.synthetic import DEFAULT_MILESTONE, synthetic_course, write_synthetic_class


def _hold_one_part(out: Path) -> tuple[str, str, float]:
    """Turn one student's best part into a held part, as build_results writes it."""
    for folder in sorted(p for p in out.iterdir() if (p / "results.json").is_file()):
        data = json.loads((folder / "results.json").read_text())
        parts = data["extra_data"]["parts"]
        part, totals = max(parts.items(), key=lambda item: item[1]["score"])
        if totals["score"] <= 0:
            continue
        computed = totals["score"]
        totals["score"] = 0.0
        for test in data["tests"]:
            if test["extra_data"]["part"] == part:
                test["score"] = 0.0
        data["score"] = round(data["score"] - computed, 4)
        data["extra_data"]["holds"] = [{"part": part, "reason": "uses `scipy.linalg.inv` (banned here: scipy.linalg)",
                                        "cell": 3, "line": 2, "computed_score": computed}]
        (folder / "results.json").write_text(json.dumps(data))
        return folder.name, part, computed
    raise AssertionError("no student with a scored part")


def test_release_hold_gives_the_computed_score_back_and_survives_a_regrade(tmp_path):
    out = tmp_path / "out"
    write_synthetic_class(out, 6, seed=5)
    student, part, computed = _hold_one_part(out)
    record_batch(out_dir=out, course=synthetic_course(), milestone=DEFAULT_MILESTONE)
    book = Gradebook.open(out)
    held = book.grade(student)
    book.close()
    assert held.parts[part] == 0
    assert any(flag.startswith(f"HELD part {part}") for flag in held.flags)  # on staff pages only

    runner = CliRunner()
    refused = runner.invoke(cli, ["release-hold", str(out), student, "--part", "no-such-part"])
    assert refused.exit_code == 1 and "not held for review" in refused.output
    done = runner.invoke(cli, ["release-hold", str(out), student, "--part", part, "--by", "ta"])
    assert done.exit_code == 0, done.output

    record_batch(out_dir=out, course=synthetic_course(), milestone=DEFAULT_MILESTONE)  # a re-grade
    book = Gradebook.open(out)
    released = book.grade(student)
    book.close()
    assert abs(released.parts[part] - computed) < 1e-9
    assert abs(released.total - (held.total + computed)) < 1e-9
