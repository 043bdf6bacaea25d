"""DIR/gradebook.csv: one row per student with every part, written answer, penalty and final score.

Part of :class:`coursekit.review.store.Gradebook`. Rewritten after every batch and staff action so
that the file a TA opens in a spreadsheet always matches the store.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from coursekit.review import written as written_answers
from coursekit.review.escape import csv_row
from coursekit.review.grade import Grade, fmt
from coursekit.review.reader import GradebookReader

CSV_NAME = "gradebook.csv"


class GradebookCsv(GradebookReader):
    """The gradebook as CSV rows, text and file."""

    def gradebook_rows(self, grades: list[Grade] | None = None) -> tuple[list[str], list[list[Any]]]:
        parts = list(self.part_points)
        questions = list(written_answers.questions(self))
        header = ["student", *parts, *[f"written:{q}" for q in questions], "total", "max_score", "seconds_late",
                  "extension_days", "penalty_fraction", "final_score", "status", "overrides", "needs_review",
                  *(["written_released"] if questions else [])]
        rows = [[g.student, *[fmt(g.parts[p]) for p in parts],
                 *[fmt(g.written[q].score) if g.written[q].graded else "" for q in questions],
                 fmt(g.total), fmt(g.max_score),
                 f"{g.seconds_late:.0f}", fmt(g.extension_days), fmt(round(g.penalty_fraction, 4)),
                 fmt(g.final), g.status, len(g.overrides), "yes" if g.needs_review else "",
                 *(["yes" if g.released else "no"] if questions else [])]
                for g in (self.grades() if grades is None else grades)]
        return header, rows

    def gradebook_csv(self, grades: list[Grade] | None = None) -> str:
        header, rows = self.gradebook_rows(grades)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(csv_row(header))
        writer.writerows(csv_row(row) for row in rows)  # a student id or status never runs as a formula
        return buffer.getvalue()

    def write_gradebook_csv(self, grades: list[Grade] | None = None) -> Path:
        path = self.out_dir / CSV_NAME
        tmp = path.with_suffix(".csv.tmp")
        tmp.write_text(self.gradebook_csv(grades), encoding="utf-8")
        tmp.replace(path)  # atomic: a spreadsheet open on the old file never sees half a file
        return path
