"""A ceiling on the trusted grading process's own memory.

Reply frames are capped (``protocol.REPLY_LIMIT``), but decoding, test code and pytest also
allocate; a cap on the process itself turns any remaining blow-up into a ``MemoryError`` inside one
test (which fails) instead of the kernel's OOM killer taking the grader before clean-up runs.

RLIMIT_DATA, not RLIMIT_AS: CUDA and some BLAS builds reserve huge inaccessible address ranges
(PROT_NONE) that count against AS but are not memory; DATA counts what can actually be written.
Only the soft limit is lowered, so the worker (which sets its own limits) is not bound by ours.
"""

from __future__ import annotations

import resource

MB = 1024 * 1024
HEADROOM_MB = 4096


def _data_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def bound_own_memory(worker_memory_mb: int, headroom_mb: int = HEADROOM_MB) -> int | None:
    """Cap this process's writable memory at what it holds now plus a headroom; the limit in MB.

    The headroom is at least the worker's memory limit: a child started before it resets its own
    limits still inherits ours, and must not be held below its own.
    """
    current = _data_mb()
    if current is None:
        return None
    limit_mb = int(current + max(headroom_mb, 2 * worker_memory_mb))
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    wanted = limit_mb * MB
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft == resource.RLIM_INFINITY or wanted < soft:
        resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
    return limit_mb
