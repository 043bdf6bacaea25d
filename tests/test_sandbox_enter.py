"""The launcher's one privilege drop (sandbox_enter.drop_privileges), which every sandbox mode uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# Run in a child: a drop is for life, and the test process must stay root.
PROBE = """
import os, sys
from coursekit.grading.sandbox_enter import drop_privileges
os.setgroups([0])  # a supplementary group the drop must clear
uid = None if sys.argv[1] == "none" else int(sys.argv[1])
drop_privileges(uid)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(os.getuid(), os.getgid(), os.getgroups(), status["NoNewPrivs"].strip())
"""


def _probe(uid: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, uid], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(maxsplit=3)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")
def test_drop_becomes_the_slot_uid_without_groups_or_new_privileges() -> None:
    uid, gid, groups, no_new_privs = _probe("64999")
    assert (uid, gid, groups, no_new_privs) == ("64999", "64999", "[]", "1")


@pytest.mark.skipif(os.geteuid() != 0, reason="setgroups in the probe needs root")
def test_drop_without_a_slot_uid_keeps_the_uid_but_forbids_new_privileges() -> None:
    uid, _, _, no_new_privs = _probe("none")
    assert (uid, no_new_privs) == ("0", "1")
