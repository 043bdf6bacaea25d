"""What this host gives the grading sandbox, what it lacks, and how to grant each (``course doctor``)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from coursekit.grading import bwrap, cgroups

CAP_SYS_ADMIN = 21


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _effective_caps() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def _user_namespaces() -> tuple[bool, str]:
    limit = Path("/proc/sys/user/max_user_namespaces")
    if limit.exists() and limit.read_text().strip() == "0":
        return False, "user.max_user_namespaces is 0"
    switch = Path("/proc/sys/kernel/unprivileged_userns_clone")
    if switch.exists() and switch.read_text().strip() == "0":
        return False, "kernel.unprivileged_userns_clone is 0"
    return True, "enabled"


def checks() -> list[Check]:
    from coursekit.grading import sandbox

    found: list[Check] = []
    root = os.geteuid() == 0
    caps = _effective_caps()
    found.append(Check("root", root, "running as root" if root else f"running as uid {os.geteuid()}",
                       "run the grader as root inside its container (it drops to a per-slot uid for student code)"))
    found.append(Check("CAP_SYS_ADMIN", bool(caps >> CAP_SYS_ADMIN & 1),
                       "present" if caps >> CAP_SYS_ADMIN & 1 else "absent",
                       "docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined "
                       "--security-opt apparmor=unconfined; Kubernetes: securityContext.capabilities.add "
                       "[SYS_ADMIN], seccompProfile Unconfined, appArmorProfile Unconfined"))
    path = bwrap.bwrap_path()
    version = ""
    if path:
        try:
            version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            version = "does not run"
    found.append(Check("bubblewrap", bool(path), f"{path} ({version})" if path else "not installed",
                       "apt-get install bubblewrap (the infra images and `make venv` as root do this)"))
    userns_ok, userns_detail = _user_namespaces()
    found.append(Check("user namespaces", userns_ok, userns_detail,
                       "sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1 "
                       "(and the container's seccomp profile must allow clone/unshare)"))
    works = path is not None and root and sandbox._bwrap_works()
    found.append(Check("bubblewrap sandbox starts", works,
                       "a worker started in the allow-listed root" if works else "a test worker could not start",
                       "needs root, bubblewrap and user namespaces (see above); COURSEKIT_SANDBOX=degraded "
                       "grades without it"))
    kind = cgroups.version()
    writable = cgroups.writable_controllers()
    missing = cgroups.missing_controllers() if kind else ["memory", "pids", "cpu"]
    found.append(Check("cgroups", kind is not None and not missing and root and cgroups.usable(),
                       f"{kind or 'none'}; writable controllers: {', '.join(writable) or 'none'}"
                       + (f"; missing: {', '.join(missing)}" if missing else ""),
                       "mount /sys/fs/cgroup read-write for the grader (docker --cgroupns=private with "
                       "--cap-add SYS_ADMIN, or a delegated cgroup v2 subtree with memory, pids and cpu enabled)"))
    return found


def report() -> tuple[str, bool]:
    """(text for the operator, whether the full sandbox is available)."""
    lines, ok = [], True
    for check in checks():
        ok = ok and check.ok
        lines.append(f"[{'ok' if check.ok else 'MISSING'}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"        how to grant it: {check.fix}")
    if os.environ.get("COURSEKIT_SANDBOX", "").lower() == "degraded":
        ok = False
        lines.append("[MISSING] COURSEKIT_SANDBOX=degraded is set: grading will not use bubblewrap or cgroups")
    lines.append("sandbox: full" if ok else "sandbox: degraded (results will say which protections were missing)")
    return "\n".join(lines), ok
