"""Records generated from a vendor's published schema: minimal, maximal, one field left out.

Understands the JSON Schema subset that OpenAPI 3 documents, Google discovery documents and
exported pydantic models share: `type`, `properties`, `required`, `items`, `enum`,
`format`, `allOf`, `anyOf`/`oneOf` (the first non-null branch) and `$ref` (resolved by the
`refs` mapping: a JSON pointer `#/$defs/Name` or a discovery id `Name`).

`hints` give a value for a dotted path (`civicNo.value`) where the schema's type alone
would make a syntactically valid but meaningless value (an 8-digit school unit code is a
`string` to the schema). Each hint must name a path the schema has, so hints never add
fields the vendor does not publish.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = Mapping[str, Any]

_FORMAT_VALUES = {
    "uuid": "0b5f4a8e-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
    "date": "2026-08-17",
    "date-time": "2026-11-20T08:15:30Z",
    "email": "kari.nordmann@skole.example.no",
    "uri": "https://skole.example.no/x",
    "int32": 7,
    "int64": "7",
    "google-datetime": "2026-11-20T08:15:30.000Z",
    "google-fieldmask": "deviceId",
}
_TYPE_VALUES: dict[str, Any] = {
    "string": "text",
    "integer": 3,
    "number": 2.5,
    "boolean": True,
}


@dataclass
class VendorSchema:
    """One record type of a vendor document, with the lookups its `$ref`s need."""

    root: Schema
    refs: Mapping[str, Schema] = field(default_factory=dict)
    hints: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, node: Schema) -> Schema:
        """`node` with its `$ref` followed and its `allOf` merged into one object schema."""
        seen = 0
        while "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            node = self.refs[name]
            seen += 1
            if seen > 20:
                raise ValueError(f"$ref loop at {name}")
        for key in ("anyOf", "oneOf"):
            if key in node:
                branches = [b for b in node[key] if self.resolve(b).get("type") != "null"]
                return self.resolve(branches[0])
        if "allOf" in node:
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for part in node["allOf"]:
                part = self.resolve(part)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += list(part.get("required", []))
                for key in ("type", "enum", "format", "items"):
                    if key in part and key not in ("type",):
                        merged[key] = part[key]
                if part.get("type") and part.get("type") != "object":
                    merged["type"] = part["type"]
            rest = {k: v for k, v in node.items() if k != "allOf"}
            if rest.get("properties"):
                merged["properties"].update(rest["properties"])
            merged["required"] += list(rest.get("required", []))
            if not merged["properties"]:
                merged.pop("properties")
            return merged
        return node

    def kind(self, node: Schema) -> str:
        """The JSON type of a (resolved) node; `object` when it has properties."""
        node = self.resolve(node)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next(k for k in kind if k != "null")
        if kind is None:
            return "object" if "properties" in node else ("array" if "items" in node else "string")
        return str(kind)

    # -- records --------------------------------------------------------------------------

    def minimal(self) -> dict[str, Any]:
        """A record with only what the schema requires, at every depth."""
        return self._value(self.root, "", full=False)  # type: ignore[return-value]

    def maximal(self) -> dict[str, Any]:
        """A record with every property the schema defines, each with a valid value."""
        return self._value(self.root, "", full=True)  # type: ignore[return-value]

    def _value(self, node: Schema, path: str, *, full: bool) -> Any:
        if path in self.hints:
            return copy.deepcopy(self.hints[path])
        node = self.resolve(node)
        kind = self.kind(node)
        if "enum" in node:
            values = [v for v in node["enum"] if v is not None]
            return values[0]
        if kind == "object":
            required = set(node.get("required", []))
            out = {}
            for name, child in (node.get("properties") or {}).items():
                if full or name in required:
                    out[name] = self._value(child, _join(path, name), full=full)
            if not node.get("properties") and isinstance(node.get("additionalProperties"), dict):
                return {}
            return out
        if kind == "array":
            item = node.get("items", {"type": "string"})
            return [self._value(item, path, full=full)] if full else []
        fmt = node.get("format")
        if fmt in _FORMAT_VALUES:
            value = _FORMAT_VALUES[fmt]
            return value if kind == "string" or not isinstance(value, str) else _TYPE_VALUES[kind]
        return _TYPE_VALUES.get(kind, "text")

    # -- fields ----------------------------------------------------------------------------

    def fields(self) -> dict[str, str]:
        """Every dotted property path of the schema with its JSON type (arrays by item path)."""
        out: dict[str, str] = {}
        self._walk(self.root, "", out, depth=0)
        return out

    def _walk(self, node: Schema, path: str, out: dict[str, str], depth: int) -> None:
        node = self.resolve(node)
        kind = self.kind(node)
        if path:
            out[path] = kind
        if depth > 6:
            return
        if kind == "object":
            for name, child in (node.get("properties") or {}).items():
                self._walk(child, _join(path, name), out, depth + 1)
        elif kind == "array":
            item = self.resolve(node.get("items", {}))
            if self.kind(item) == "object":
                for name, child in (item.get("properties") or {}).items():
                    self._walk(child, _join(path, name), out, depth + 1)

    def optional_paths(self) -> Iterator[str]:
        """Every top-level and nested object property the schema does not require."""
        yield from self._optional(self.root, "")

    def _optional(self, node: Schema, path: str) -> Iterator[str]:
        node = self.resolve(node)
        if self.kind(node) != "object":
            return
        required = set(node.get("required", []))
        for name, child in (node.get("properties") or {}).items():
            child_path = _join(path, name)
            if name not in required:
                yield child_path
            yield from self._optional(child, child_path)

    def check_hints(self) -> list[str]:
        """Hints whose path the schema does not define (they would add unpublished fields)."""
        known = self.fields()
        return [p for p in self.hints if p not in known]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def without(record: Mapping[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of `record` with the dotted `path` removed (in every list item)."""
    out = copy.deepcopy(dict(record))
    _remove(out, path.split("."))
    return out


def _remove(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _remove(item, parts)
        return
    if not isinstance(node, dict) or parts[0] not in node:
        return
    if len(parts) == 1:
        del node[parts[0]]
    else:
        _remove(node[parts[0]], parts[1:])
