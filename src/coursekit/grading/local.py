"""Authoring aid: ``python -m coursekit.grading.local <milestone-id> <notebook> [--course course.yaml]``.

Runs public + hidden tests against a notebook with the student's code executed *in the
grader's process* (no sandbox), and prints each test's verdict. For milestone authors only:
real grading always goes through ``course grade``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from coursekit.grading.api import grade_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("milestone")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--course", type=Path, default=Path("course.yaml"))
    parser.add_argument("--sandbox", action="store_true", help="use the real sandboxed worker instead")
    args = parser.parse_args()
    results = grade_one(course_file=args.course, milestone_id=args.milestone, notebook=args.notebook,
                        student=args.notebook.stem, device="cpu", backend="sandbox" if args.sandbox else "local")
    for test in results.tests:
        extra = test.extra_data
        print(f"{extra.outcome.value:>15}  {test.score:>5g}/{test.max_score:<5g} {extra.kind or '':>6}  "
              f"{test.name}  ({extra.duration or 0:.2f}s)")
        if test.output and extra.outcome.value != "passed":
            print("                 " + test.output.replace("\n", "\n                 ")[:1500])
    print(f"\nscore {results.score:g} / {results.max_score:g}   parts: "
          + ", ".join(f"{k} {v.score:g}/{v.max_score:g}" for k, v in results.parts.items()))
    if results.grader.error:
        print(f"GRADER ERROR: {results.grader.error}")


if __name__ == "__main__":
    main()
