"""``course validate --schema``: the course.yaml reference, generated from the pydantic models."""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from coursekit.config.schema import Course


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models(a)]


def _default(info) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        return "default: (empty)" if info.default_factory in (list, dict) else "default: see below"
    return "" if info.default in (None, PydanticUndefined) else f"default: {info.default!r}"


def render_schema(root: type[BaseModel] = Course) -> str:
    """Every model reachable from ``root``: its fields, types, defaults and descriptions."""
    lines = ["course.yaml schema (unknown fields are errors; paths are relative to course.yaml)", ""]
    seen: list[type[BaseModel]] = []
    queue = [("(top level)", root)]
    while queue:
        where, model = queue.pop(0)
        if model in seen:
            continue
        seen.append(model)
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ and model is not root else ""
        lines.append(f"{where}  [{model.__name__}]" + (f"  {doc}" if doc else ""))
        for name, info in model.model_fields.items():
            facts = ", ".join(x for x in (_type_name(info.annotation), _default(info)) if x)
            lines.append(f"  {name}: {facts}" + (f"\n      {info.description}" if info.description else ""))
            path = f"{where}.{name}" if where != "(top level)" else name
            origin = typing.get_origin(info.annotation)
            path += "[]" if origin is list else ".<name>" if origin is dict else ""
            queue += [(path, m) for m in _models(info.annotation)]
        lines.append("")
    return "\n".join(lines)
