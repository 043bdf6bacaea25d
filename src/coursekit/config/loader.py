"""Load ``course.yaml`` and turn every problem into one readable line."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from coursekit.config.schema import Course


class CourseConfigError(Exception):
    """course.yaml is wrong; the message is one line naming file, field and fix."""


def _field_path(loc: tuple, data: object) -> str:
    """Render a pydantic location, naming milestones by id rather than list index."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            item = node[key]
            label = item.get("id") if isinstance(item, dict) else None
            parts.append(f"[{label}]" if label else f"[{key}]")
            node = item
        else:
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The schema model that owns the last key of ``loc`` (lists and dicts are looked through)."""
    model: object = Course
    for key in loc[:-1]:
        if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(key, str):
            field = model.model_fields.get(key)
            model = field.annotation if field else None
        elif isinstance(key, int) or model is not None:
            pass  # a list index or a dict key: the element type is unwrapped below
        # Unwrap list[X], dict[str, X] and X | None down to the model they hold.
        while model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
            args = [a for a in typing.get_args(model) if a is not type(None)]
            if not args or typing.get_origin(model) not in (list, dict, typing.Union, types.UnionType):
                return None
            model = args[-1]
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _suggestion(loc: tuple) -> str:
    """'did you mean `title`?' for a misspelt key, from the fields the schema allows there."""
    model = _model_at(loc)
    if model is None or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


def _fix_for(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        hint = _suggestion(tuple(error["loc"]))
        if hint:
            return f"unknown key; {hint} (the allowed keys: `course validate --schema`)"
        return "unknown key; remove it or correct the spelling (see `course validate --schema`)"
    if kind == "missing":
        return "add this field"
    return error["msg"].removeprefix("Value error, ")


def load_course(path: str | Path = "course.yaml", *, check_files: bool = True) -> Course:
    """Parse and validate a course file.

    With ``check_files`` the notebooks it names must exist (relative to the file's folder).
    Raises CourseConfigError with a one-line message.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseConfigError(f"{path}: no such course file; run from the course folder or pass --course PATH")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise CourseConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from None
    if not isinstance(data, dict):
        raise CourseConfigError(f"{path}: expected a mapping with `course`, `datasets` and `milestones`")
    try:
        course = Course.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key shows up twice: as an unknown key and as a missing one. Name the typo first.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        field = _field_path(tuple(first["loc"]), data)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        where = f"{field}: " if field else ""  # cross-field checks name their fields in the message
        raise CourseConfigError(f"{path}: {where}{_fix_for(first)}{more}") from None
    if check_files:
        root = path.parent
        for milestone in course.milestones:
            notebook = root / milestone.notebook
            if not notebook.is_file():
                raise CourseConfigError(
                    f"{path}: milestones[{milestone.id}].notebook: {milestone.notebook} does not exist; "
                    f"create it or correct the path")
    return course


def course_root(path: str | Path = "course.yaml") -> Path:
    return Path(path).resolve().parent
