"""Leak guard: no solution line and no hidden-test secret may appear anywhere in release/.

Secrets ("needles") come from two places:

* **Solution lines**: every line nbgrader's ClearSolutions/ClearHiddenTests remove from a source
  notebook (found by diffing each source cell against its compiled cell, so the regions are
  parsed by nbgrader, not by us).
* **Hidden suites** (``autograder/suites/<id>/**``): every line of their text files, the string
  and number literals of their ``.py`` files, the string/number values of ``.json`` files, the
  values of small numeric ``.npy`` arrays, the names of their data files, and the bytes of every
  file (a copied file is found by its sha256).

The rule for what counts (documented in AUTHORING terms, so authors can predict it):

* a **line** counts when, with whitespace collapsed, it has at least ``MIN_LINE`` (20)
  characters and is not a comment, a BEGIN/END marker, an ``import``/``from`` line, or a
  ``@hint(...)`` line (hints are student-facing by design);
* a **string literal** counts when it has at least ``MIN_STRING`` (12) characters;
* a **number** counts when it has at least ``MIN_DIGITS`` (6) significant digits; it matches a
  number in release/ printed with 6 or more significant digits that rounds to it;
* a secret that an author also wrote in public material of the course (course.yaml, any notebook
  outside its solution regions, any public test, the student package) is public, not a leak; helper files
  do not count as public material, so a solution pasted into one is still caught;
* ``hint(...)``, ``forbid(...)`` and ``part(...)`` arguments are not secrets (student-facing text
  and module/part names).

Every text file under release/ is scanned line by line (``.ipynb`` JSON lines are decoded, so
reported line numbers are those of the file on disk).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from coursekit.compiler.notebook import compile_notebook, read_notebook
from coursekit.config import Course, Milestone

MIN_LINE = 20
MIN_STRING = 12
MIN_DIGITS = 6
MAX_SCAN_BYTES = 20_000_000  # larger release files are checked by hash only
MAX_NPY_VALUES = 100_000
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
PUBLIC_CALLS = ("hint", "forbid", "part")
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass(frozen=True)
class Leak:
    path: str
    line: int
    what: str  # "solution line", "hidden test line", ...
    origin: str  # where the secret comes from: file:line
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} from {self.origin} appears in the release: {self.text[:100]!r}"


def normalise(line: str) -> str:
    return " ".join(line.split())


def _meaningful_line(line: str, *, hidden: bool) -> str | None:
    text = normalise(line)
    if len(text) < MIN_LINE or text.startswith("#") or any(m in text for m in MARKERS):
        return None
    if hidden and (text.startswith(("import ", "from ")) or text.startswith("@hint(")):
        return None
    return text


def _significant_digits(token: str) -> int:
    mantissa = re.split(r"[eE]", token.lstrip("+-"))[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "." not in token else len(mantissa)


class Needles:
    """The secrets, indexed for fast substring and number lookup."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}  # normalised text -> origin
        self.kinds: dict[str, str] = {}
        self.values: dict[float, str] = {}  # number -> origin
        self.hashes: dict[str, str] = {}  # sha256 -> origin
        self._index: dict[str, list[str]] | None = None
        self._rounded: dict[int, dict[float, str]] | None = None

    def add_text(self, text: str, origin: str, kind: str) -> None:
        self.texts.setdefault(text, origin)
        self.kinds.setdefault(text, kind)
        self._index = None

    def add_number(self, value: float, origin: str) -> None:
        self.values.setdefault(value, origin)
        self._rounded = None

    def discard_public(self, public: set[str]) -> None:
        """Drop secrets the author also wrote in public material (see module docstring)."""
        blob = "\n".join(sorted(public))
        for text in [t for t in self.texts if t in blob]:
            del self.texts[text]
        shown = {(d, float(t)) for t in NUMBER.findall(blob) if (d := min(_significant_digits(t), 17)) >= MIN_DIGITS}
        digits = {d for d, _ in shown}
        for value in [v for v in self.values if any((d, _round(v, d)) in shown for d in digits)]:
            del self.values[value]
        self._index = self._rounded = None

    def merge(self, other: "Needles") -> None:
        for text, origin in other.texts.items():
            self.add_text(text, origin, other.kinds[text])
        for value, origin in other.values.items():
            self.add_number(value, origin)
        self.hashes.update(other.hashes)

    def __len__(self) -> int:
        return len(self.texts) + len(self.values) + len(self.hashes)

    def _prefix_index(self) -> dict[str, list[str]]:
        if self._index is None:
            index: dict[str, list[str]] = defaultdict(list)
            for text in self.texts:
                index[text[:MIN_STRING]].append(text)
            self._index = dict(index)
        return self._index

    def find_texts(self, line: str) -> list[str]:
        index = self._prefix_index()
        hits: list[str] = []
        for start in range(len(line) - MIN_STRING + 1):
            for text in index.get(line[start:start + MIN_STRING], ()):
                if line.startswith(text, start) and text not in hits:
                    hits.append(text)
        return hits

    def find_numbers(self, line: str) -> list[tuple[str, str]]:
        if self._rounded is None:
            self._rounded = {d: {_round(v, d): o for v, o in self.values.items()} for d in range(MIN_DIGITS, 18)}
        hits = []
        for token in NUMBER.findall(line):
            digits = min(_significant_digits(token), 17)
            if digits >= MIN_DIGITS:
                origin = self._rounded[digits].get(float(token))
                if origin:
                    hits.append((token, origin))
        return hits


def _round(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (how a print of it would read)."""
    return float(f"{value:.{digits - 1}e}")


# ---------------------------------------------------------------- collecting secrets


def _cell_lines(nb) -> list[list[str]]:
    return [cell.source.split("\n") for cell in nb.cells]


def solution_secrets(notebook: Path, label: str, needles: Needles) -> set[str]:
    """Add the lines the compiler removes; return the public lines of the compiled notebook."""
    source = read_notebook(notebook)
    released = compile_notebook(source, label=label)
    public: set[str] = set()
    for index, (before, after) in enumerate(zip(_cell_lines(source), _cell_lines(released))):
        public |= {normalise(line) for line in after if normalise(line)}
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for tag, a0, a1, _, _ in matcher.get_opcodes():
            if tag in ("delete", "replace"):
                for line in before[a0:a1]:
                    text = _meaningful_line(line, hidden=False)
                    if text:
                        needles.add_text(text, f"{label} cell {index}", "solution line")
    return public


def _py_literals(path: Path, origin: str, needles: Needles) -> None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return
    # hint() text is student-facing by design; forbid()/part() arguments are module and part names.
    hints = {id(arg) for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in PUBLIC_CALLS
             for arg in node.args}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in hints or isinstance(node.value, bool):
            continue
        if isinstance(node.value, str) and len(normalise(node.value)) >= MIN_STRING:
            for piece in node.value.split("\n"):
                if len(normalise(piece)) >= MIN_STRING:
                    needles.add_text(normalise(piece), f"{origin}:{node.lineno}", "hidden test string")
        elif isinstance(node.value, (int, float)):
            token = repr(node.value)
            if _significant_digits(token) >= MIN_DIGITS:
                needles.add_number(float(node.value), f"{origin}:{node.lineno}")


def _json_values(value: object, origin: str, needles: Needles) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _json_values(key, origin, needles)
            _json_values(item, origin, needles)
    elif isinstance(value, list):
        for item in value:
            _json_values(item, origin, needles)
    elif isinstance(value, str) and len(normalise(value)) >= MIN_STRING:
        needles.add_text(normalise(value), origin, "hidden expected value")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if _significant_digits(repr(value)) >= MIN_DIGITS:
            needles.add_number(float(value), origin)


def _npy_values(path: Path, origin: str, needles: Needles) -> None:
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError):
        return
    if array.dtype.kind in "fiu" and array.size <= MAX_NPY_VALUES:
        for value in np.unique(array.ravel()):
            if _significant_digits(repr(float(value))) >= MIN_DIGITS:
                needles.add_number(float(value), origin)


def hidden_secrets(suite: Path, label: str, needles: Needles) -> None:
    for path in sorted(p for p in suite.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = f"{label}/{path.relative_to(suite).as_posix()}"
        needles.hashes[hashlib.sha256(path.read_bytes()).hexdigest()] = rel
        if path.suffix not in (".py", ".md") and len(path.name) >= 8:
            needles.add_text(path.name, rel, "hidden data file name")
        if path.suffix == ".npy":
            _npy_values(path, rel, needles)
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".json":
            try:
                _json_values(json.loads(text), rel, needles)
            except json.JSONDecodeError:
                pass
        if path.suffix == ".py":
            _py_literals(path, rel, needles)
        for number, line in enumerate(text.splitlines(), 1):
            meaningful = _meaningful_line(line, hidden=True)
            if meaningful:
                needles.add_text(meaningful, f"{rel}:{number}", "hidden test line")


def _public_test_lines(milestone_dir: Path) -> set[str]:
    public: set[str] = set()
    for path in sorted((milestone_dir / "tests").rglob("*.py")) if (milestone_dir / "tests").is_dir() else []:
        public |= {normalise(line) for line in path.read_text(encoding="utf-8").splitlines() if normalise(line)}
    return public


def _text_lines(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {normalise(line) for line in path.read_text(encoding="utf-8").splitlines() if normalise(line)}


def _package_lines() -> set[str]:
    """The student package's own text: public by construction (it ships in every release)."""
    import coursekit_student

    lines: set[str] = set()
    for path in sorted(Path(coursekit_student.__file__).parent.rglob("*.py")):
        lines |= {normalise(line) for line in path.read_text(encoding="utf-8").splitlines() if normalise(line)}
    return lines


def collect(course: Course, course_root: Path, milestones: list[Milestone] | None = None) -> Needles:
    """Every milestone's secrets, minus what any author wrote in public material of the course.

    Public material is what the compiler derives from authored sources: the notebooks outside
    their solution regions, the public tests, and the student package. (Helper files are not
    counted as public: a solution pasted into one must still be caught.) Boilerplate such as
    ``X = np.asarray(X, dtype=float)`` that one milestone publishes is therefore not a secret of
    another; an author who publishes an earlier milestone's solution on purpose is not blocked.
    """
    needles = Needles()
    # course.yaml is public (AUTHORING: "everyone"); datasets.json and README.md derive from it.
    public = _package_lines() | _text_lines(course_root / "course.yaml")
    for milestone in milestones if milestones is not None else course.milestones:
        notebook = course_root / milestone.notebook
        if notebook.is_file():
            public |= solution_secrets(notebook, milestone.notebook, needles)
            public |= _public_test_lines(notebook.parent)
        suite = course_root / "autograder" / "suites" / milestone.id
        if suite.is_dir():
            hidden_secrets(suite, f"autograder/suites/{milestone.id}", needles)
    needles.discard_public(public)
    return needles


# ---------------------------------------------------------------- scanning release/


def _decoded_lines(path: Path, text: str) -> list[str]:
    """Lines of a file as a reader sees them: .ipynb JSON string lines are un-escaped in place."""
    lines = text.splitlines()
    if path.suffix != ".ipynb":
        return lines
    decoded = []
    for line in lines:
        body = line.strip().rstrip(",")
        if body.startswith('"'):
            # `"text\n",` (a source line) or `"key": "value"` (metadata): decode what we can.
            candidate = body if not re.match(r'^"[^"]*":\s', body) else body.split(":", 1)[1].strip()
            try:
                value = json.loads(candidate)
                decoded.append(value if isinstance(value, str) else line)
                continue
            except json.JSONDecodeError:
                pass
        decoded.append(line)
    return decoded


def scan(release: Path, needles: Needles, *, display_root: Path | None = None) -> list[Leak]:
    leaks: list[Leak] = []
    shown = display_root or release.parent
    for path in sorted(p for p in release.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        name = path.relative_to(shown).as_posix() if path.is_relative_to(shown) else str(path)
        data = path.read_bytes()
        origin = needles.hashes.get(hashlib.sha256(data).hexdigest())
        if origin:
            leaks.append(Leak(name, 1, "copy of hidden file", origin, path.name))
        if len(data) > MAX_SCAN_BYTES or b"\0" in data[:4096]:
            continue
        for number, line in enumerate(_decoded_lines(path, data.decode("utf-8", errors="replace")), 1):
            text = normalise(line)
            for hit in needles.find_texts(text):
                leaks.append(Leak(name, number, needles.kinds[hit], needles.texts[hit], hit))
            for token, where in needles.find_numbers(text):
                leaks.append(Leak(name, number, "hidden expected number", where, token))
    return leaks


def check(course: Course, course_root: Path, release: Path | None = None) -> list[Leak]:
    """Scan the whole release/ against the secrets of every milestone in the course."""
    return scan(release or course_root / "release", collect(course, course_root), display_root=course_root)


def main(argv: list[str] | None = None) -> int:
    """``python -m coursekit.compiler.leakguard [course.yaml]``: for CI; exit 1 on any leak."""
    from coursekit.config import CourseConfigError, load_course

    args = argv if argv is not None else sys.argv[1:]
    course_file = Path(args[0] if args else "course.yaml")
    try:
        course = load_course(course_file, check_files=False)
    except CourseConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    leaks = check(course, course_file.resolve().parent)
    for leak in leaks:
        print(leak, file=sys.stderr)
    print(f"leak guard: {len(leaks)} leak(s) in release/" if leaks else "leak guard: release/ is clean")
    return 1 if leaks else 0


if __name__ == "__main__":
    raise SystemExit(main())
