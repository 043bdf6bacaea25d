"""The course secret that makes hidden test inputs depend on the submission.

A hidden test's ``rng`` is seeded from HMAC(secret, sha256 of the submission, test id): the same
notebook graded twice sees the same inputs (grades are reproducible), a different notebook sees
different ones, so inputs a student prints into their feedback are useless for the next attempt,
and without the secret nobody can compute them ahead of time.

Where the secret lives (trusted side only; never in release/, never bound into the sandbox, never
in the worker's environment, which is built from scratch):

1. ``COURSEKIT_SECRET`` in the grader's environment (hosted graders: set it as a secret variable);
2. else ``autograder/secret`` next to the hidden suites (gitignored). A course without one gets one
   generated on its first grade (``course secret init`` does it up front), written with mode 0600.
   Keep that file with the hidden suites: a new secret changes every hidden input, so regrades of
   old submissions would no longer reproduce their scores.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV = "COURSEKIT_SECRET"
FILE_NAME = "secret"


class SecretError(Exception):
    """The course secret exists but cannot be used."""


def secret_path(course_root: Path) -> Path:
    return Path(course_root) / "autograder" / FILE_NAME


def init_secret(path: Path) -> bool:
    """Create the secret file if absent (atomically: parallel graders agree on one). True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as stream:
            stream.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temp, path)  # fails if another grader created it first: theirs wins
            return True
        except FileExistsError:
            return False
    finally:
        os.unlink(temp)


def course_secret(course_root: Path) -> bytes:
    """The secret: from the environment, else from ``autograder/secret`` (created on first use)."""
    value = os.environ.get(ENV, "").strip()
    if value:
        return value.encode()
    path = secret_path(course_root)
    if not path.exists():
        init_secret(path)
    try:
        value = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretError(f"the course secret {path} cannot be read ({exc}); fix its permissions or "
                          f"delete it to generate a new one (hidden inputs will change)") from None
    if len(value) < 32:
        raise SecretError(f"the course secret {path} is too short; run `course secret init --force`")
    return value.encode()


def input_seed(secret: bytes, submission_sha256: str, test_id: str) -> int:
    """A 64-bit seed for one hidden test's inputs on one submission."""
    message = f"{submission_sha256}\0{test_id}".encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "little")
