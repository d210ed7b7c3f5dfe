"""Load one tenant's materialised entities from the reporting store, lean and in a stable order.

The compiler needs a few fields of each entity, not the entities: rows are read a batch at
a time (ordered by entity, source and key) and only those fields are kept, in slotted
dataclasses. What the records look up by key (organisations, people, placements, courses,
classes, devices) is held; enrollments and results, the tenant's largest entities (four
and more per pupil) that the records only count, are `Streamed`: read from the store a
batch at a time each time a computation walks them, so they never sit in memory whole.

`load_state(engine, tenant, at)` reads the versions valid at the moment `at` from the
history (`report_history`: valid from on or before `at`, not yet ended at `at`); without
`at`, the latest state (`report_entities`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from hub.materialise import report_entities, report_history

_BATCH = 5_000

T = TypeVar("T")


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
    #: Whether the MDM names a user (their identifiers are `DeviceUsersRow`s, read when
    #: matching walks them).
    named: bool
    hints: tuple[str, ...]
    shared: bool
    support_ends_on: date | None


@dataclass(frozen=True, slots=True)
class DeviceUsersRow:
    """The identifiers of the user an MDM assigns a device to."""

    source: str
    key: str
    #: (kind, value) of the assigned user's identifiers.
    users: tuple[tuple[str, str], ...]


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


class Streamed(Collection[T]):
    """Rows of one entity type, read from the store a batch at a time on every walk.

    Walks see the rows in the same order (by source and key) every time; the count is
    taken when the state is loaded.
    """

    def __init__(self, read: Callable[[], Iterator[T]], count: int) -> None:
        self._read = read
        self._count = count

    def __iter__(self) -> Iterator[T]:
        return self._read()

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: object) -> bool:
        return any(row == item for row in self)


#: Directory systems, in order of preference: the tenant's directory is the first it has.
DIRECTORY_SYSTEMS = ("feide_ldap", "ss12000", "os2skoledata")


def directory_sources(sources: Iterable[str]) -> frozenset[str]:
    """The person sources (`<system>/<instance>`) of the tenant's directory system."""
    found = set(sources)
    systems = {s.split("/", 1)[0] for s in found}
    system = next((s for s in DIRECTORY_SYSTEMS if s in systems), None)
    return frozenset(s for s in found if system and s.split("/", 1)[0] == system)


class People(Collection[PersonRow]):
    """A tenant's people, source by source in order: held lists or `Streamed` rows."""

    def __init__(self, parts: Sequence[tuple[str, Collection[PersonRow]]]) -> None:
        self.parts = parts

    def __iter__(self) -> Iterator[PersonRow]:
        return itertools.chain.from_iterable(rows for _source, rows in self.parts)

    def __len__(self) -> int:
        return sum(len(rows) for _source, rows in self.parts)

    def __contains__(self, item: object) -> bool:
        return any(row == item for row in self)


def person_sources(people: Collection[PersonRow]) -> list[str]:
    """The sources people come from, in order, without walking streamed rows."""
    if isinstance(people, People):
        return [source for source, _rows in people.parts]
    return sorted({p.source for p in people})


def people_of(people: Collection[PersonRow], sources: Collection[str]) -> Iterator[PersonRow]:
    """The people of these sources, in order; streamed rows of other sources are not read."""
    if isinstance(people, People):
        return itertools.chain.from_iterable(
            rows for source, rows in people.parts if source in sources
        )
    return (p for p in people if p.source in sources)


@dataclass
class TenantState:
    """Everything of one tenant that the records are compiled from."""

    tenant: str
    orgs: list[Org] = field(default_factory=list)
    people: Collection[PersonRow] = field(default_factory=list)
    placements: list[PlacementRow] = field(default_factory=list)
    courses: list[CourseRow] = field(default_factory=list)
    classes: list[ClassRow] = field(default_factory=list)
    enrollments: Collection[EnrollmentRow] = field(default_factory=list)
    results: Collection[ResultRow] = field(default_factory=list)
    devices: list[DeviceRow] = field(default_factory=list)
    licence_pools: list[LicencePoolRow] = field(default_factory=list)
    licence_assignments: Collection[LicenceAssignmentRow] = field(default_factory=list)
    #: The directory's people with their identifiers (eppn, username, email, external
    #: ids), read from the store when matching walks them; None: the held `people` carry
    #: them. Held, a directory person is what the records read: units, roles, grade.
    directory_identifiers: Collection[PersonRow] | None = None
    #: The users the MDMs assign devices to, read from the store when matching walks them.
    device_users: Collection[DeviceUsersRow] = field(default_factory=list)

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
    return _parsed_day(str(value)[:10])


@functools.lru_cache(maxsize=8192)
def _parsed_day(text: str) -> date:
    """A day, one object per distinct day: a tenant's rows share a few thousand of them."""
    return date.fromisoformat(text)


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(value: Any) -> date | None:
    moment = _instant(value)
    return None if moment is None else moment.date()


def _table(at: datetime | None) -> Any:
    """The columns to read: the history's with `at`, else the latest state's."""
    return report_entities.c if at is None else report_history.c


def _where(
    tenant: str, entity: str, at: datetime | None, source: str | None = None
) -> tuple[sa.ColumnElement[bool], ...]:
    """A tenant's entities of one type (of one source); with `at`, the versions valid then."""
    t = _table(at)
    valid: tuple[sa.ColumnElement[bool], ...] = ()
    if at is not None:
        valid = (t.valid_from <= at, sa.or_(t.valid_to.is_(None), t.valid_to > at))
    if source is not None:
        valid += (t.source == source,)
    return (t.tenant == tenant, t.entity == entity, *valid)


def _rows(
    engine: sa.Engine,
    tenant: str,
    entity: str,
    at: datetime | None = None,
    source: str | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, payload) of a tenant's entities of one type, by source and key, in batches.

    With `at`, the versions valid at that moment; else the latest state. With `source`,
    that source's only.
    """
    t = _table(at)
    where = _where(tenant, entity, at, source)
    last: tuple[str, str] | None = None
    while True:
        query = sa.select(t.source, t.key, t.payload).where(*where).order_by(t.source, t.key)
        query = query.limit(_BATCH)
        if last is not None:
            query = query.where(sa.tuple_(t.source, t.key) > sa.tuple_(*last))
        with engine.connect() as conn:
            batch = conn.execute(query).all()
        for found, _key, payload in batch:
            yield sys.intern(found), json.loads(payload)
        if len(batch) < _BATCH:
            return
        last = (batch[-1][0], batch[-1][1])


def _count(
    engine: sa.Engine, tenant: str, entity: str, at: datetime | None, source: str | None = None
) -> int:
    """How many entities of one type (of one source) `_rows` gives."""
    table = report_entities if at is None else report_history
    query = sa.select(sa.func.count()).select_from(table)
    with engine.connect() as conn:
        return int(conn.scalar(query.where(*_where(tenant, entity, at, source))) or 0)


def _sources(engine: sa.Engine, tenant: str, entity: str, at: datetime | None) -> list[str]:
    """The sources of a tenant's entities of one type, in order."""
    t = _table(at)
    query = sa.select(t.source).where(*_where(tenant, entity, at)).distinct().order_by(t.source)
    with engine.connect() as conn:
        return list(conn.scalars(query))


def _streamed(
    engine: sa.Engine,
    tenant: str,
    entity: str,
    at: datetime | None,
    row: Callable[[str, dict[str, Any]], T],
    source: str | None = None,
) -> Streamed[T]:
    """The entities of one type (of one source) as `row` makes them, read on every walk."""

    def read() -> Iterator[T]:
        rows = _rows(engine, tenant, entity, at, source)
        return (row(found, payload) for found, payload in rows)

    return Streamed(read, _count(engine, tenant, entity, at, source))


def _text(value: Any) -> Any:
    """A value repeated across rows (a unit key, a role, an OS name) kept once in memory."""
    return sys.intern(value) if isinstance(value, str) else value


def _texts(values: Iterable[Any]) -> tuple[Any, ...]:
    """Repeated values as a tuple, kept once in memory with each value.

    A person's roles and units and a device's unit hints: a tenant has a few thousand
    distinct ones among its hundred thousand rows.
    """
    return _one_of(tuple(_text(v) for v in values))


@functools.lru_cache(maxsize=16384)
def _one_of(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The first tuple equal to `values` seen lately (`_texts`)."""
    return values


def _person(source: str, p: dict[str, Any]) -> PersonRow:
    external = list(p.get("external_ids") or ())
    if p.get("nin_hmac"):
        external.append(f"nin_hmac:{p['nin_hmac']}")
    return PersonRow(
        source,
        p["key"],
        p.get("eppn"),
        p.get("username"),
        p.get("email"),
        _texts(p.get("roles") or ()),
        _texts(p.get("unit_keys") or ()),
        _text(p.get("primary_unit_key")),
        p.get("grade"),
        tuple(external),
    )


def _counted_person(source: str, p: dict[str, Any]) -> PersonRow:
    """A directory person as the records read them, without the identifiers matching reads."""
    return dataclasses.replace(
        _person(source, p), eppn=None, username=None, email=None, external_ids=()
    )


def _enrollment(source: str, p: dict[str, Any]) -> EnrollmentRow:
    return EnrollmentRow(
        source,
        p["person_key"],
        _text(p["class_key"]),
        _text(p["role"]),
        _day(p.get("begin_date")),
        _day(p.get("end_date")),
    )


def _result(source: str, p: dict[str, Any]) -> ResultRow:
    scores = tuple(
        (_text(f"{o['source']}:{o['objective_id']}"), float(o["score"]))
        for o in p.get("objective_results") or ()
        if o.get("score") is not None
    )
    return ResultRow(
        source,
        p["key"],
        p["person_key"],
        p.get("class_key"),
        p.get("score_status") == "fully graded",
        p.get("score"),
        p.get("score_min"),
        p.get("score_max"),
        _day(p.get("score_date")) or _when(p.get("source_modified")),
        tuple(_text(o) for o in p.get("learning_objective_ids") or ()),
        scores,
    )


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
    # The directory's people are held (the records look them up), without their
    # identifiers; those, and other sources' people, are only matched, so they are read
    # when matching walks them.
    sources = _sources(engine, tenant, "person", at)
    directory = directory_sources(sources)
    state.people = People(
        [
            (
                source,
                [
                    _counted_person(found, p)
                    for found, p in _rows(engine, tenant, "person", at, source)
                ]
                if source in directory
                else _streamed(engine, tenant, "person", at, _person, source),
            )
            for source in sources
        ]
    )
    state.directory_identifiers = People(
        [
            (source, _streamed(engine, tenant, "person", at, _person, source))
            for source in sources
            if source in directory
        ]
    )
    for source, p in _rows(engine, tenant, "placement", at):
        state.placements.append(
            PlacementRow(
                source,
                p["person_key"],
                _text(p["unit_key"]),
                _text(p.get("school_type") or ""),
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
            ClassRow(
                source,
                p["key"],
                p.get("title") or "",
                _text(p["course_key"]),
                _text(p["school_key"]),
            )
        )
    state.enrollments = _streamed(engine, tenant, "enrollment", at, _enrollment)
    state.results = _streamed(engine, tenant, "result", at, _result)
    for source, p in _rows(engine, tenant, "device", at):
        hints = p.get("unit_hints") or {}
        state.devices.append(
            DeviceRow(
                source,
                p["key"],
                p.get("physical_key"),
                _text(p.get("kind") or "other"),
                _text(p.get("os_name")),
                _text(p.get("os_version")),
                _text(p.get("ownership") or "unknown"),
                _text(p.get("management_state") or "unknown"),
                _text(p.get("compliance") or "unknown"),
                _when(p.get("enrolled_at")),
                _day(p.get("last_check_in_on")),
                _instant(p.get("source_modified")),
                bool(p.get("assigned_users")),
                _texts(
                    str(hints[name])
                    for name in ("site", "building", "org_unit_path", "location", "group", "room")
                    if hints.get(name)
                ),
                bool(p.get("shared")),
                _day(p.get("support_ends_on")),
            )
        )
    state.device_users = _streamed(engine, tenant, "device", at, _device_users)
    _load_licences(engine, state, at)
    return state


def _device_users(source: str, p: dict[str, Any]) -> DeviceUsersRow:
    users = tuple((_text(u["kind"]), u["value"]) for u in p.get("assigned_users") or ())
    return DeviceUsersRow(source, p["key"], users)


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
    # Assignments are many (one per user or device and product) and walked twice (the
    # matcher's holders, the licence records): read from the store on each walk.
    state.licence_assignments = _streamed(engine, state.tenant, "assignment", at, _assignment)


def _assignment(source: str, p: dict[str, Any]) -> LicenceAssignmentRow:
    return LicenceAssignmentRow(
        source,
        p["key"],
        _text(p["pool_key"]),
        tuple((_text(u["kind"]), u["value"]) for u in p.get("assigned_users") or ()),
        p.get("device_physical_key"),
    )


def protected_people(engine: sa.Engine, tenant: str, at: datetime) -> frozenset[str]:
    """The keys of the tenant's people marked protected at the source, as of `at`."""
    return frozenset(
        str(p["key"]) for _source, p in _rows(engine, tenant, "person", at) if p.get("protected")
    )
