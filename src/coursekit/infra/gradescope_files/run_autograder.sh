#!/usr/bin/env bash
# Gradescope runs this for every submission: the student's files are in $ROOT/submission, and
# $ROOT/results/results.json must exist when it exits. It grades with the same engine as
# `course grade` (coursekit.grading.api.grade_one). AUTOGRADER_ROOT lets a test replay
# Gradescope's layout in a temporary folder; COURSEKIT_PYTHON picks another interpreter.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${COURSEKIT_PYTHON:-$ROOT/venv/bin/python}"
export COURSE_DATA_CACHE="${COURSE_DATA_CACHE:-$ROOT/data}"

exec "$PYTHON" -m coursekit.infra.gradescope run --root "$ROOT"
