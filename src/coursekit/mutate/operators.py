"""Mutation operators on libcst nodes: each turns one node into the plausible mistakes it allows.

Written on libcst (the concrete syntax tree mutmut 3 and fixit are built on) rather than taken
from mutmut: mutmut 3's ``node_mutation`` module is internal API, pulls textual/coverage/
setproctitle into the grader's environment, and has none of the operators a numerical course
needs most (axis changes, dropped statements, removed calls, slice bounds, swapped arguments).
Each operator is a function ``node -> iterable of (replacement, label)``; ``OPERATORS`` maps node
types to them. The label names the operator in reports ("binop + -> -").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import libcst as cst

Mutation = tuple[cst.CSTNode, str]
Operator = Callable[[cst.CSTNode], Iterable[Mutation]]

# Arithmetic swaps: the plausible neighbour of each operator (not every permutation).
_BINOPS: dict[type, tuple[type, ...]] = {
    cst.Add: (cst.Subtract,), cst.Subtract: (cst.Add,), cst.Multiply: (cst.Divide,),
    cst.Divide: (cst.Multiply, cst.FloorDivide), cst.FloorDivide: (cst.Divide,), cst.Power: (cst.Multiply,),
    cst.MatrixMultiply: (cst.Multiply,), cst.Modulo: (cst.FloorDivide,),
}
_NON_COMMUTATIVE = (cst.Subtract, cst.Divide, cst.FloorDivide, cst.MatrixMultiply, cst.Power, cst.Modulo)
_COMPARISONS: dict[type, tuple[type, ...]] = {
    cst.LessThan: (cst.LessThanEqual,), cst.LessThanEqual: (cst.LessThan,),
    cst.GreaterThan: (cst.GreaterThanEqual,), cst.GreaterThanEqual: (cst.GreaterThan,),
    cst.Equal: (cst.NotEqual,), cst.NotEqual: (cst.Equal,), cst.Is: (cst.IsNot,), cst.IsNot: (cst.Is,),
    cst.In: (cst.NotIn,), cst.NotIn: (cst.In,),
}
_AUGMENTED: dict[type, tuple[type, ...]] = {
    cst.AddAssign: (cst.SubtractAssign,), cst.SubtractAssign: (cst.AddAssign,),
    cst.MultiplyAssign: (cst.DivideAssign,), cst.DivideAssign: (cst.MultiplyAssign,),
}
_SYMBOL = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.FloorDivide: "//",
           cst.Power: "**", cst.MatrixMultiply: "@", cst.Modulo: "%", cst.LessThan: "<", cst.LessThanEqual: "<=",
           cst.GreaterThan: ">", cst.GreaterThanEqual: ">=", cst.Equal: "==", cst.NotEqual: "!=", cst.Is: "is",
           cst.IsNot: "is not", cst.In: "in", cst.NotIn: "not in", cst.AddAssign: "+=", cst.SubtractAssign: "-=",
           cst.MultiplyAssign: "*=", cst.DivideAssign: "/="}
# Keyword arguments that pick an axis (NumPy, PyTorch) and the values an axis mistake swaps in.
AXIS_KEYWORDS = ("axis", "dim")
_AXIS_VALUES = (0, 1, -1)
# Removing these calls only produces a TypeError/NameError nobody would write; they add noise.
_KEEP_CALLS = frozenset({"range", "len", "enumerate", "zip", "isinstance", "print", "super", "iter", "next",
                         "type", "getattr", "setattr", "hasattr", "open", "map", "filter"})
_ATOMIC = (cst.Name, cst.Attribute, cst.Subscript, cst.Call, cst.Integer, cst.Float, cst.SimpleString,
           cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)


def _label(kind: str, old: type, new: type) -> str:
    return f"{kind} {_SYMBOL.get(old, old.__name__)} -> {_SYMBOL.get(new, new.__name__)}"


def _parenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    """``node`` wrapped in parentheses unless it binds tighter than any operator around it."""
    if isinstance(node, _ATOMIC) or node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def binary_operation(node: cst.BinaryOperation) -> Iterable[Mutation]:
    """Arithmetic swaps (``+``/``-``, ``*``/``/``, ``@`` -> ``*``...) and swapped operands of ``-``, ``/``, ``@``."""
    old = type(node.operator)
    for new in _BINOPS.get(old, ()):
        yield node.with_changes(operator=new()), _label("arithmetic", old, new)
    if isinstance(node.operator, _NON_COMMUTATIVE):
        yield (node.with_changes(left=_parenthesized(node.right), right=_parenthesized(node.left)),
               f"swapped operands of {_SYMBOL[old]}")


def comparison(node: cst.ComparisonTarget) -> Iterable[Mutation]:
    """``<`` <-> ``<=``, ``==`` <-> ``!=``, ``is`` <-> ``is not``, ``in`` <-> ``not in``."""
    old = type(node.operator)
    for new in _COMPARISONS.get(old, ()):
        yield node.with_changes(operator=new()), _label("comparison", old, new)


def boolean_operation(node: cst.BooleanOperation) -> Iterable[Mutation]:
    swapped = cst.Or() if isinstance(node.operator, cst.And) else cst.And()
    yield node.with_changes(operator=swapped), f"boolean {'and -> or' if isinstance(swapped, cst.Or) else 'or -> and'}"


def unary_operation(node: cst.UnaryOperation) -> Iterable[Mutation]:
    """Drop a ``not`` or a unary minus (a sign error)."""
    if isinstance(node.operator, cst.Not):
        yield node.expression, "removed not"
    elif isinstance(node.operator, cst.Minus) and not isinstance(node.expression, (cst.Integer, cst.Float)):
        yield node.expression, "removed unary minus"


def integer(node: cst.Integer) -> Iterable[Mutation]:
    """Off-by-one constants: ``n`` -> ``n + 1`` and ``n - 1`` (not below 0: ``-1`` is the axis operator's)."""
    value = node.evaluated_value
    yield node.with_changes(value=str(value + 1)), f"constant {value} -> {value + 1}"
    if value > 0:
        yield node.with_changes(value=str(value - 1)), f"constant {value} -> {value - 1}"


def name(node: cst.Name) -> Iterable[Mutation]:
    if node.value in ("True", "False"):
        flipped = "False" if node.value == "True" else "True"
        yield node.with_changes(value=flipped), f"{node.value} -> {flipped}"


def augmented_assignment(node: cst.AugAssign) -> Iterable[Mutation]:
    """``+=`` -> ``-=`` and ``+=`` -> ``=`` (an accumulator that forgets what it held)."""
    old = type(node.operator)
    for new in _AUGMENTED.get(old, ()):
        yield node.with_changes(operator=new()), _label("augmented", old, new)
    yield cst.Assign(targets=[cst.AssignTarget(node.target)], value=node.value), f"{_SYMBOL.get(old, '?=')} -> ="


def slice_bounds(node: cst.Slice) -> Iterable[Mutation]:
    """Off-by-one slice bounds written as expressions (integer bounds are the constant operator's)."""
    for field in ("lower", "upper"):
        bound = getattr(node, field)
        if bound is None or isinstance(bound, cst.Integer) or (
                isinstance(bound, cst.UnaryOperation) and isinstance(bound.expression, cst.Integer)):
            continue
        for op, sign in ((cst.Add(), "+"), (cst.Subtract(), "-")):
            shifted = cst.BinaryOperation(left=_parenthesized(bound), operator=op, right=cst.Integer("1"))
            yield node.with_changes(**{field: shifted}), f"slice {field} bound {sign} 1"


def _call_name(node: cst.Call) -> str:
    func = node.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return ""


def call(node: cst.Call) -> Iterable[Mutation]:
    """Axis changes, dropped axis keywords, swapped positional arguments, and removed calls."""
    args = list(node.args)
    for i, arg in enumerate(args):
        keyword = arg.keyword.value if arg.keyword else None
        if keyword not in AXIS_KEYWORDS:
            continue
        value = arg.value
        current = _int_value(value)
        for new in _AXIS_VALUES:
            if new != current:
                literal = cst.Integer(str(new)) if new >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer("1"))
                changed = [*args[:i], arg.with_changes(value=literal), *args[i + 1:]]
                yield node.with_changes(args=changed), f"{keyword}={_code(value)} -> {keyword}={new}"
        yield node.with_changes(args=_without(args, i)), f"dropped {keyword}= (reduces over everything)"
    positional = [i for i, arg in enumerate(args) if arg.keyword is None and not arg.star]
    for a, b in zip(positional, positional[1:]):
        if _code(args[a].value) == _code(args[b].value):
            continue
        swapped = list(args)
        swapped[a] = args[a].with_changes(value=args[b].value)
        swapped[b] = args[b].with_changes(value=args[a].value)
        yield node.with_changes(args=swapped), f"swapped arguments {a + 1} and {b + 1} of {_call_name(node)}()"
    called = _call_name(node)
    yield from _range_stop(node, called, positional)
    if not called or called in _KEEP_CALLS or called[:1].isupper():
        return
    if len(args) == 1 and args[0].keyword is None and not args[0].star:
        yield _parenthesized(args[0].value), f"removed call {called}(...)"
    elif not args and isinstance(node.func, cst.Attribute):
        yield node.func.value, f"removed call .{called}()"  # x.copy() -> x, t.detach() -> t


def _range_stop(node: cst.Call, called: str, positional: list[int]) -> Iterable[Mutation]:
    """``range(n)`` -> ``range(n + 1)`` / ``range(n - 1)``: the loop that runs once too often or too few."""
    if called != "range" or not positional or len(positional) > 2:
        return
    index = positional[-1] if len(positional) == 2 else positional[0]
    stop = node.args[index].value
    if isinstance(stop, cst.Integer):
        return  # the constant operator's
    for op, sign in ((cst.Add(), "+"), (cst.Subtract(), "-")):
        shifted = cst.BinaryOperation(left=_parenthesized(stop), operator=op, right=cst.Integer("1"))
        args = list(node.args)
        args[index] = args[index].with_changes(value=shifted)
        yield node.with_changes(args=args), f"range stop {sign} 1"


def return_statement(node: cst.Return) -> Iterable[Mutation]:
    """Return the first two elements of a tuple swapped, or nothing at all."""
    value = node.value
    if isinstance(value, cst.Tuple) and len(value.elements) >= 2:
        first, second, *rest = value.elements
        swapped = [first.with_changes(value=second.value), second.with_changes(value=first.value), *rest]
        yield node.with_changes(value=value.with_changes(elements=swapped)), "return values swapped"
    if value is not None and not (isinstance(value, cst.Name) and value.value == "None"):
        yield node.with_changes(value=cst.Name("None")), "return None"


def statement_line(node: cst.SimpleStatementLine) -> Iterable[Mutation]:
    """Drop a statement (``optimizer.zero_grad()``, an update, a check): it becomes ``pass``."""
    body = node.body
    if len(body) != 1 or isinstance(body[0], (cst.Pass, cst.Import, cst.ImportFrom, cst.Return)):
        return  # returns have their own operator; imports only give NameErrors
    if isinstance(body[0], cst.Expr) and isinstance(body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
        return  # a docstring
    yield node.with_changes(body=[cst.Pass()]), f"dropped statement `{_code(body[0]).strip()[:60]}`"


OPERATORS: dict[type, tuple[Operator, ...]] = {
    cst.BinaryOperation: (binary_operation,), cst.ComparisonTarget: (comparison,),
    cst.BooleanOperation: (boolean_operation,), cst.UnaryOperation: (unary_operation,),
    cst.Integer: (integer,), cst.Name: (name,), cst.AugAssign: (augmented_assignment,),
    cst.Slice: (slice_bounds,), cst.Call: (call,), cst.Return: (return_statement,),
    cst.SimpleStatementLine: (statement_line,),
}


def _without(args: list[cst.Arg], index: int) -> list[cst.Arg]:
    kept = [*args[:index], *args[index + 1:]]
    if kept and index == len(args) - 1:
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)  # no dangling "f(a, )"
    return kept


def _int_value(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(
            node.expression, cst.Integer):
        return -int(node.expression.evaluated_value)
    return None


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)
