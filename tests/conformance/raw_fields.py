"""The source fields a connector reads, from its private raw pydantic models."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from typing import Any, get_args, get_origin

from pydantic import BaseModel


def _json_kind(annotation: Any) -> tuple[str, type[BaseModel] | None]:
    """The JSON type a raw model's annotation accepts, and the nested model if any."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _json_kind(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [_json_kind(a) for a in get_args(annotation) if a is not type(None)]
        for kind in kinds:  # prefer a nested model, then the first
            if kind[1] is not None:
                return kind
        return kinds[0]
    if origin in (list, tuple, set, frozenset):
        inner = _json_kind(get_args(annotation)[0])
        return "array", inner[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object", annotation
    if annotation is bool:
        return "boolean", None
    if annotation is int:
        return "integer", None
    if annotation is float:
        return "number", None
    if annotation in (date, datetime):
        return "string", None
    return "string", None


def raw_fields(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Every dotted field path `model` reads (by alias) with the JSON type it accepts."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}.{info.alias or name}" if prefix else (info.alias or name)
        kind, nested = _json_kind(info.annotation)
        out[path] = kind
        if nested is not None:
            out.update(raw_fields(nested, path))
    return out


#: JSON types a reader accepts for a vendor type (a number where a string is read is fine:
#: several raw models coerce numbers to text).
COMPATIBLE = {
    ("string", "string"),
    ("string", "integer"),
    ("string", "number"),
    ("number", "integer"),
    ("number", "number"),
    ("integer", "integer"),
    ("boolean", "boolean"),
    ("object", "object"),
    ("array", "array"),
}


def mismatches(read: dict[str, str], published: dict[str, str]) -> dict[str, str]:
    """Fields read that the vendor does not publish, or publishes with another type."""
    out = {}
    for path, kind in read.items():
        vendor = published.get(path)
        if vendor is None:
            out[path] = "not in the vendor's schema"
        elif (kind, vendor) not in COMPATIBLE:
            out[path] = f"read as {kind}, published as {vendor}"
    return out


def optional_in(model: type[BaseModel], name: str) -> bool:
    """Whether the top-level field `name` (by alias or name) has a default in `model`."""
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return not info.is_required()
    raise KeyError(name)
