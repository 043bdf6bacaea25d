#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (the network is
# available now, never while grading). It installs Python 3.11, the locked stack (torch CPU
# build: Gradescope has no GPUs) and the kit, and fetches the milestone's datasets into the cache
# the grader reads offline. Paths follow Gradescope's layout: this zip is unpacked in
# /autograder/source.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
MANIFEST="$SOURCE/gradescope.json"

manifest() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$MANIFEST" "$1"; }

if ! command -v python3.11 >/dev/null 2>&1; then
  # Gradescope's Ubuntu base images ship another Python; deadsnakes builds 3.11 for Ubuntu LTS.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends software-properties-common gpg-agent
  add-apt-repository -y ppa:deadsnakes/ppa
  apt-get update
  apt-get install -y --no-install-recommends python3.11 python3.11-venv
fi

python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --no-cache-dir --no-deps \
  --index-url https://download.pytorch.org/whl/cpu "torch==$(manifest torch)+cpu"
"$VENV/bin/python" -m pip install --no-cache-dir --no-deps -r "$SOURCE/kit/requirements.lock"
"$VENV/bin/python" -m pip install --no-cache-dir --no-deps "$SOURCE/kit"
"$VENV/bin/python" -m pip check

DATASETS="$(manifest datasets)"
if [ -n "$DATASETS" ]; then
  # shellcheck disable=SC2086  # one word per dataset name
  COURSE_DATA_CACHE="$ROOT/data" "$VENV/bin/course" --course "$SOURCE/course/course.yaml" data fetch $DATASETS
  chmod -R a-w "$ROOT/data"
fi

# The grader runs as root on Gradescope and drops student code to unprivileged uids itself;
# the hidden suites must not be readable by them.
chmod -R go-rwx "$SOURCE/course/autograder"
