"""A long-lived trusted grading process per slot: it imports once, then forks one child per submission.

Starting a fresh interpreter per submission cost about 1.7 s of imports and 1 s of shutdown each
time. The server (``python -m coursekit.grading.pool``) imports pytest, numpy and the grading engine
once (and torch when the milestone's suites use it), then for each request forks a child that grades
ONE submission with run_one.run() and leaves with ``os._exit``: each submission starts from the same
pre-imported, never-used state, and nothing a submission left on the trusted side reaches the next.

Safety of fork: the server holds no threads when it forks, checked before every fork (if a thread
appeared anyway, that submission is graded in a fresh interpreter instead). So BLAS/OpenMP pools,
which start at import, run single-threaded in the trusted grading process, server and children alike:
the trusted side only checks results, a batch already runs one grading per core, and the student's
worker was single-threaded on CPU before. The server enforces
each submission's budget (SIGKILL of the child, like ``subprocess.run(timeout=...)`` did); a child
that crashes only ends itself, and a server that dies is restarted by its client for the next one.

Protocol: one JSON line per request on the server's stdin, one JSON line per reply on its stdout.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

# Thread pools that start at import time (OpenBLAS at numpy import) must stay single-threaded, or fork
# would copy a process whose other threads may hold locks.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# The kit's own modules may read the environment (COURSE_FILE) when imported: the child imports them.
NOT_PRELOADED = {"coursekit", "coursekit_student", "conftest", "__future__"}
_replies: int | None = None  # the server's reply channel (a child closes it at once)


class GraderProcessError(Exception):
    """The grading server itself stopped or answered nonsense (it is restarted for the next request)."""


def preloads_for(test_dirs: list[Path]) -> list[str]:
    """Installed modules the milestone's tests import (anywhere in a file), to import once in the server.

    torch, scipy and scikit-learn cost a second or more each; imported in the server, every child
    finds them in sys.modules. The standard library, the kit and the suites' own files are left out.
    """
    names: set[str] = set()
    for folder in test_dirs:
        if not folder.is_dir():
            continue
        local = {path.stem for path in folder.rglob("*.py")}
        for path in folder.rglob("*.py"):
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except (OSError, SyntaxError, ValueError):
                continue  # pytest reports it when it collects the file
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    # `from scipy import stats` imports a submodule; a name that is not one is skipped later
                    found = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                else:
                    continue
                names.update(n for n in found if n.split(".")[0] not in local | NOT_PRELOADED
                             and n.split(".")[0] not in sys.stdlib_module_names)
    return sorted(names)


def import_all(names: list[str]) -> None:
    """Import each module of ``names`` (from preloads_for) that imports; skip the rest."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - not a module, or broken: the test that needs it reports it
            pass


# ---------------------------------------------------------------------------------------------- client
class GradingServer:
    """Client handle of one server process; used by one thread at a time (one per batch slot)."""

    def __init__(self, env: dict[str, str], preload: list[str] | None = None, *, lean: bool = False):
        self.env, self.preload, self.lean = dict(env), list(preload or []), lean
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        env = dict(self.env, **{name: "1" for name in THREAD_VARIABLES})
        # The server's own errors (an import that fails) land here; a child's output goes to its own log.
        self._errors = tempfile.TemporaryFile()
        arguments = ["--lean"] if self.lean else self.preload
        self.process = subprocess.Popen([sys.executable, "-m", "coursekit.grading.pool", *arguments],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                                        env=env, close_fds=True)

    def grade(self, config_path: Path, log_path: Path, budget: float) -> dict:
        """Grade one submission; returns {"exit": status, "timed_out": bool} as seen by the server."""
        if self.process is not None and self.process.poll() is not None:
            self.close()  # it died between two submissions: a fresh one, transparently
        if self.process is None:
            self.start()
        assert self.process and self.process.stdin and self.process.stdout
        request = {"config": str(config_path), "log": str(log_path), "budget": float(budget)}
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
            # The server enforces the budget; the margin covers its own start-up (imports) and a kill.
            line = _read_line(self.process.stdout, deadline=time.monotonic() + budget + 120)
            reply = json.loads(line)
            if not isinstance(reply, dict) or "exit" not in reply:
                raise ValueError(f"unexpected reply {line[:200]!r}")
            return reply
        except (OSError, ValueError, TimeoutError) as exc:
            code, errors = self.process.poll(), self._error_text()
            self.close()
            raise GraderProcessError(f"the grading server stopped ({exc}; exit {code}): {errors}") from None

    def _error_text(self) -> str:
        try:
            self._errors.seek(0)
            return self._errors.read().decode("utf-8", errors="replace").strip()[-2000:]
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        if self.process is None:
            return
        try:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            if self.process.stdout:
                self.process.stdout.close()
            self._errors.close()
            self.process = None


class ServerPool:
    """A batch's servers, one per slot, all started at once (they import while the batch gets going).

    Each submission leases a free server for its whole grading, so a server serves one thread at a time.
    """

    def __init__(self, count: int, factory: Callable[[], GradingServer]):
        self._servers = [factory() for _ in range(count)]
        self._free: queue.Queue[GradingServer] = queue.Queue()
        for server in self._servers:
            self._free.put(server)

    @contextmanager
    def lease(self) -> Iterator[GradingServer]:
        server = self._free.get()
        try:
            yield server
        finally:
            self._free.put(server)

    def call(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        """``function(server=<a leased server>, **kwargs)``, e.g. grade_one."""
        with self.lease() as server:
            return function(server=server, **kwargs)

    def close(self) -> None:
        for server in self._servers:
            server.close()

    def __enter__(self) -> "ServerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(stream, deadline: float) -> str:
    data = b""
    fd = stream.fileno()
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError("end of stream")
            data += chunk
            if len(data) > 1_000_000:
                raise ValueError("reply too long")
    return data.decode()


# ---------------------------------------------------------------------------------------------- server
def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: trust the interpreter's own count
        import threading

        return threading.active_count()


def _die_with(server_pid: int) -> None:
    """A child whose server died must not go on grading (its client has already written an error)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the server's client still reports the failure
        return
    if os.getppid() != server_pid:  # the server died before prctl took effect
        os._exit(1)


def _child(config_path: str, log_path: str, server_pid: int) -> None:
    """In the forked child: grade one submission, write results, and leave without interpreter shutdown."""
    code = 1
    try:
        _die_with(server_pid)
        if _replies is not None:
            os.close(_replies)  # if the server dies, its client must see the channel close at once
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - the server's request stream is not the child's
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from coursekit.grading.run_one import main

        main([config_path])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - becomes this student's grader_error, like a crashed process
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _spawn(config_path: str, log_path: str) -> tuple[int, subprocess.Popen | None]:
    if _threads() == 1:
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            _child(config_path, log_path, server_pid)
        return pid, None
    # A thread exists (something started one at import): forking would be unsafe, so pay for a fresh one.
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "coursekit.grading.run_one", config_path],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    return process.pid, process


def _wait(pid: int, process: subprocess.Popen | None, budget: float) -> tuple[int, bool]:
    """(exit status as subprocess reports it, timed out?)."""
    deadline = time.monotonic() + budget
    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        if pidfd is not None:
            select.select([pidfd], [], [], remaining)
        else:
            time.sleep(min(0.01, remaining))
    if pidfd is not None:
        os.close(pidfd)
    if process is not None:
        process.returncode = os.waitstatus_to_exitcode(status)  # already reaped here
    return os.waitstatus_to_exitcode(status), timed_out


def serve(preload: list[str]) -> None:
    """``preload`` names modules to import before the first fork; ``["--lean"]``: a server that grades
    one submission, so it imports only what launches the student's worker and forks as soon as asked;
    its child imports pytest and the suite while the worker starts (run_one)."""
    # Replies go on a private copy of stdout; fd 1 itself points at stderr so a stray print from an
    # imported library can never corrupt the protocol.
    global _replies
    _replies = replies = os.dup(1)
    os.dup2(2, 1)
    import coursekit.grading.run_one  # noqa: F401

    lean = preload == ["--lean"]
    if lean:
        preload = []
    else:
        import IPython.core.inputtransformer2  # noqa: F401 - imported once here, inherited by every child
        import numpy  # noqa: F401
        import pytest  # noqa: F401
        import pytest_timeout  # noqa: F401

        import coursekit.grading.plugin  # noqa: F401

    import_all(preload)
    if _threads() > 1:
        print(f"coursekit.grading.pool: an import started a thread; each submission gets a fresh interpreter "
              f"instead of a fork (preloaded: {', '.join(preload) or 'nothing'})", file=sys.stderr)
    for line in sys.stdin:
        request = json.loads(line)
        pid, process = _spawn(str(request["config"]), str(request["log"]))
        status, timed_out = _wait(pid, process, float(request["budget"]))
        os.write(replies, (json.dumps({"exit": status, "timed_out": timed_out}) + "\n").encode())


if __name__ == "__main__":
    serve(sys.argv[1:])
    os._exit(0)  # the client closed our stdin: nothing left to write, skip the costly interpreter shutdown
