"""Load one tenant's materialised entities from the reporting store, lean and in a stable order.

The compiler needs a few fields of each entity, not the entities: rows are read a batch at
a time (ordered by entity, source and key) and only those fields are kept, in slotted
dataclasses, so a 100,000-person tenant with half a million enrollments fits in a few
hundred megabytes.

`load_state(engine, tenant, at)` reads the versions valid at the moment `at` from the
history (`report_history`: valid from on or before `at`, not yet ended at `at`); without
`at`, the latest state (`report_entities`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from hub.materialise import report_entities, report_history

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation as any source gives it."""

    source: str
    key: str
    kind: str
    name: str
    org_number: str | None
    school_unit_code: str | None
    school_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person as any source gives it, with what matching and counting need."""

    source: str
    key: str
    eppn: str | None
    username: str | None
    email: str | None
    roles: tuple[str, ...]
    unit_keys: tuple[str, ...]
    primary_unit_key: str | None
    grade: int | None
    external_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlacementRow:
    """A child placed at a unit."""

    source: str
    person_key: str
    unit_key: str
    school_type: str
    start_date: date | None
    end_date: date | None


@dataclass(frozen=True, slots=True)
class CourseRow:
    """An LMS course with the words that place it in competence areas."""

    source: str
    key: str
    title: str
    words: frozenset[str]


@dataclass(frozen=True, slots=True)
class ClassRow:
    """An LMS class (section) of a course at a school."""

    source: str
    key: str
    title: str
    course_key: str
    school_key: str


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    """A person enrolled in a class."""

    source: str
    person_key: str
    class_key: str
    role: str
    begin_date: date | None
    end_date: date | None


@dataclass(frozen=True, slots=True)
class ResultRow:
    """A graded (or not) result of a person on a line item."""

    source: str
    key: str
    person_key: str
    class_key: str | None
    fully_graded: bool
    score: float | None
    score_min: float | None
    score_max: float | None
    on: date | None
    objectives: tuple[str, ...]
    #: Per-objective scores as `<source>:<objective id>` → score.
    objective_scores: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device as one MDM reports it."""

    source: str
    key: str
    physical_key: str | None
    kind: str
    os_name: str | None
    os_version: str | None
    ownership: str
    management_state: str
    compliance: str
    enrolled_on: date | None
    last_check_in_on: date | None
    #: The exact time of the last check-in (the entity's `source_modified`), if known.
    last_check_in_at: datetime | None
    #: (kind, value) of the assigned user's identifiers.
    users: tuple[tuple[str, str], ...]
    hints: tuple[str, ...]
    shared: bool
    support_ends_on: date | None


@dataclass(frozen=True, slots=True)
class LicencePoolRow:
    """The licences of one product a source says the owner holds."""

    source: str
    key: str
    product_id: str
    product_name: str | None
    vendor: str
    kind: str
    total: int | None
    assigned: int | None
    available: int | None
    unit_price: float | None
    currency: str | None
    location: str | None


@dataclass(frozen=True, slots=True)
class LicenceAssignmentRow:
    """One licence of a pool held by a person (their identifiers) or a device."""

    source: str
    key: str
    pool_key: str
    #: (kind, value) of the holder's identifiers.
    users: tuple[tuple[str, str], ...]
    device_physical_key: str | None


@dataclass
class TenantState:
    """Everything of one tenant that the records are compiled from."""

    tenant: str
    orgs: list[Org] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    placements: list[PlacementRow] = field(default_factory=list)
    courses: list[CourseRow] = field(default_factory=list)
    classes: list[ClassRow] = field(default_factory=list)
    enrollments: list[EnrollmentRow] = field(default_factory=list)
    results: list[ResultRow] = field(default_factory=list)
    devices: list[DeviceRow] = field(default_factory=list)
    licence_pools: list[LicencePoolRow] = field(default_factory=list)
    licence_assignments: list[LicenceAssignmentRow] = field(default_factory=list)

    @property
    def sizes(self) -> dict[str, int]:
        """How many of each entity were loaded."""
        return {
            "organisations": len(self.orgs),
            "people": len(self.people),
            "placements": len(self.placements),
            "courses": len(self.courses),
            "classes": len(self.classes),
            "enrollments": len(self.enrollments),
            "results": len(self.results),
            "devices": len(self.devices),
            "licence_pools": len(self.licence_pools),
            "licence_assignments": len(self.licence_assignments),
        }


def normalise_word(value: str) -> str:
    """A tag, subject code or area as compared: lower case, `-` between words."""
    return "-".join(value.strip().lower().replace("_", " ").replace("-", " ").split())


def _day(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(value: Any) -> date | None:
    moment = _instant(value)
    return None if moment is None else moment.date()


def _rows(
    engine: sa.Engine, tenant: str, entity: str, at: datetime | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, payload) of a tenant's entities of one type, by source and key, in batches.

    With `at`, the versions valid at that moment; else the latest state.
    """
    t = report_entities.c if at is None else report_history.c
    valid: tuple[sa.ColumnElement[bool], ...] = ()
    if at is not None:
        h = report_history.c
        valid = (h.valid_from <= at, sa.or_(h.valid_to.is_(None), h.valid_to > at))
    last: tuple[str, str] | None = None
    while True:
        query = (
            sa.select(t.source, t.key, t.payload)
            .where(t.tenant == tenant, t.entity == entity, *valid)
            .order_by(t.source, t.key)
            .limit(_BATCH)
        )
        if last is not None:
            query = query.where(sa.tuple_(t.source, t.key) > sa.tuple_(*last))
        with engine.connect() as conn:
            batch = conn.execute(query).all()
        for source, _key, payload in batch:
            yield source, json.loads(payload)
        if len(batch) < _BATCH:
            return
        last = (batch[-1][0], batch[-1][1])


def load_state(engine: sa.Engine, tenant: str, at: datetime | None = None) -> TenantState:
    """Read one tenant's materialised entities (every source) from the reporting store.

    With `at`, as they were at that moment (the history); else as they are now.
    """
    state = TenantState(tenant)
    for source, p in _rows(engine, tenant, "organisation", at):
        state.orgs.append(
            Org(
                source,
                p["key"],
                p.get("kind") or "other",
                p.get("name") or p["key"],
                p.get("org_number"),
                p.get("school_unit_code"),
                tuple(p.get("school_types") or ()),
            )
        )
    for source, p in _rows(engine, tenant, "person", at):
        external = list(p.get("external_ids") or ())
        if p.get("nin_hmac"):
            external.append(f"nin_hmac:{p['nin_hmac']}")
        state.people.append(
            PersonRow(
                source,
                p["key"],
                p.get("eppn"),
                p.get("username"),
                p.get("email"),
                tuple(p.get("roles") or ()),
                tuple(p.get("unit_keys") or ()),
                p.get("primary_unit_key"),
                p.get("grade"),
                tuple(external),
            )
        )
    for source, p in _rows(engine, tenant, "placement", at):
        state.placements.append(
            PlacementRow(
                source,
                p["person_key"],
                p["unit_key"],
                p.get("school_type") or "",
                _day(p.get("start_date")),
                _day(p.get("end_date")),
            )
        )
    for source, p in _rows(engine, tenant, "course", at):
        words = {
            normalise_word(w)
            for w in (
                *(p.get("tags") or ()),
                *(p.get("subject_codes") or ()),
                *(p.get("competence_areas") or ()),
            )
        }
        state.courses.append(CourseRow(source, p["key"], p.get("title") or "", frozenset(words)))
    for source, p in _rows(engine, tenant, "class", at):
        state.classes.append(
            ClassRow(source, p["key"], p.get("title") or "", p["course_key"], p["school_key"])
        )
    for source, p in _rows(engine, tenant, "enrollment", at):
        state.enrollments.append(
            EnrollmentRow(
                source,
                p["person_key"],
                p["class_key"],
                p["role"],
                _day(p.get("begin_date")),
                _day(p.get("end_date")),
            )
        )
    for source, p in _rows(engine, tenant, "result", at):
        scores = tuple(
            (f"{o['source']}:{o['objective_id']}", float(o["score"]))
            for o in p.get("objective_results") or ()
            if o.get("score") is not None
        )
        state.results.append(
            ResultRow(
                source,
                p["key"],
                p["person_key"],
                p.get("class_key"),
                p.get("score_status") == "fully graded",
                p.get("score"),
                p.get("score_min"),
                p.get("score_max"),
                _day(p.get("score_date")) or _when(p.get("source_modified")),
                tuple(p.get("learning_objective_ids") or ()),
                scores,
            )
        )
    for source, p in _rows(engine, tenant, "device", at):
        hints = p.get("unit_hints") or {}
        state.devices.append(
            DeviceRow(
                source,
                p["key"],
                p.get("physical_key"),
                p.get("kind") or "other",
                p.get("os_name"),
                p.get("os_version"),
                p.get("ownership") or "unknown",
                p.get("management_state") or "unknown",
                p.get("compliance") or "unknown",
                _when(p.get("enrolled_at")),
                _day(p.get("last_check_in_on")),
                _instant(p.get("source_modified")),
                tuple((u["kind"], u["value"]) for u in p.get("assigned_users") or ()),
                tuple(
                    str(hints[name])
                    for name in ("site", "building", "org_unit_path", "location", "group", "room")
                    if hints.get(name)
                ),
                bool(p.get("shared")),
                _day(p.get("support_ends_on")),
            )
        )
    _load_licences(engine, state, at)
    return state


def _load_licences(engine: sa.Engine, state: TenantState, at: datetime | None) -> None:
    """The tenant's licence pools and assignments (`hub.licences.*`)."""
    for source, p in _rows(engine, state.tenant, "pool", at):
        price = p.get("unit_price")
        state.licence_pools.append(
            LicencePoolRow(
                source,
                p["key"],
                p["product_id"],
                p.get("product_name"),
                p.get("vendor") or "",
                p.get("kind") or "other",
                p.get("total"),
                p.get("assigned"),
                p.get("available"),
                None if price is None else float(price),
                p.get("currency"),
                p.get("location"),
            )
        )
    for source, p in _rows(engine, state.tenant, "assignment", at):
        state.licence_assignments.append(
            LicenceAssignmentRow(
                source,
                p["key"],
                p["pool_key"],
                tuple((u["kind"], u["value"]) for u in p.get("assigned_users") or ()),
                p.get("device_physical_key"),
            )
        )


def protected_people(engine: sa.Engine, tenant: str, at: datetime) -> frozenset[str]:
    """The keys of the tenant's people marked protected at the source, as of `at`."""
    return frozenset(
        str(p["key"]) for _source, p in _rows(engine, tenant, "person", at) if p.get("protected")
    )
