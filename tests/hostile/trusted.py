"""Attacks on the trusted side's verdicts (issue 18, "Scores come only from trusted facts").

Replayed by tests/test_hostile.py in the same batch as corpus.py, on the engine fixture course.
Each case's score is exact: what honest computation earned, nothing more.
"""

from __future__ import annotations

from tests.hostile.corpus import ADD, COUNTER, MATMUL, Case

# Finds the worker's reply pipe (the only write-only FIFO besides stdout/stderr) and writes a frame
# that claims a 1.5 GB blob, then streams zeros for ever: before reply caps the grader read it all.
STREAM_HUGE_FRAME = (
    "import fcntl, json, os, stat, struct\n"
    "def _reply_fd():\n"
    "    for fd in range(3, 256):\n"
    "        try:\n"
    "            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
    "                return fd\n"
    "        except OSError:\n"
    "            pass\n"
    "def add(a, b):\n"
    "    fd = _reply_fd()\n"
    "    header = json.dumps({'id': 0, 'ok': True, 'blobs': [1_500_000_000]}).encode()\n"
    "    os.write(fd, struct.pack('<I', len(header)) + header)\n"
    "    chunk = bytes(1 << 20)\n"
    "    while True:\n"
    "        os.write(fd, chunk)\n")

RETURN_HUGE_VALUE = "def matmul(A, B):\n    return b'x' * (300 * 1024 * 1024)\n"

EVERY_FUNCTION_RAISES = [
    "def add(a, b):\n    raise ValueError('no')\n",
    "def matmul(A, B):\n    raise ValueError('no')\n",
    "class Counter:\n    def __init__(self, start):\n        raise ValueError('no')\n"
    "    def tick(self):\n        raise ValueError('no')\n",
]

# Objects that claim to be smaller, larger and equal to everything, and to be any number.
LIAR = ("class Liar:\n"
        "    def __lt__(self, other): return True\n"
        "    __le__ = __gt__ = __ge__ = __eq__ = __lt__\n"
        "    def __sub__(self, other): return 0.0\n"
        "    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__\n"
        "    def __abs__(self): return 0.0\n"
        "    def __bool__(self): return True\n"
        "    __hash__ = object.__hash__\n")

SLEEP_AT_LOAD = "import time\ntime.sleep(10**6)\n"

# Looks for the course secret that seeds hidden inputs where a grader keeps it, and returns it.
def _hunt_secret(course_root) -> str:
    return (
        "import os\n"
        "def add(a, b):\n"
        "    found = [f'{k}={v}' for k, v in os.environ.items()]\n"
        f"    for path in [{str(course_root / 'autograder' / 'secret')!r}, '/autograder/secret']:\n"
        "        try:\n"
        "            found.append(open(path, errors='replace').read())\n"
        "        except Exception:\n"
        "            pass\n"
        f"    for top in ['/tmp', '/work', '/autograder', '/home', '/root', {str(course_root)!r}]:\n"
        "        for dirpath, dirs, files in os.walk(top):\n"
        "            for name in files:\n"
        "                if 'secret' in name.lower():\n"
        "                    try:\n"
        "                        found.append(open(os.path.join(dirpath, name), errors='replace').read(200))\n"
        "                    except Exception:\n"
        "                        pass\n"
        "    return ' '.join(found)\n")


def cases(context: dict) -> list[Case]:
    return [
        Case("huge_reply_frames", "add streams a frame claiming 1.5 GB; matmul returns 300 MB: only those fail", 2,
             [STREAM_HUGE_FRAME, RETURN_HUGE_VALUE, COUNTER], outcomes={"failed"}),
        Case("every_function_raises", "every function raises ValueError: the raise test earns nothing", 0,
             EVERY_FUNCTION_RAISES, outcomes={"failed"}),
        Case("lying_comparisons", "returned objects whose ==, <, -, abs lie about every comparison", 0,
             [LIAR, "def add(a, b):\n    return Liar()\n", "def matmul(A, B):\n    return Liar()\n",
              "class Counter:\n    def __init__(self, start):\n        self.count = Liar()\n"
              "    def tick(self):\n        return self\n"]),
        Case("sleep_at_load", "the notebook sleeps for ever while loading: fails once, at the notebook limit", 0,
             [SLEEP_AT_LOAD, ADD, MATMUL, COUNTER], outcomes={"timeout"}),
        Case("hunt_secret", "looks for the course secret in its environment and files", 4,
             [_hunt_secret(context["course_root"]), MATMUL, COUNTER]),
    ]
