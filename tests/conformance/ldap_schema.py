"""RFC 4512 schema definitions (`attributetype ( ... )`, `objectclass ( ... )`) as data.

Reads OpenLDAP `.schema` text, the form the eduPerson, norEdu* and RFC schemas publish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_DEFINITION = re.compile(r"^(attributetype|objectclass)\s*\(", re.IGNORECASE | re.MULTILINE)
_NAMES = re.compile(r"NAME\s+(?:'([^']+)'|\(\s*([^)]*)\))")
DIRECTORY_STRING = "1.3.6.1.4.1.1466.115.121.1.15"
DN = "1.3.6.1.4.1.1466.115.121.1.12"


@dataclass
class AttributeType:
    """One attribute type: its names, OID, syntax (or its supertype's) and cardinality."""

    oid: str
    names: list[str]
    syntax: str | None
    sup: str | None
    single: bool


@dataclass
class ObjectClass:
    """One object class: its names, kind, superclass and MUST/MAY attributes."""

    oid: str
    names: list[str]
    kind: str
    sup: list[str]
    must: list[str] = field(default_factory=list)
    may: list[str] = field(default_factory=list)


@dataclass
class LdapSchema:
    """Attribute types and object classes by lower-cased name."""

    attributes: dict[str, AttributeType] = field(default_factory=dict)
    classes: dict[str, ObjectClass] = field(default_factory=dict)

    def syntax(self, name: str) -> str | None:
        """An attribute's syntax OID, following its supertypes."""
        attr = self.attributes[name.lower()]
        while attr.syntax is None and attr.sup:
            attr = self.attributes[attr.sup.lower()]
        return attr.syntax

    def allowed(self, class_names: list[str]) -> tuple[set[str], set[str]]:
        """The MUST and MAY attributes (lower-cased) of these classes and their superclasses."""
        must: set[str] = set()
        may: set[str] = set()
        todo = [c.lower() for c in class_names]
        while todo:
            oc = self.classes[todo.pop()]
            must |= {a.lower() for a in oc.must}
            may |= {a.lower() for a in oc.may}
            todo += [s.lower() for s in oc.sup if s.lower() != "top"]
        return must, may

    def canonical(self, name: str) -> str:
        """The first NAME of an attribute type (case as defined)."""
        return self.attributes[name.lower()].names[0]


def _list(text: str, keyword: str) -> list[str]:
    match = re.search(rf"\b{keyword}\s+(?:\(\s*([^)]*)\)|([\w.-]+))", text)
    if not match:
        return []
    value = match.group(1) if match.group(1) is not None else match.group(2)
    return [v.strip() for v in re.split(r"\$|\s+", value) if v.strip() and v.strip() != "$"]


def parse(text: str, into: LdapSchema | None = None) -> LdapSchema:
    """Parse every definition in `text` (comments and line folding allowed) into a schema."""
    schema = into or LdapSchema()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    starts = [m.start() for m in _DEFINITION.finditer(text)] + [len(text)]
    for start, end in zip(starts, starts[1:], strict=False):
        block = " ".join(text[start:end].split())
        keyword = block.split("(", 1)[0].strip().lower()
        body = block.split("(", 1)[1]
        oid = body.split()[0]
        names_match = _NAMES.search(body)
        names: list[str] = []
        if names_match:
            names = (
                [names_match.group(1)]
                if names_match.group(1)
                else re.findall(r"'([^']+)'", names_match.group(2))
            )
        if keyword == "attributetype":
            syntax = re.search(r"SYNTAX\s+'?([\d.]+)", body)
            sup = re.search(r"\bSUP\s+([\w-]+)", body)
            attr = AttributeType(
                oid,
                names,
                syntax.group(1) if syntax else None,
                sup.group(1) if sup else None,
                "SINGLE-VALUE" in body,
            )
            for name in names:
                schema.attributes[name.lower()] = attr
        else:
            kind = next((k for k in ("STRUCTURAL", "AUXILIARY", "ABSTRACT") if k in body), "")
            oc = ObjectClass(
                oid, names, kind, _list(body, "SUP"), _list(body, "MUST"), _list(body, "MAY")
            )
            for name in names:
                schema.classes[name.lower()] = oc
    return schema


def load(*paths: Path) -> LdapSchema:
    """One schema from several files."""
    schema = LdapSchema()
    for path in paths:
        parse(path.read_text(encoding="utf-8"), schema)
    return schema
