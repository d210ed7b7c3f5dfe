"""Write school owners as a Feide-like LDIF directory, streaming (RFC 2849).

The directory information tree is fixed; the LDAP connector expects exactly this:

    dc=skolehub,dc=test                                   dcObject, organization
      o=<tenant>                                          organization, eduOrg, norEduOrg
        ou=units                                          organizationalUnit
          ou=<unit org nr>                                organizationalUnit, norEduOrgUnit
        ou=people                                         organizationalUnit
          uid=<username>                                  inetOrgPerson, eduPerson, norEduPerson

Values that are not safe strings (non-ASCII such as "Bjørn", a leading space, colon or "<")
are written base64-encoded (`cn:: ...`) and lines longer than 76 characters are folded, the
way real directory exports look, so the connector is exercised on both.

Preschool children have no Feide account and are left out unless `include_children=True`;
when included they are written like anyone else, with `eduPersonAffiliation: affiliate` and
`title: barn`. `userPassword` is written in clear text on purpose: it is the needle that
leak tests look for (slapd's ACL lets only the admin and the person read it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hub.dev.sandbox.population import Person, SchoolOwner, Unit

__all__ = [
    "DEFAULT_SUFFIX",
    "Entry",
    "LdifStats",
    "escape_rdn_value",
    "format_entry",
    "owner_entries",
    "parse_ldif",
    "person_attributes",
    "people_dn",
    "person_dn",
    "suffix_entry",
    "tenant_dn",
    "unit_dn",
    "units_dn",
    "write_ldif",
]

DEFAULT_SUFFIX = "dc=skolehub,dc=test"
#: Longest physical line written; longer ones are folded with a leading space (RFC 2849).
LINE_WIDTH = 76

#: One directory entry: its DN and its (attribute, value) pairs in writing order.
Entry = tuple[str, list[tuple[str, str]]]

_PERSON_CLASSES = ("person", "organizationalPerson", "inetOrgPerson", "eduPerson", "norEduPerson")


@dataclass(frozen=True, slots=True)
class LdifStats:
    """What `write_ldif` wrote: all entries, and how many of them are people."""

    entries: int
    people: int


# --------------------------------------------------------------------------- DNs


def escape_rdn_value(value: str) -> str:
    """Escape an attribute value for use in a DN (RFC 4514)."""
    out = "".join("\\" + c if c in ',+"\\<>;=' else c for c in value)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


@dataclass(frozen=True)
class Tree:
    """Where a tenant's entries sit: nested below its organisation entry, or flat beside it.

    Nested (the sandbox's default): `o=<tenant>,<suffix>` with `ou=units` and `ou=people`
    below it. Flat, as many real Feide directories are laid out: a container
    `ou=<tenant>,<suffix>` holding the organisation entry `o=<tenant>` and, beside it, the
    `ou=units` and `ou=people` containers; people are tied to the organisation only by
    `eduPersonOrgDN` and their units.
    """

    tenant: str
    suffix: str = DEFAULT_SUFFIX
    flat: bool = False

    @property
    def root(self) -> str:
        """The entry below which every entry of the tenant sits (its search base)."""
        return f"ou={escape_rdn_value(self.tenant)},{self.suffix}" if self.flat else self.org

    @property
    def org(self) -> str:
        """The organisation entry (`norEduOrg`)."""
        parent = f"ou={escape_rdn_value(self.tenant)},{self.suffix}" if self.flat else self.suffix
        return f"o={escape_rdn_value(self.tenant)},{parent}"

    @property
    def units(self) -> str:
        """The container of the units."""
        return f"ou=units,{self.root}"

    @property
    def people(self) -> str:
        """The container of the people."""
        return f"ou=people,{self.root}"

    def unit(self, org_number: str) -> str:
        """A unit entry: `ou=<org nr>` in the units container."""
        return f"ou={escape_rdn_value(org_number)},{self.units}"

    def person(self, username: str) -> str:
        """A person entry: `uid=<username>` in the people container."""
        return f"uid={escape_rdn_value(username)},{self.people}"


def tenant_dn(tenant: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """The DN of a tenant's organisation entry: `o=<tenant>,<suffix>`."""
    return Tree(tenant, suffix).org


def units_dn(tenant: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """The DN of the container holding a tenant's units."""
    return Tree(tenant, suffix).units


def people_dn(tenant: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """The DN of the container holding a tenant's people."""
    return Tree(tenant, suffix).people


def unit_dn(tenant: str, org_number: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """The DN of a unit entry: `ou=<org nr>,ou=units,o=<tenant>,<suffix>`."""
    return Tree(tenant, suffix).unit(org_number)


def person_dn(tenant: str, username: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """The DN of a person entry: `uid=<username>,ou=people,o=<tenant>,<suffix>`."""
    return Tree(tenant, suffix).person(username)


# --------------------------------------------------------------------------- entries


def suffix_entry(suffix: str = DEFAULT_SUFFIX) -> Entry:
    """The root entry of the sandbox directory (`dcObject` + `organization`)."""
    attribute, _, value = suffix.split(",")[0].partition("=")
    if attribute.strip().lower() != "dc":
        raise ValueError(f"the suffix must start with a dc= RDN: {suffix!r}")
    return suffix, [
        ("objectClass", "top"),
        ("objectClass", "dcObject"),
        ("objectClass", "organization"),
        ("dc", value),
        ("o", "Skolehub sandbox"),
    ]


def owner_entries(
    owner: SchoolOwner,
    *,
    suffix: str = DEFAULT_SUFFIX,
    include_children: bool = False,
    flat: bool = False,
) -> Iterator[Entry]:
    """Every entry of one tenant, parents before children, people streamed (see `Tree`)."""
    tree = Tree(owner.tenant, suffix, flat)
    if flat:
        yield tree.root, _container(owner.tenant)
    yield (
        tree.org,
        [
            ("objectClass", "top"),
            ("objectClass", "organization"),
            ("objectClass", "eduOrg"),
            ("objectClass", "norEduOrg"),
            ("o", owner.tenant),
            ("norEduOrgUniqueIdentifier", owner.org_number),
            ("norEduOrgNIN", owner.feide_id),
            ("norEduOrgSchemaVersion", "2.0"),
            ("eduOrgLegalName", owner.name),
            ("eduOrgHomePageURI", owner.home_page),
        ],
    )
    yield tree.units, _container("units")
    for unit in owner.units:
        yield _unit_entry(owner, unit, tree)
    yield tree.people, _container("people")
    for person in owner.people(include_children=include_children):
        yield tree.person(person.username), person_attributes(owner, person, suffix, flat=flat)


def _container(name: str) -> list[tuple[str, str]]:
    return [("objectClass", "top"), ("objectClass", "organizationalUnit"), ("ou", name)]


def _unit_entry(owner: SchoolOwner, unit: Unit, tree: Tree) -> Entry:
    attributes = [
        ("objectClass", "top"),
        ("objectClass", "organizationalUnit"),
        ("objectClass", "norEduOrgUnit"),
        ("ou", unit.org_number),
        ("cn", unit.name),
        ("norEduOrgUnitUniqueIdentifier", unit.feide_id),
        ("norEduOrgAcronym", unit.acronym),
        ("businessCategory", unit.level.value),
    ]
    if unit.grade_range:
        attributes.append(("description", unit.grade_range))
    return tree.unit(unit.org_number), attributes


def person_attributes(
    owner: SchoolOwner, person: Person, suffix: str = DEFAULT_SUFFIX, *, flat: bool = False
) -> list[tuple[str, str]]:
    """The attributes of a person's entry, in writing order."""
    tree = Tree(owner.tenant, suffix, flat)
    attributes = [("objectClass", c) for c in _PERSON_CLASSES]
    attributes += [("uid", person.username), ("cn", person.full_name), ("sn", person.family_name)]
    if person.given_name:
        attributes.append(("givenName", person.given_name))
    attributes += [
        ("displayName", person.full_name),
        ("norEduPersonLegalName", person.full_name),
        ("mail", person.mail),
        ("userPassword", person.password),
        ("title", person.role.value),
        ("eduPersonPrincipalName", person.eppn),
    ]
    attributes += [("eduPersonAffiliation", a) for a in person.affiliations]
    attributes += [
        ("eduPersonPrimaryAffiliation", person.primary_affiliation),
        ("eduPersonOrgDN", tree.org),
    ]
    attributes += [("eduPersonOrgUnitDN", tree.unit(org)) for org in person.unit_org_numbers]
    attributes += [
        ("eduPersonPrimaryOrgUnitDN", tree.unit(person.primary_unit)),
        ("norEduPersonNIN", person.nin),
    ]
    attributes += [("eduPersonEntitlement", e) for e in person.entitlements]
    return attributes


# --------------------------------------------------------------------------- writing


def format_entry(dn: str, attributes: Iterable[tuple[str, str]]) -> str:
    """One LDIF content record, base64 where needed, folded, ending with a blank line."""
    lines = [_line("dn", dn)]
    lines += [_line(name, value) for name, value in attributes]
    lines.append("\n")
    return "".join(lines)


def write_ldif(
    target: Path | str | TextIO,
    owners: Iterable[SchoolOwner],
    *,
    suffix: str = DEFAULT_SUFFIX,
    include_suffix: bool = True,
    include_children: bool = False,
    extra_entries: Iterable[Entry] = (),
    flat: Iterable[str] = (),
) -> LdifStats:
    """Write the directory for `owners` to a path or open text file, one entry at a time.

    `include_suffix=False` leaves out the root entry (for adding tenants to a running
    server that already has it); `extra_entries` are written right after the root; the
    tenants named in `flat` are written in the flat layout (`Tree`).
    """
    options = (suffix, include_suffix, include_children, extra_entries, frozenset(flat))
    if isinstance(target, str | Path):
        with Path(target).open("w", encoding="utf-8", newline="\n") as stream:
            return _write(stream, owners, *options)
    return _write(target, owners, *options)


def _write(
    stream: TextIO,
    owners: Iterable[SchoolOwner],
    suffix: str,
    include_suffix: bool,
    include_children: bool,
    extra_entries: Iterable[Entry],
    flat: frozenset[str],
) -> LdifStats:
    entries = people = 0  # no "version: 1" line: optional in RFC 2849, and slapadd rejects it
    if include_suffix:
        stream.write(format_entry(*suffix_entry(suffix)))
        entries += 1
    for dn, attributes in extra_entries:
        stream.write(format_entry(dn, attributes))
        entries += 1
    for owner in owners:
        for dn, attributes in owner_entries(
            owner, suffix=suffix, include_children=include_children, flat=owner.tenant in flat
        ):
            stream.write(format_entry(dn, attributes))
            entries += 1
            people += dn.startswith("uid=")
    return LdifStats(entries=entries, people=people)


def _line(name: str, value: str) -> str:
    if _is_safe(value):
        return _fold(f"{name}: {value}" if value else f"{name}:")
    return _fold(f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}")


def _is_safe(value: str) -> bool:
    """An RFC 2849 SAFE-STRING (and no trailing space, which some readers strip)."""
    if not value:
        return True
    if not value.isascii() or value[0] in " :<" or value[-1] == " ":
        return False
    return "\n" not in value and "\r" not in value and "\0" not in value


def _fold(line: str) -> str:
    if len(line) <= LINE_WIDTH:
        return line + "\n"
    parts = [line[:LINE_WIDTH]]
    parts += [
        " " + line[i : i + LINE_WIDTH - 1] for i in range(LINE_WIDTH, len(line), LINE_WIDTH - 1)
    ]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- reading


def parse_ldif(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """Read LDIF content records back: (dn, {attribute: [values]}), unfolded and decoded.

    A small reader for tests and tools; it handles folding, base64 values, comments and
    the version line, and refuses URL values (`attr:< ...`) and change records.
    """
    record: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.startswith(" ") and record:
            record[-1] += line[1:]
        elif not line:
            if record:
                yield _record(record)
                record = []
        elif not line.startswith("#") and not (not record and line.startswith("version:")):
            record.append(line)
    if record:
        yield _record(record)


def _record(lines: list[str]) -> tuple[str, dict[str, list[str]]]:
    pairs = [_pair(line) for line in lines]
    (first, dn), rest = pairs[0], pairs[1:]
    if first.lower() != "dn":
        raise ValueError(f"LDIF record does not start with dn: {lines[0]!r}")
    attributes: dict[str, list[str]] = {}
    for name, value in rest:
        if name.lower() == "changetype":
            raise ValueError("change records are not supported")
        attributes.setdefault(name, []).append(value)
    return dn, attributes


def _pair(line: str) -> tuple[str, str]:
    name, sep, rest = line.partition(":")
    if not sep:
        raise ValueError(f"not an LDIF attribute line: {line!r}")
    if rest.startswith(":"):
        return name, base64.b64decode(rest[1:].strip()).decode("utf-8")
    if rest.startswith("<"):
        raise ValueError("URL values are not supported")
    return name, rest.lstrip(" ")
