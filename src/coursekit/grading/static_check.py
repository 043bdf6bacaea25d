"""Trusted-side static check: which banned parts does the submitted code try to get around?

Runs in the grading process on the submitted source (stdlib ``ast``; the code is parsed, never
run). The worker's ban (``coursekit_student.forbid`` + ``shield``) refuses banned calls while a
test runs; what it cannot see is preparation done before: a banned function captured under an
alias, a string-built attribute name, frame or ``gc`` digging at import time, a helper thread.
A part whose code does any of this is *held*: scored 0 with a staff-only reason (cell, line)
until a TA releases it (``course release-hold``). Never shown to the student.

Which code belongs to which test: the names a test reads from ``submission`` (found in the test
files), and every top-level definition those reach by name, transitively. Top-level statements
run at import for every part, so evasion tools there hold every banned part.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from coursekit.grading.notebook import CodeCell
from coursekit_student.families import MATMUL, covers, expand

# Dotted names whose use is a way around a ban (prefixes: "gc" covers gc.get_objects ...).
EVASIONS: dict[str, str] = {
    "ctypes": "calls compiled code through ctypes", "cffi": "calls compiled code through cffi",
    "gc": "digs objects out with gc",
    **{f"inspect.{name}": "walks frames or unwraps functions" for name in (
        "currentframe", "stack", "trace", "getouterframes", "getinnerframes", "getclosurevars", "unwrap",
        "getmembers", "getattr_static")},
    "threading": "runs work in a thread", "_thread": "runs work in a thread",
    "multiprocessing": "runs work in another process", "concurrent": "runs work in another thread/process",
    "subprocess": "runs another process", "os.system": "runs another process", "os.popen": "runs another process",
    "os.fork": "runs work in another process", "os.forkpty": "runs work in another process",
    **{f"os.{name}": "replaces the process" for name in ("execv", "execve", "execl", "execle", "execlp", "execlpe",
                                                         "execvp", "execvpe")},
    **{f"os.{name}": "runs another process" for name in ("spawnv", "spawnve", "spawnl", "spawnle", "spawnlp",
                                                         "spawnlpe", "spawnvp", "spawnvpe", "posix_spawn",
                                                         "posix_spawnp")},
    "pty": "runs another process",  # (os.kill is the sandbox's business, not a way around a ban)
    "sys.setprofile": "switches the ban's hook off", "sys.settrace": "switches the ban's hook off",
    "sys._getframe": "walks the stack", "sys._current_frames": "walks the stack", "sys.modules": "edits loaded modules",
    "sys.meta_path": "edits the import system", "sys.path_hooks": "edits the import system",
    "sys.addaudithook": "adds an audit hook", "importlib": "imports by a computed name", "builtins": "edits builtins",
    "marshal": "builds code objects", "types.CodeType": "builds code objects", "types.FunctionType": "builds functions",
    "pickle.load": "unpickles code", "pickle.loads": "unpickles code", "dill": "unpickles code",
    "code.interact": "runs code from strings", "code.InteractiveInterpreter": "runs code from strings",
    "operator.attrgetter": "looks attributes up by string", "operator.methodcaller": "calls methods by string",
    "coursekit": "reaches into the grader", "coursekit_student.forbid": "reaches into the ban",
    "coursekit_student.shield": "reaches into the ban", "coursekit_student.families": "reaches into the ban",
}
BUILTIN_EVASIONS: dict[str, str] = {
    "exec": "runs code from a string", "eval": "runs code from a string", "compile": "compiles code from a string",
    "__import__": "imports by a computed name", "globals": "reads the module namespace",
    "vars": "reads a namespace", "breakpoint": "starts a debugger",
}
DUNDERS = {"__closure__", "cell_contents", "__wrapped__", "__globals__", "__code__", "__func__", "__defaults__",
           "__kwdefaults__", "__builtins__", "__subclasses__", "__getattribute__", "__import__", "__loader__",
           "__spec__", "f_back", "f_globals", "f_locals", "f_code", "tb_frame", "gi_frame", "cr_frame",
           "_implementation", "_invoke", "_forward", "guard_name", "__self__", "__setattr__", "__delattr__"}
MATMUL_DUNDERS = {"__matmul__", "__rmatmul__", "__imatmul__"}
FILE_READERS = {"open", "io.open", "os.open", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile"}


@dataclass(frozen=True)
class Hold:
    part: str
    reason: str
    cell: int
    line: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BanUse:
    """What one test bans and which submission names it calls."""

    part: str
    bans: tuple[str, ...]
    names: frozenset[str]


# ------------------------------------------------------------------ the tests' side
def _constants(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """Module-level ``NAME = ("a", "b")`` tuples of strings (how suites share ban lists)."""
    found: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values = _strings(node.value, found)
            if values is not None:
                found[node.targets[0].id] = values
    return found


def _strings(node: ast.expr, constants: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, ast.Starred) and isinstance(node.value, ast.Name):
        return constants.get(node.value.id)
    if isinstance(node, (ast.Tuple, ast.List)):
        out: list[str] = []
        for element in node.elts:
            values = _strings(element, constants)
            if values is None:
                return None
            out += values
        return tuple(out)
    return None


def _decorator_args(fn: ast.FunctionDef, name: str, constants: dict) -> tuple[str, ...] | None:
    for decorator in fn.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == name:
            return _strings(ast.Tuple(elts=list(decorator.args), ctx=ast.Load()), constants) or ()
    return None


def ban_uses(test_files: Iterable[Path]) -> list[BanUse]:
    """Per test: its part, its bans (``@forbid`` and ``kit(...).forbid``), the submission names it reads."""
    uses = []
    for path in test_files:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        constants = _constants(tree)
        helpers = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for fn in helpers.values():
            part = _decorator_args(fn, "part", constants)
            if not fn.name.startswith("test_") or not part:
                continue
            bans = list(_decorator_args(fn, "forbid", constants) or ())
            names: set[str] = set()
            seen, queue = set(), [fn]
            while queue:  # the test and the module-level helpers it calls
                node = queue.pop()
                if node.name in seen:
                    continue
                seen.add(node.name)
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "submission":
                        names.add(sub.attr)
                    elif isinstance(sub, ast.Call) and getattr(sub.func, "attr", None) == "forbid":
                        bans += _strings(ast.Tuple(elts=list(sub.args), ctx=ast.Load()), constants) or ()
                    elif isinstance(sub, ast.Name) and sub.id in helpers:
                        queue.append(helpers[sub.id])
            if bans:
                uses.append(BanUse(part=part[0], bans=tuple(bans), names=frozenset(names)))
    return uses


# ------------------------------------------------------------------ the submission's side
@dataclass
class _Stmt:
    cell: int
    node: ast.stmt


class _Program:
    """The submission's top-level statements, what they define, and the import aliases in play."""

    def __init__(self, cells: list[CodeCell]):
        self.statements: list[_Stmt] = []
        self.defines: dict[str, list[_Stmt]] = {}
        self.aliases: dict[str, str] = {}
        for cell in cells:
            try:
                tree = ast.parse(cell.source)
            except (SyntaxError, ValueError):  # the worker reports it; nothing of it runs
                continue
            for node in tree.body:
                stmt = _Stmt(cell.index, node)
                self.statements.append(stmt)
                for name in _bound_names(node):
                    self.defines.setdefault(name, []).append(stmt)
            for node in ast.walk(tree):  # imports anywhere (a function's local import too)
                self._alias(node)
        for stmt in self.statements:  # L = np.linalg: a module under another name
            node = stmt.node
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                dotted = self.resolve(node.value)
                if dotted is not None:
                    self.aliases.setdefault(node.targets[0].id, dotted)

    def _alias(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for (``np.linalg.inv`` -> ``numpy.linalg.inv``), if static."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            base = self.resolve(node.args[0])
            return f"{base}.{node.args[1].value}" if base else None
        return None

    def reachable(self, names: Iterable[str]) -> list[_Stmt]:
        """Top-level statements defining ``names`` and everything they use by name, transitively."""
        seen: set[int] = set()
        out: list[_Stmt] = []
        queue = list(names)
        done: set[str] = set()
        while queue:
            name = queue.pop()
            if name in done:
                continue
            done.add(name)
            for stmt in self.defines.get(name, []):
                if id(stmt) in seen:
                    continue
                seen.add(id(stmt))
                out.append(stmt)
                queue += [n.id for n in ast.walk(stmt.node) if isinstance(n, ast.Name) and n.id in self.defines]
        return out


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return []
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.With)):
        targets = [node.target] if isinstance(node, ast.For) else [i.optional_vars for i in node.items if i.optional_vars]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _is_definition(node: ast.stmt) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))


STRONG_IMPORTS = ("ctypes", "cffi", "gc", "_thread", "marshal", "builtins", "importlib", "coursekit",
                  "coursekit_student.forbid", "coursekit_student.shield", "coursekit_student.families")


def _evasion(program: _Program, node: ast.AST, *, matmul_banned: bool, top_level: bool = False) -> str | None:
    """Why ``node`` (one AST node) is a way around a ban, or None."""
    if isinstance(node, ast.Attribute):
        if node.attr in DUNDERS or (matmul_banned and node.attr in MATMUL_DUNDERS):
            return f"uses `{node.attr}`"
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in BUILTIN_EVASIONS \
            and node.id not in program.defines:
        return f"`{node.id}` {BUILTIN_EVASIONS[node.id]}"
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return "edits builtins"
    if isinstance(node, ast.Call):
        callee = node.func.id if isinstance(node.func, ast.Name) else None
        if callee in ("getattr", "setattr", "delattr", "hasattr") and (
                len(node.args) < 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str))):
            return f"`{callee}` with a computed attribute name"
        dotted = program.resolve(node.func) or (callee if callee not in program.defines else None)
        if not top_level and dotted in FILE_READERS and not (node.args and isinstance(node.args[0], ast.Constant)
                                           and str(node.args[0].value).startswith("/tmp/")):
            return f"reads a file (`{dotted}`)"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
        for module in modules:  # importing alone is harmless, except what has no honest use here
            hit = covers(STRONG_IMPORTS, module)
            if hit:
                return f"imports {module}: {EVASIONS[hit]}"
    if isinstance(node, (ast.Attribute, ast.Name)):
        dotted = program.resolve(node)
        hit = covers(tuple(EVASIONS), dotted) if dotted else None
        if hit:
            return f"`{dotted}` {EVASIONS[hit]}"
    return None


def _banned_use(program: _Program, node: ast.AST, banned: tuple[str, ...]) -> str | None:
    if isinstance(node, (ast.Attribute, ast.Name, ast.Call)):
        dotted = program.resolve(node)
        if dotted is not None:
            hit = covers(banned, dotted)
            if hit is not None:
                return f"uses `{dotted}` (banned here: {hit})"
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            hit = covers(banned, f"{node.module}.{alias.name}") or covers(banned, node.module)
            if hit is not None:
                return f"imports `{node.module}.{alias.name}` (banned here: {hit})"
    return None


def _maximal(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node, but of an attribute chain only its outermost part (``np.linalg.eigh``, not ``np.linalg``)."""
    inner: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and node.args:
            inner.add(id(node.args[0]))
    for node in ast.walk(tree):
        if id(node) not in inner or not isinstance(node, (ast.Name, ast.Attribute)):
            yield node


def check(cells: list[CodeCell], uses: list[BanUse]) -> list[Hold]:
    """Holds for every banned part whose code has a way around its ban (one per part: the first found)."""
    if not uses:
        return []
    program = _Program(cells)
    holds: dict[str, Hold] = {}
    banned_parts = sorted({u.part for u in uses})
    anywhere = any(MATMUL in expand(u.bans) for u in uses)
    for stmt in program.statements:  # import-time code runs before every part's tests
        if _is_definition(stmt.node) and not isinstance(stmt.node, (ast.Import, ast.ImportFrom)):
            continue
        for node in _maximal(stmt.node):
            reason = _evasion(program, node, matmul_banned=anywhere, top_level=True)
            if reason:
                for part in banned_parts:
                    holds.setdefault(part, Hold(part, f"import-time code {reason}", stmt.cell,
                                                getattr(node, "lineno", stmt.node.lineno)))
                break
    for use in uses:
        if use.part in holds:
            continue
        banned = expand(use.bans)
        matmul_banned = MATMUL in banned
        names = use.names or set(program.defines)
        for stmt in program.reachable(names):
            if use.part in holds:
                break
            for node in _maximal(stmt.node):
                reason = _evasion(program, node, matmul_banned=matmul_banned) or _banned_use(program, node, banned)
                if reason:
                    holds[use.part] = Hold(use.part, reason, stmt.cell, getattr(node, "lineno", stmt.node.lineno))
                    break
    return sorted(holds.values(), key=lambda h: h.part)


def holds_for(cells: list[CodeCell], test_dirs: Iterable[Path]) -> list[dict]:
    """The holds of a submission graded against the tests in ``test_dirs`` (as results.json stores them)."""
    files = [p for d in test_dirs if Path(d).is_dir() for p in sorted(Path(d).glob("test_*.py"))]
    return [h.as_dict() for h in check(cells, ban_uses(files))]
