"""Make modules, functions and the ``@`` operator unavailable to student code for a while.

Used by the grader's worker (around each call a ``@forbid`` test makes) and by ``check()``
in the student's kernel. Three layers, because each alone has holes:

1. a profile hook sees every Python-level call into a banned module/function/class and every
   C-level call of a banned builtin (catches names captured before the ban, e.g.
   ``from numpy.linalg import eig`` at import time, and ``A.dot(B)``);
2. banned callables are swapped for raisers in their modules and in the student's namespace
   (catches C callables the profile hook cannot see, like ``np.dot`` in NumPy 2);
3. for ``"@"``, opcode tracing of *student* frames only, at the precomputed offsets of their
   ``@`` instructions (cheap: frames without ``@`` are not traced at all).

A violation is sticky: once recorded, the call counts as forbidden even if the student caught
the exception. A declared name bans its whole family (``families``: ``numpy.linalg`` also bans
SciPy's and PyTorch's linalg and NumPy's private gufuncs). In the grader's worker a ``Shield``
(``shield``) makes the ban process-wide and impossible to switch off from student code; code
that prepares a way around it before the ban starts is held for review by the trusted-side
static check (``coursekit.grading.static_check``).
"""

from __future__ import annotations

import dis
import importlib
import sys
import types
from typing import Any, Callable, Iterable

from coursekit_student.families import MATMUL, covers, expand
from coursekit_student.shield import GUARD_CALL_CODE, Guard, Sealed, Shield


class ForbiddenError(Exception):
    """Raised in student code that reaches for something a from-scratch part forbids."""

    def __init__(self, name: str):
        self.name = name
        what = "the @ operator (matrix multiply)" if name == MATMUL else f"`{name}`"
        super().__init__(f"{what} is not allowed in this part: implement it from scratch")


def _resolve(dotted: str) -> Any:
    """The object ``dotted`` names, walking from the longest importable module prefix.

    Packages the student's code has not imported are not imported here (``torch`` costs seconds
    and hundreds of MB): they are banned by module prefix, which catches any later use.
    """
    parts = dotted.split(".")
    if parts[0] not in sys.modules:
        return None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _codes_of(obj: Any) -> set[types.CodeType]:
    """Code objects a banned function or class runs (methods included)."""
    codes: set[types.CodeType] = set()
    if isinstance(obj, type):
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            if isinstance(value, types.FunctionType):
                codes.add(value.__code__)
    else:
        function = getattr(obj, "__func__", obj)
        # NumPy's array-function dispatchers (np.einsum, np.tensordot) run a Python implementation
        function = getattr(function, "_implementation", function) if not isinstance(function, types.FunctionType) \
            else function
        if isinstance(function, types.FunctionType):
            codes.add(function.__code__)
    return codes


class Ban(metaclass=Sealed):
    """Context manager: while active, using any of ``names`` raises ForbiddenError."""

    def __init__(self, names: Iterable[str], *, is_student_code: Callable[[types.CodeType], bool],
                 namespaces: Iterable[dict] = (), shield: Shield | None = None):
        self.declared = tuple(dict.fromkeys(names))
        self.names = expand(self.declared)
        self.is_student_code = is_student_code
        self.shield = shield
        self.thread: int | None = None
        self.namespaces = list(namespaces)
        self.violations: list[str] = []
        self._module_prefixes: list[tuple[str, str]] = []   # (module prefix, banned name)
        self._codes: dict[types.CodeType, str] = {}
        self._builtins: dict[int, tuple[Any, str]] = {}      # id(obj) -> (obj, name)
        self._method_names: dict[str, list[tuple[type, str]]] = {}  # attr -> [(class, label)]
        self._code_labels: dict[types.CodeType, str | None] = {}  # memo: module-prefix test per code
        self._module_labels: dict[str, str | None] = {}
        self._patches: list[tuple[Any, str, Any]] = []
        self._swaps: list[tuple[Any, str, Any, Any]] = []    # (owner, attr, original, replacement)
        self._generator_bans: dict[str, str] = {}
        self._matmul_offsets: dict[types.CodeType, frozenset[int]] = {}
        self._ban_matmul = MATMUL in self.names
        self._old_profile = None
        self._old_trace = None
        for name in self.names:
            if name != MATMUL:
                self._register(name, _resolve(name))
        if self._ban_matmul:
            import operator

            if "numpy.matmul" not in self.declared:
                self._register("numpy.matmul", _resolve("numpy.matmul"), label=MATMUL)
            self._builtins[id(operator.matmul)] = (operator.matmul, MATMUL)
            self._patches.append((operator, "matmul", operator.matmul))

    # ------------------------------------------------------------------ registration
    def _register(self, name: str, obj: Any, label: str | None = None) -> None:
        label = label or name
        if obj is None:
            # not importable here: nothing the student could call either; still ban by module prefix
            self._module_prefixes.append((name, label))
            return
        if isinstance(obj, types.ModuleType):
            self._module_prefixes.append((obj.__name__, label))
            for attr, value in list(vars(obj).items()):
                if callable(value) and not attr.startswith("_") and not isinstance(value, (type, Guard)):
                    self._patches.append((obj, attr, value))
            return
        codes = _codes_of(obj)
        if codes:
            self._codes.update({code: label for code in codes})
        else:
            self._builtins[id(obj)] = (obj, label)
        owner_name, _, attr = name.rpartition(".")
        owner = _resolve(owner_name) if owner_name else None
        if isinstance(owner, types.ModuleType) and getattr(owner, attr, None) is obj and not isinstance(obj, type):
            if not isinstance(obj, Guard):  # a guard refuses student callers itself, however it was reached
                self._patches.append((owner, attr, obj))
        if isinstance(owner, type):  # e.g. numpy.ndarray.dot
            self._method_names.setdefault(attr, []).append((owner, label))
            if owner.__module__.startswith("numpy.random") and owner.__name__ == "Generator":
                self._generator_bans[attr] = label
        if name in ("numpy.dot", "numpy.matmul"):  # A.dot(B) is the same shortcut as np.dot(A, B)
            import numpy

            self._method_names.setdefault("dot", []).append((numpy.ndarray, label))

    def _guard_generators(self) -> None:
        """Generator methods are Cython: invisible to the profile hook and unpatchable on the type.

        While banned, ``default_rng`` hands out a subclass whose banned methods raise (students
        create their Generator from the seed they are given, inside the call).
        """
        import numpy.random as npr

        ban = self
        methods = {attr: (lambda label: lambda self, *a, **k: ban._violate(label))(label)
                   for attr, label in self._generator_bans.items()}
        guarded = type("Generator", (npr.Generator,), methods)
        original = npr.default_rng

        def default_rng(seed: Any = None) -> Any:
            source = seed if isinstance(seed, npr.Generator) else original(seed)
            return guarded(source.bit_generator)

        self._swaps.append((npr, "default_rng", original, default_rng))

    # ------------------------------------------------------------------ enforcement
    def _violate(self, label: str) -> None:
        self.violations.append(label)
        raise ForbiddenError(label)

    def _raiser(self, label: str, original: Any) -> Callable:
        def forbidden(*args: Any, **kwargs: Any) -> Any:
            self._violate(label)

        forbidden.__wrapped__ = original
        return forbidden

    def covering(self, dotted: str) -> str | None:
        """The banned name covering ``dotted`` (for the shield's guards and audit hook)."""
        return covers(self.names, dotted)

    def _module_label(self, module: str) -> str | None:
        label = self._module_labels.get(module, False)
        if label is False:
            label = next((banned for prefix, banned in self._module_prefixes
                          if module == prefix or module.startswith(prefix + ".")), None)
            self._module_labels[module] = label
        return label

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code is GUARD_CALL_CODE:
                # a guarded compiled callable (np.matmul, a gufunc ...): banned when student code calls it,
                # however it got hold of it; library code calling it on its own behalf is left alone
                if self.shield is not None:
                    label = self.shield.guard_label(frame, self)
                    caller = frame.f_back
                    if label is not None and caller is not None and self.is_student_code(caller.f_code):
                        self._violate(label)
                return
            label = self._codes.get(code)
            if label is None and self._module_prefixes:
                label = self._code_labels.get(code, False)
                if label is False:
                    label = self._module_label(frame.f_globals.get("__name__", "") or "")
                    self._code_labels[code] = label
            if label is not None:
                self._violate(label)
        elif event == "c_call":
            if self._module_prefixes:
                label = self._module_label(getattr(arg, "__module__", None) or "")
                if label is not None:
                    self._violate(label)
            hit = self._builtins.get(id(arg))
            if hit is not None and hit[0] is arg:
                self._violate(hit[1])
            owners = self._method_names.get(getattr(arg, "__name__", ""))
            if owners:
                owner = getattr(arg, "__self__", None)
                for cls, label in owners:
                    if isinstance(owner, cls):
                        self._violate(label)

    def _offsets(self, code: types.CodeType) -> frozenset[int]:
        offsets = self._matmul_offsets.get(code)
        if offsets is None:
            offsets = frozenset(i.offset for i in dis.get_instructions(code)
                                if i.opname == "BINARY_OP" and i.argrepr in ("@", "@="))
            self._matmul_offsets[code] = offsets
        return offsets

    def _trace(self, frame: types.FrameType, event: str, arg: Any):
        if event != "call" or not self.is_student_code(frame.f_code):
            return None
        offsets = self._offsets(frame.f_code)
        if not offsets:
            return None
        frame.f_trace_opcodes = True

        def local(frame: types.FrameType, event: str, arg: Any):
            if event == "opcode" and frame.f_lasti in offsets:
                self._violate(MATMUL)
            return local

        return local

    def __enter__(self) -> "Ban":
        if self.shield is not None:
            self.shield.check_alone(self)  # before anything is patched: raising here leaves nothing to undo
        if self._generator_bans and not self._swaps:
            self._guard_generators()
        swapped = {id(original): replacement for _, _, original, replacement in self._swaps}
        for owner, attr, original, replacement in self._swaps:
            setattr(owner, attr, replacement)
        for owner, attr, original in self._patches:
            label = self._label_for(original)
            setattr(owner, attr, self._raiser(label, original))
        banned_ids = {id(original): self._label_for(original) for _, _, original in self._patches}
        self._namespace_patches = []
        for namespace in self.namespaces:
            for key, value in list(namespace.items()):
                if id(value) in swapped:  # e.g. `from numpy.random import default_rng`
                    self._namespace_patches.append((namespace, key, value))
                    namespace[key] = swapped[id(value)]
                elif id(value) in banned_ids:
                    self._namespace_patches.append((namespace, key, value))
                    namespace[key] = self._raiser(banned_ids[id(value)], value)
        self._old_profile = sys.getprofile()
        sys.setprofile(self._profile)
        if self._ban_matmul:
            self._old_trace = sys.gettrace()
            sys.settrace(self._trace)
        if self.shield is not None:
            self.shield.activate(self)  # last: from here on the audit hook refuses profile changes
        return self

    def _label_for(self, original: Any) -> str:
        for prefix, label in self._module_prefixes:
            if (getattr(original, "__module__", "") or "").startswith(prefix):
                return label
        hit = self._builtins.get(id(original))
        if hit:
            return hit[1]
        for code, label in self._codes.items():
            if getattr(getattr(original, "__func__", original), "__code__", None) is code:
                return label
        guard_name = getattr(original, "guard_name", None)
        if isinstance(guard_name, str) and self.covering(guard_name):
            return self.covering(guard_name)
        for name in self.names:
            if name.endswith("." + getattr(original, "__name__", "?")):
                return name
        return self.names[0] if self.names else "?"

    def __exit__(self, *exc: Any) -> None:
        if self.shield is not None:
            self.shield.deactivate()
        sys.setprofile(self._old_profile)
        if self._ban_matmul:
            sys.settrace(self._old_trace)
        for owner, attr, original in self._patches:
            setattr(owner, attr, original)
        for owner, attr, original, _ in self._swaps:
            setattr(owner, attr, original)
        for namespace, key, value in self._namespace_patches:
            namespace[key] = value
