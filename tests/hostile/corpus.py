"""Hostile and broken submissions, replayed against the engine fixture course (m00-engine).

Each case is the code a student might submit and the exact score it must earn: only what
honest computation earned. The honest reference earns 6 (add 2, matmul 2, counter 2; counter's
points are 1 + 0.5 + 0.5: starts, chains, refuses a negative start).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
import pytest

from coursekit.grading.sandbox import namespaces_available
from coursekit.grading.secret import init_secret, secret_path
from tests.hostile import bans

ENGINE_COURSE = Path(__file__).resolve().parents[1] / "fixtures" / "engine_course"

ADD = "def add(a, b):\n    return a + b\n"
MATMUL = ("import numpy as np\n"
          "def matmul(A, B):\n"
          "    C = np.zeros((A.shape[0], B.shape[1]))\n"
          "    for i in range(A.shape[0]):\n"
          "        for j in range(B.shape[1]):\n"
          "            C[i, j] = sum(A[i, t] * B[t, j] for t in range(A.shape[1]))\n"
          "    return C\n")
COUNTER = ("class Counter:\n"
           "    def __init__(self, start):\n"
           "        if start < 0:\n            raise ValueError('start must be >= 0')\n"
           "        self.count = start\n"
           "    def tick(self):\n        self.count += 1\n        return self\n")
HONEST = [ADD, MATMUL, COUNTER]


@dataclass
class Case:
    name: str
    why: str
    score: float
    cells: list[str] | None = None            # code cells of a v4 notebook
    raw: Callable[[dict], bytes] | None = None  # or the file's bytes (context: paths of the run)
    suffix: str = ".ipynb"
    outcomes: set[str] = field(default_factory=set)  # outcomes that must appear among the tests
    status: str = "ok"                        # "invalid": not a gradable notebook (counts as a grading error)


def notebook_bytes(cells: list[str]) -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return nbformat.writes(notebook).encode()


def _v3(context: dict) -> bytes:
    cells = [{"cell_type": "code", "input": source, "language": "python", "outputs": [], "metadata": {}}
             for source in HONEST]
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
                       "worksheets": [{"cells": cells, "metadata": {}}]}).encode()


def _huge(context: dict) -> bytes:
    padding = nbformat.v4.new_markdown_cell("x" * (100 * 1024 * 1024))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in HONEST] + [padding]
    return nbformat.writes(notebook).encode()


def cases(context: dict) -> list[Case]:
    """``context``: course_root, out_dir and port (a loopback server on the grading host)."""
    root, out, port = context["course_root"], context["out_dir"], context["port"]
    return [
        Case("honest_full", "the reference, for comparison", 6, HONEST),
        Case("honest_partial", "a wrong matmul: loses only matmul", 4,
             [ADD, "import numpy as np\ndef matmul(A, B):\n    return np.zeros((A.shape[0], B.shape[1]))\n", COUNTER]),
        Case("loop_at_import", "an infinite loop while the notebook loads", 0,
             ["while True:\n    pass\n", *HONEST], outcomes={"timeout"}),
        Case("loop_in_function", "add never returns: only add's tests lose", 4,
             ["def add(a, b):\n    while True:\n        pass\n", MATMUL, COUNTER], outcomes={"timeout"}),
        Case("sleep_past_limit", "tick sleeps past the test limit", 5.5,
             [ADD, MATMUL, COUNTER.replace("self.count += 1", "import time; time.sleep(1000)")],
             outcomes={"timeout"}),
        Case("memory_bomb", "add allocates until the memory limit", 4,
             ["def add(a, b):\n    hog = []\n    while True:\n        hog.append(bytearray(10**8))\n", MATMUL, COUNTER]),
        Case("fork_bomb", "forks forever at import", 0,
             ["import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", *HONEST],
             outcomes={"timeout"}),
        Case("exit_at_import", "os._exit(0) kills the worker while loading", 0,
             ["import os\nos._exit(0)\n", *HONEST], outcomes={"crashed"}),
        Case("sys_exit_at_import", "sys.exit(0) stops one cell; the rest still counts", 6,
             ["import sys\nsys.exit(0)\n", *HONEST]),
        Case("kill_parent", "tries to kill the grader; it may not", 6,
             ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", *HONEST]),
        Case("huge_output", "prints 200 MB while loading", 6,
             ["line = 'spam' * 250_000\nfor _ in range(200):\n    print(line)\n", *HONEST]),
        Case("forge_results", "writes results.json with a perfect score wherever it can", 0,
             [f"import json, os\nforged = {{'score': 1000, 'tests': []}}\n"
              f"for d in ['.', '/tmp', '/autograder/results', {str(out)!r}, {str(out / 'forge_results')!r}, "
              f"os.path.expanduser('~')]:\n"
              f"    try:\n        os.makedirs(d, exist_ok=True)\n"
              f"        json.dump(forged, open(os.path.join(d, 'results.json'), 'w'))\n"
              f"    except OSError:\n        pass\n",
              "def add(a, b):\n    return 0\n"]),
        Case("monkeypatch", "patches pytest, numpy.testing and builtins in its own process", 0,
             ["import builtins, pytest, numpy.testing\n"
              "pytest.approx = lambda *a, **k: True\n"
              "numpy.testing.assert_allclose = lambda *a, **k: None\n"
              "builtins.isinstance = lambda *a: True\n",
              "def add(a, b):\n    return -1\n"]),
        Case("read_hidden", "looks for the hidden tests and returns them", 0,
             ["import os\ndef add(a, b):\n    found = []\n"
              f"    for top in [{str(root)!r}, '/work', '/autograder', '/root', '/home']:\n"
              "        for dirpath, _, files in os.walk(top):\n"
              "            for name in files:\n"
              "                if name.endswith('.py') and ('hidden' in name or 'suites' in dirpath):\n"
              "                    try:\n                        found.append(open(os.path.join(dirpath, name)).read())\n"
              "                    except OSError:\n                        pass\n"
              "    return '\\n'.join(found) or 'nothing found'\n"]),
        Case("eq_always_true", "returns objects that claim to equal anything", 0,
             ["class Liar:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
              "    def __array__(self, *a, **k):\n        raise TypeError('no')\n"
              "def add(a, b):\n    return Liar()\n"
              "def matmul(A, B):\n    return Liar()\n"
              "class Counter:\n    def __init__(self, start):\n        self.count = Liar()\n"
              "    def tick(self):\n        return self\n"]),
        Case("network", "add fetches the answer from a server on the grading host", 4,
             ["import socket\ndef add(a, b):\n"
              f"    for host in ['127.0.0.1', '1.1.1.1']:\n"
              f"        try:\n            socket.create_connection((host, {port}), timeout=2).close()\n"
              "            return a + b\n        except OSError:\n            pass\n"
              "    return None\n", MATMUL, COUNTER]),
        Case("delete_course_files", "deletes the hidden suite and the solutions it can find", 6,
             ["import shutil, os\n"
              f"shutil.rmtree({str(root / 'autograder')!r}, ignore_errors=True)\n"
              f"shutil.rmtree({str(root / 'source')!r}, ignore_errors=True)\n"
              f"shutil.rmtree({str(out)!r}, ignore_errors=True)\n", *HONEST]),
        Case("invalid_json", "not JSON at all", 0, raw=lambda c: b'{"cells": [ this is not json', status="invalid"),
        Case("not_a_notebook", "a Python file renamed", 0, raw=lambda c: ADD.encode(), suffix=".py", status="invalid"),
        Case("empty_notebook", "a valid notebook with no cells", 0, cells=[]),
        Case("nbformat_v3", "an old notebook format, converted", 6, raw=_v3),
        Case("huge_notebook", "a 100 MB notebook", 0, raw=_huge, status="invalid"),
        Case("non_utf8", "bytes that are not UTF-8", 0, raw=lambda c: b'{"cells": ["\xff\xfe\xfa"]}', status="invalid"),
        *bans.cases(Case, ADD, COUNTER),  # ways around the from-scratch matmul ban (tests/hostile/bans.py)
    ]


def write(case: Case, folder: Path, context: dict) -> Path:
    path = folder / f"{case.name}{case.suffix}"
    data = case.raw(context) if case.raw else notebook_bytes(case.cells or [])
    path.write_bytes(data)
    return path


def engine_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the engine fixture course with its own secret, for one hostile batch.

    Skips where the full sandbox cannot run: these batches prove what it holds back.
    """
    if not namespaces_available():
        pytest.skip("the full sandbox needs root with namespaces (CI and the grading image have them)")
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ENGINE_COURSE, course, dirs_exist_ok=True, ignore=shutil.ignore_patterns("secret"))
    init_secret(secret_path(course))  # what `course secret init` does; hidden inputs depend on it
    return course
