"""Response bodies parsed with bounds the standard library can handle.

`json.loads` raises `RecursionError` on JSON nested about a thousand deep, and refuses an
integer of more than 4,300 digits (Python's int/str limit) with a ValueError that makes
the whole page "not JSON". `loads_bounded` parses a body so that neither can happen:

- nesting deeper than `MAX_DEPTH` is cut off where it passes the bound (the container
  at the bound holds a marker instead), found by a cheap pass over the brackets first,
  so a body within the bound costs two regular-expression passes;
- an integer of more than `MAX_INT_DIGITS` digits is not converted (a marker instead).

`bounded_records` then turns each record holding a marker into `OutOfBounds`, whose
`problem` names what bound it broke; the stream makes it a dead letter and reads the
rest of the page. A body that is not JSON at all is still a broken source.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: Deepest nesting of arrays and objects read (vendor records nest well under 20).
MAX_DEPTH = 64
#: Most digits of an integer read (no vendor field needs more than int64's 19).
MAX_INT_DIGITS = 100

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
#: What stands in for a subtree past the depth bound (NULs: no vendor text holds them).
_TOO_DEEP = "\x00skolehub:nested-too-deep\x00"
_TOO_DEEP_JSON = json.dumps(_TOO_DEEP)


@dataclass(frozen=True)
class _HugeInt:
    digits: int


@dataclass(frozen=True)
class OutOfBounds:
    """A record that broke a parsing bound: `record` with the offending parts replaced."""

    record: Any
    problem: str


@dataclass(frozen=True)
class Body:
    """A parsed body; `bounded` is False when some part of it broke a bound."""

    value: Any
    bounded: bool


def loads_bounded(text: str) -> Body:
    """Parse JSON text within the bounds; ValueError (never RecursionError) if it is not JSON."""
    broke = False
    if _deeper_than(text, MAX_DEPTH):
        text = _cut_deep(text, MAX_DEPTH)
        broke = True

    def parse_int(digits: str) -> int | _HugeInt:
        nonlocal broke
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            broke = True
            return _HugeInt(len(digits.lstrip("-")))
        return int(digits)

    try:
        value = json.loads(text, parse_int=parse_int)
    except RecursionError:  # pragma: no cover - the depth bound keeps far from the limit
        raise ValueError("nested too deep to parse") from None
    return Body(value, not broke)


def _deeper_than(text: str, depth: int) -> bool:
    """Whether JSON text nests arrays and objects more than `depth` deep (cheap, C-speed)."""
    if text.count("[") + text.count("{") <= depth:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(depth):
        if not brackets:
            return False
        brackets = _INNERMOST.sub("", brackets)
    return bool(brackets)


def _cut_deep(text: str, depth: int) -> str:
    """`text` with every container that would nest past `depth` replaced by the marker."""
    pieces: list[str] = []
    level = 0
    copied = 0
    skip_from = -1
    skip_level = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            level += 1
            if skip_from < 0 and level > depth:
                skip_from, skip_level = match.start(), level
        else:
            if skip_from >= 0 and level == skip_level:
                pieces.append(text[copied:skip_from])
                pieces.append(_TOO_DEEP_JSON)
                copied = match.end()
                skip_from = -1
            level -= 1
    pieces.append(text[copied:] if skip_from < 0 else text[copied:skip_from] + _TOO_DEEP_JSON)
    return "".join(pieces)


def _problem(value: Any) -> str | None:
    """The first bound `value` broke, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _HugeInt):
            return f"a number of {item.digits} digits (more than {MAX_INT_DIGITS})"
        if item == _TOO_DEEP and isinstance(item, str):
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def plain(value: Any) -> Any:
    """`value` with the markers replaced by readable text, so it encodes as JSON."""
    if isinstance(value, _HugeInt):
        return f"[number of {value.digits} digits]"
    if isinstance(value, str):
        return f"[nested deeper than {MAX_DEPTH} levels]" if value == _TOO_DEEP else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def bounded_records(records: list[Any], body: Body) -> list[Any]:
    """The records, each one that broke a bound as `OutOfBounds` (others untouched)."""
    if body.bounded:
        return records
    out: list[Any] = []
    for record in records:
        problem = _problem(record)
        out.append(record if problem is None else OutOfBounds(plain(record), problem))
    return out
