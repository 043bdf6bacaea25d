"""The students' ``course`` command (installed from release/): ``course submit`` and ``course status``.

Plain argparse: the student package depends on nothing the course does not already need.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coursekit_student.status import status
from coursekit_student.submit import SubmitError, format_report, submit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Zero to LLM: student commands.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    sub = verbs.add_parser("submit", help="Check a notebook in a fresh kernel and package it for upload.")
    add_submit_arguments(sub)
    stat = verbs.add_parser("status", help="Your progress per milestone (from your last check() runs).")
    stat.add_argument("path", nargs="?", default=".", help="Folder holding your release notebooks (default: here).")
    return parser


def add_submit_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("milestone", help="Milestone id, e.g. m01-linear-algebra.")
    sub.add_argument("--notebook", help="The notebook to submit (default: <id>.ipynb here, in <id>/ or release/<id>/).")
    sub.add_argument("--out", default=".", help="Folder for <id>-submission.zip with --format zip (default: here).")
    sub.add_argument("--format", choices=("ipynb", "zip"), default="ipynb",
                     help="ipynb (default): check the notebook you upload, <id>.ipynb, as it is; zip: also write "
                          "<id>-submission.zip with a manifest, for an LMS that asks for an archive.")
    sub.add_argument("--timeout", type=float, default=300.0, help="Seconds one cell may run (default 300).")
    sub.add_argument("--slow", type=float, default=10.0, help="Warn about cells slower than this (default 10 s).")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verb == "status":
        print(status(Path(args.path)))
        return 0
    try:
        report = submit(args.milestone, notebook=args.notebook, out_dir=args.out, fmt=args.format,
                        cell_timeout=args.timeout, slow_seconds=args.slow)
    except SubmitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
