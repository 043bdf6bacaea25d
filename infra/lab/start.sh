#!/usr/bin/env bash
# Start JupyterLab for the course: the kit importable in the kernel, release/ as the file browser's
# root, listening on 127.0.0.1 only, protected by a token.  `make lab` runs this.
#
# Environment (all optional):
#   PYTHON          interpreter with jupyterlab + the kit   (default: <repo>/.venv/bin/python)
#   COURSE_RELEASE  folder to serve                         (default: <repo>/release)
#   LAB_PORT        port                                    (default: 8888)
#   LAB_TOKEN       access token                            (default: a fresh random one, printed)
#   LAB_OPEN        1 to open a browser                     (default: 0, print the URL instead)
#   LAB_ARGS        extra arguments for `jupyter lab`
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
release=${COURSE_RELEASE:-$repo/release}
port=${LAB_PORT:-8888}

die() { echo "lab: $*" >&2; exit 1; }

[ -x "$python" ] || die "no Python at $python; create the virtualenv (python3.11 -m venv .venv && .venv/bin/pip install -e '.[student]') or set PYTHON"
"$python" -c "import jupyterlab" 2>/dev/null \
  || die "JupyterLab is not installed for $python; run: $python -m pip install -e '$repo[student]'"
"$python" -c "import coursekit_student" 2>/dev/null \
  || die "the student kit is not installed for $python; run: $python -m pip install '$release'"
[ -d "$release" ] || die "no release folder at $release; run \`course release\` first (or set COURSE_RELEASE)"
ls "$release"/*/*.ipynb >/dev/null 2>&1 \
  || die "no milestone notebooks in $release; run \`course release\` first"

token=${LAB_TOKEN:-$("$python" -c 'import secrets; print(secrets.token_hex(24))')}
browser_flag=--no-browser
[ "${LAB_OPEN:-0}" = 1 ] && browser_flag=
root_flag=
[ "$(id -u)" = 0 ] && root_flag=--allow-root  # containers and CI run as root; Jupyter refuses otherwise

# Students never see nbgrader's menus, Validate button or formgrader: nbgrader is an instructor tool
# here (the release compiler), and its assignment-list/validate flows are not how this course submits.
# A private labconfig folder early on JUPYTER_CONFIG_PATH disables its lab plugins for this server only,
# without touching the student's own ~/.jupyter; the server extensions are switched off on the command line.
labconfig=$(mktemp -d "${TMPDIR:-/tmp}/coursekit-lab.XXXXXX")
trap 'rm -rf "$labconfig"' EXIT
mkdir -p "$labconfig/labconfig"
echo '{"disabledExtensions": {"@jupyter/nbgrader": true}}' > "$labconfig/labconfig/page_config.json"
export JUPYTER_CONFIG_PATH="$labconfig${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
no_nbgrader="{'nbgrader.server_extensions.formgrader': False, 'nbgrader.server_extensions.validate_assignment': False,"
no_nbgrader+=" 'nbgrader.server_extensions.assignment_list': False, 'nbgrader.server_extensions.course_list': False}"

echo "lab: serving $release"
echo "lab: open http://127.0.0.1:$port/lab?token=$token"
# Not exec: the trap removes the private config folder when the server ends; the server gets its own
# signals through the process group (Ctrl-C, and the test harness's killpg).
# shellcheck disable=SC2086  # LAB_ARGS is a list of words on purpose
"$python" -m jupyter lab $browser_flag $root_flag \
  --ip=127.0.0.1 --port="$port" --port-retries=0 \
  --IdentityProvider.token="$token" \
  --ServerApp.root_dir="$release" \
  --ServerApp.jpserver_extensions="$no_nbgrader" \
  ${LAB_ARGS:-}
