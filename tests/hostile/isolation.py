"""Isolation attacks (issue 18, "Isolation"): each tries to reach past the sandbox, then behaves
honestly, so its score shows whether the attack failed and the host checks after the batch show
that nothing it made survives.

``context``: other_checkout (a copy of the course elsewhere on the host), socket_path (a unix
socket listening on the host), abstract (an abstract unix socket name), marker (a unique word for
files, IPC keys and process names).
"""

from __future__ import annotations

from tests.hostile.corpus import COUNTER, HONEST, MATMUL, Case

IPC_KEY_BASE = 0x4B49_0000  # + a per-run offset, so a leftover of this test is recognisable


def ipc_keys(marker: str) -> list[int]:
    offset = int(marker[-4:], 16)
    return [IPC_KEY_BASE + offset, IPC_KEY_BASE + offset + 1, IPC_KEY_BASE + offset + 2]


def _honest_unless(check: str) -> str:
    """``add`` that returns the right answer only when ``check`` (an expression) is False."""
    return (f"def add(a, b):\n    try:\n        leaked = {check}\n    except Exception:\n        leaked = False\n"
            "    return -1 if leaked else a + b\n")


def cases(context: dict) -> list[Case]:
    other, sock, abstract, marker = (context["other_checkout"], context["socket_path"], context["abstract"],
                                     context["marker"])
    shm_key, msg_key, sem_key = ipc_keys(marker)
    hidden = f"{other}/autograder/suites/m00-engine"
    connect = ("import socket\n"
               "def _connects(address):\n"
               "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
               "    s.settimeout(2)\n"
               "    try:\n        s.connect(address)\n        return True\n"
               "    except OSError:\n        return False\n")
    ipc = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
           f"libc.shmget({shm_key}, 4096, 0o1666)\nlibc.msgget({msg_key}, 0o1666)\nlibc.semget({sem_key}, 1, 0o1666)\n"
           "for folder in ['/tmp', '/dev/shm', '/var/tmp', os.path.expanduser('~')]:\n"
           "    try:\n"
           f"        open(os.path.join(folder, 'leak-{marker}'), 'w').write('left behind')\n"
           "    except OSError:\n        pass\n")
    daemon = ("import os, time\n"
              "if os.fork() == 0:\n"
              "    os.setsid()\n"
              "    if os.fork() == 0:\n"
              f"        open('/proc/self/comm', 'w').write('d{marker[-10:]}')\n"
              "        while True:\n            time.sleep(0.5)\n"
              "    os._exit(0)\n"
              "os.wait()\n")
    poison = ("import glob, os\n"
              "def _poisoned():\n"
              "    done = False\n"
              "    for path in glob.glob('/tmp/work/.cache/matplotlib/fontlist-*.json'):\n"
              "        for attempt in (lambda: open(path, 'w').write('{}'), lambda: os.chmod(path, 0o666),\n"
              "                        lambda: os.replace(os.devnull, path), lambda: os.unlink(path)):\n"
              "            try:\n                attempt()\n                done = True\n"
              "            except OSError:\n                pass\n"
              "    return done\n")
    hog = ("import os\nfor _ in range(30):\n"
           "    try:\n        if os.fork() == 0:\n            while True:\n                pass\n"
           "    except OSError:\n        break\n")
    return [
        Case("iso_honest", "the reference, graded next to the attacks", 6, HONEST),
        Case("iso_other_checkout", "reads the hidden suite of another course checkout on the host", 6,
             [_honest_unless(f"__import__('os').path.exists({hidden!r}) or "
                             f"__import__('os').path.exists({str(other)!r})"), MATMUL, COUNTER]),
        Case("iso_host_socket", "connects to a unix socket of the host (path and abstract)", 6,
             [connect + _honest_unless(f"_connects({str(sock)!r}) or _connects('\\0{abstract}')"), MATMUL, COUNTER]),
        # ctypes and os.fork are ways around a ban: the static check holds the banned part (matmul, 2
        # points) for a TA's review, so these honest-otherwise notebooks earn exactly 4.
        Case("iso_ipc_and_files", "creates SysV IPC objects and files in world-writable host folders", 4,
             [ipc, *HONEST]),
        Case("iso_daemon", "leaves a double-forked daemon behind", 4, [daemon, *HONEST]),
        Case("iso_font_cache", "rewrites the matplotlib font list every worker shares", 6,
             [poison + _honest_unless("_poisoned()"), MATMUL, COUNTER]),
        Case("iso_cpu_hog", "thirty busy children; defines nothing", 0, [hog], outcomes={"student"}),
    ]


def host_ipc_keys() -> set[int]:
    """Keys of the host's SysV shared memory segments, message queues and semaphores."""
    keys = set()
    for kind in ("shm", "msg", "sem"):
        try:
            lines = open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]
        except OSError:
            continue
        keys.update(int(line.split()[0]) for line in lines if line.split())
    return keys


def host_process_names() -> set[str]:
    import os

    names = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                names.add(open(f"/proc/{entry}/comm").read().strip())
            except OSError:
                continue
    return names

