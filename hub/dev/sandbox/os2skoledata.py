"""A sandbox OS2skoledata API: a Danish kommune's STIL export over OS2skoledata's REST API.

Serves `hub.dev.sandbox.danish` kommuner below `/<tenant>/os2skoledata` with the shapes
and behaviour of OS2skoledata's `ReadApiController`, `DeltaSyncApiController` and
`SqlSyncApi` (see docs/denmark.md for the source commit):

    GET  /api/institutions                         every active institution
    GET  /api/persons?institutionNumber=N          the institution's persons (not deleted)
    GET  /api/groups?institutionNumber=N[&alltypes=true]   its main groups, or every group
    GET  /api/full/N                               the institution with its persons' full
                                                   records (the `protected` marker, aliases)
    GET  /api/head                                 the newest change id
    POST /api/head/N      {"head": id}             register this client's starting point
    GET  /api/changes/N                            the changes since it; 409 when none was
                                                   registered or there are 10,000 or more
    POST /api/changes/{institutions,persons,groups}  {"ids": [...]}   objects by database id
                                                   (persons deleted everywhere and groups
                                                   other than main groups are left out, as
                                                   OS2skoledata does)

Every request needs the `ApiKey` header (401 otherwise). OS2skoledata answers whole lists
without paging; the unit a client reads at a time is the institution. Faults come from the
sandbox server (`Fault`). Control actions (`POST /_sandbox/os2skoledata/<tenant>/<action>`):
`rename_person {"id", "first_name"}`, `delete_person {"id"}`, `move_person {"id",
"group"}`, `add_person {"institution", "role", "employee_roles"}`, `delete_group {"id"}`,
`flood {"institution", "count"}` (that many changes, for the "too many changes" 409) and
`forget_heads` (the client's starting points are lost, as after a reinstall).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.dev.sandbox._oauth import secret_variable
from hub.dev.sandbox.danish import (
    DANISH_TENANTS,
    DanishGroup,
    DanishInstitution,
    DanishKommune,
    DanishPerson,
    generate_danish,
    synthetic_cpr,
)
from hub.dev.sandbox.webserver import Request, Response, error_response, json_response

#: OS2skoledata refuses a change read with this many changes or more ("full sync instead").
TOO_MANY_CHANGES = 10_000
_STAMP = "%Y-%m-%d %H:%M:%S"


def danish_tenants(tenants: Sequence[str]) -> list[str]:
    """The tenants among `tenants` that are Danish (served over OS2skoledata)."""
    return [t for t in tenants if t in DANISH_TENANTS]


def api_key(tenant: str) -> str:
    """A fixed API key for a tenant's OS2skoledata client (tests; `hub sandbox up` draws one)."""
    return f"sandbox-os2skoledata-{tenant}-key"


def secret_env(tenant: str) -> str:
    """The environment variable that holds a tenant's OS2skoledata API key."""
    return secret_variable("OS2SKOLEDATA", tenant)


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the Danish tenants' API keys: variable → key.

    The key is the tenant's sandbox client secret kept in `home`, the one the web server's
    app is given, so hub.yaml and the running server agree.
    """
    from hub.dev.sandbox.oneroster import client_credentials

    danish = danish_tenants(tenants)
    return {secret_env(t): key for t, (_, key) in client_credentials(home, danish).items()}


def os2skoledata_source_config(
    tenant: str,
    base_url: str,
    *,
    source_id: str = "os2skoledata",
    account_domain: str | None = None,
) -> dict[str, Any]:
    """The hub.yaml source entry for a tenant's sandbox OS2skoledata API."""
    entry: dict[str, Any] = {
        "id": source_id,
        "type": "os2skoledata",
        "base_url": base_url,
        "auth": {"kind": "bearer", "secret": {"env": secret_env(tenant)}},
    }
    if account_domain:
        entry["account_domain"] = account_domain
    return entry


def tenant_summary(tenant: str, scale: int, seed: int = 1) -> str:
    """One line for `hub sandbox up`'s summary: the Danish kommune's institutions and people."""
    kommune = generate_danish(tenant, scale, seed)
    schools = sum(1 for i in kommune.institutions if i.type == "SCHOOL")
    daycare = sum(1 for i in kommune.institutions if i.type == "DAYCARE")
    return (
        f"  {tenant:<12} {kommune.name:<22} {schools} folkeskoler, {daycare} dagtilbud, "
        f"{len(kommune.persons):,} people (OS2skoledata)"
    )


@dataclass
class _Change:
    id: int
    tts: datetime
    entity_id: int
    entity_type: str  # INSTITUTION, INSTITUTION_PERSON, GROUP
    event_type: str  # CREATE, UPDATE, DELETE
    entity_name: str
    institution: DanishInstitution

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tts": int(self.tts.timestamp() * 1000),
            "entityId": self.entity_id,
            "entityType": self.entity_type,
            "eventType": self.event_type,
            "entityName": self.entity_name,
            "institutionId": self.institution.database_id,
            "institutionName": self.institution.name,
        }


@dataclass
class OS2skoledataTenant:
    """One kommune's OS2skoledata: the data, its change log and the client's starting points."""

    kommune: DanishKommune
    changes: list[_Change] = field(default_factory=list)
    #: Institution database id → the change id the client registered as its starting point.
    heads: dict[int, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        """The log as the nightly imports left it: one `CREATE` per institution, group, person."""
        if self.changes:
            return
        k = self.kommune
        for index, inst in enumerate(k.institutions):
            self.log("INSTITUTION", "CREATE", inst.database_id, inst.name, index)
        for group in k.groups:
            self.log("GROUP", "CREATE", group.database_id, group.name, group.institution)
        for person in k.persons:
            self.log(
                "INSTITUTION_PERSON",
                "CREATE",
                person.database_id,
                person.first_name,
                person.institution,
            )

    def head(self) -> int:
        """The newest change id (0 for an empty log)."""
        return self.changes[-1].id if self.changes else 0

    def log(self, entity_type: str, event: str, entity_id: int, name: str, inst: int) -> None:
        """Append a change of an entity at the institution with index `inst`."""
        self.changes.append(
            _Change(
                self.head() + 1,
                datetime.now(UTC),
                entity_id,
                entity_type,
                event,
                name,
                self.kommune.institutions[inst],
            )
        )

    def institution(self, number: str) -> tuple[int, DanishInstitution] | None:
        """The index and institution with this institution number, if any."""
        for index, inst in enumerate(self.kommune.institutions):
            if inst.number == number:
                return index, inst
        return None

    def person(self, database_id: int) -> DanishPerson:
        """The person with this database id."""
        for person in self.kommune.persons:
            if person.database_id == database_id:
                return person
        raise KeyError(database_id)

    def group(self, database_id: int) -> DanishGroup:
        """The group with this database id."""
        for group in self.kommune.groups:
            if group.database_id == database_id:
                return group
        raise KeyError(database_id)


def _institution_json(inst: DanishInstitution) -> dict[str, Any]:
    return {
        "databaseId": inst.database_id,
        "name": inst.name,
        "number": inst.number,
        "abbreviation": inst.abbreviation,
        "locked": False,
        "type": inst.type,
        "currentSchoolYear": "2025/2026",
    }


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


class OS2skoledataApp:
    """The sandbox OS2skoledata API for Danish tenants (mounted as `os2skoledata`)."""

    def __init__(self, data: Mapping[str, OS2skoledataTenant], keys: Mapping[str, str]) -> None:
        self.data = dict(data)
        self.keys = dict(keys)

    @classmethod
    def generate(
        cls,
        tenants: Sequence[str],
        scale: int,
        seed: int = 1,
        keys: Mapping[str, str] | None = None,
    ) -> OS2skoledataApp:
        """The app for these Danish tenants with their API keys (default: `api_key`)."""
        return cls(
            {t: OS2skoledataTenant(generate_danish(t, scale, seed)) for t in tenants},
            {t: (keys or {}).get(t) or api_key(t) for t in tenants},
        )

    @property
    def tenants(self) -> Sequence[str]:
        """The tenants served."""
        return list(self.data)

    # -- requests ---------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one API request of a tenant, after checking its `ApiKey` header."""
        key = request.headers.get("ApiKey") or request.headers.get("apikey")
        if key is None or key != self.keys.get(request.tenant):
            return error_response(401, "Invalid ApiKey header")
        tenant = self.data[request.tenant]
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] != ["api"]:
            return error_response(404, "no such endpoint")
        with tenant.lock:
            return self._route(request, tenant, parts[1:])

    def _route(self, request: Request, tenant: OS2skoledataTenant, parts: list[str]) -> Response:
        get, post = request.method == "GET", request.method == "POST"
        if get and parts == ["institutions"]:
            return json_response([_institution_json(i) for i in tenant.kommune.institutions])
        if get and parts in (["persons"], ["groups"]):
            found = tenant.institution(request.query.get("institutionNumber", ""))
            if found is None:
                number = request.query.get("institutionNumber", "")
                return Response(400, f"Institution with number: {number} not found.".encode())
            if parts == ["persons"]:
                people = [p for p in tenant.kommune.persons if p.institution == found[0]]
                return json_response([self._person(tenant, p) for p in people if not p.deleted])
            all_types = request.query.get("alltypes", "false").lower() == "true"
            groups = [
                g
                for g in tenant.kommune.groups
                if g.institution == found[0] and (all_types or g.group_type == "HOVEDGRUPPE")
            ]
            return json_response([self._group(tenant, g) for g in groups])
        if get and len(parts) == 2 and parts[0] == "full":
            found = tenant.institution(parts[1])
            if found is None:
                return error_response(500, "no such institution")
            return json_response(self._full(tenant, *found))
        if get and parts == ["head"]:
            return json_response(tenant.head())
        if post and len(parts) == 2 and parts[0] == "head":
            return self._set_head(request, tenant, parts[1])
        if get and len(parts) == 2 and parts[0] == "changes":
            return self._changes(tenant, parts[1])
        if post and len(parts) == 2 and parts[0] == "changes":
            body = request.json() or {}
            ids = {int(i) for i in body.get("ids") or []}
            return self._by_ids(tenant, parts[1], ids)
        return error_response(404, "no such endpoint")

    def _set_head(self, request: Request, tenant: OS2skoledataTenant, number: str) -> Response:
        found = tenant.institution(number)
        if found is None:
            return Response(400, b"Unknown institution")
        head = int((request.json() or {}).get("head", 0))
        inst = found[1]
        current = tenant.heads.get(inst.database_id)
        if current is not None and head != 0 and head < current:
            message = f"New head for institution {number} must be higher than current: {current}"
            return Response(400, message.encode())
        tenant.heads[inst.database_id] = head
        return Response(200)

    def _changes(self, tenant: OS2skoledataTenant, number: str) -> Response:
        found = tenant.institution(number)
        if found is None:
            return Response(400, b"Unknown institution")
        offset = tenant.heads.get(found[1].database_id, 0)
        if offset == 0:
            return Response(409, b"Head has never been set on this client!")
        changes = [
            c
            for c in tenant.changes
            if c.institution.database_id == found[1].database_id and c.id > offset
        ]
        if len(changes) >= TOO_MANY_CHANGES:
            return Response(409, b"Too many changes, perform a full sync instead")
        return json_response([c.as_json() for c in changes])

    def _by_ids(self, tenant: OS2skoledataTenant, kind: str, ids: set[int]) -> Response:
        k = tenant.kommune
        if kind == "institutions":
            return json_response(
                [_institution_json(i) for i in k.institutions if i.database_id in ids]
            )
        if kind == "persons":
            people = [p for p in k.persons if p.database_id in ids and not p.deleted]
            return json_response([self._person(tenant, p) for p in people])
        if kind == "groups":
            groups = [g for g in k.groups if g.database_id in ids and g.group_type == "HOVEDGRUPPE"]
            return json_response([self._group(tenant, g) for g in groups])
        return error_response(404, "no such endpoint")

    # -- shapes -------------------------------------------------------------------------

    def _person(self, tenant: OS2skoledataTenant, p: DanishPerson) -> dict[str, Any]:
        inst = tenant.kommune.institutions[p.institution]
        first, family = p.shown_names
        main = tenant.group(p.main_group) if p.main_group is not None else None
        return {
            "databaseId": p.database_id,
            "localPersonId": None,
            "source": "STIL",
            "lastModified": p.last_modified.strftime(_STAMP),
            "firstName": first,
            "familyName": family,
            "gender": None,
            "cpr": p.cpr,
            "username": p.uni_id,
            "stilUsername": p.uni_id if len(p.uni_id) == 8 else None,
            "uniId": p.uni_id,
            "role": p.role,
            "globalRole": p.role,
            "groupIds": list(p.groups),
            "studentMainGroups": [p.main_group] if p.main_group is not None else [],
            "stilMainGroupCurrentInstitution": main.group_id if main else None,
            "stilGroupsCurrentInstitution": [tenant.group(g).group_id for g in p.groups],
            "institutions": [_institution_json(inst)],
            "currentInstitutionNumber": inst.number,
            "studentRole": p.student_role,
            "globalStudentRole": p.student_role,
            "employeeRoles": list(p.employee_roles) if p.role == "EMPLOYEE" else None,
            "globalEmployeeRoles": list(p.employee_roles),
            "externalRole": p.external_role,
            "globalExternalRole": p.external_role,
            "currentInstitution": _institution_json(inst),
            "studentMainGroupStartYearForInstitution": 0,
            "studentMainGroupLevelForInstitution": p.level,
            "deleted": p.deleted,
            "totalRoles": [p.role],
            "apiOnly": False,
        }

    def _group(self, tenant: OS2skoledataTenant, g: DanishGroup) -> dict[str, Any]:
        inst = tenant.kommune.institutions[g.institution]
        return {
            "databaseId": g.database_id,
            "lastModified": g.last_modified.strftime(_STAMP),
            "fromDate": _date(g.from_date),
            "toDate": _date(g.to_date),
            "groupId": g.group_id,
            "groupLevel": g.level,
            "groupName": g.name,
            "groupType": g.group_type,
            "line": g.line,
            "institutionNumber": inst.number,
            "institutionName": inst.name,
            "institutionAbbreviation": inst.abbreviation,
            "institutionLocked": False,
            "startYear": 0,
        }

    def _full(
        self, tenant: OS2skoledataTenant, index: int, inst: DanishInstitution
    ) -> dict[str, Any]:
        people = [p for p in tenant.kommune.persons if p.institution == index]
        return {
            "lastModified": None,
            "deleted": False,
            "institutionName": inst.name,
            "institutionNumber": inst.number,
            "type": inst.type,
            "institutionPersons": [
                {
                    "deleted": p.deleted,
                    "source": "STIL",
                    "username": p.uni_id,
                    "person": {
                        "os2skoledataDatabaseId": p.database_id,
                        "aliasFirstName": p.alias_first_name,
                        "aliasFamilyName": p.alias_family_name,
                        "civilRegistrationNumber": p.cpr,
                        "firstName": p.first_name,
                        "familyName": p.family_name,
                        "protected": p.protected,
                    },
                }
                for p in people
            ],
            "groups": [],
        }

    # -- control --------------------------------------------------------------------------

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Change the tenant's data as STIL's nightly export would, logging each change."""
        data = self.data[tenant]
        body = payload or {}
        with data.lock:
            return self._control(data, action, body)

    def _control(self, data: OS2skoledataTenant, action: str, body: Mapping[str, Any]) -> Any:
        now = datetime.now(UTC)
        if action == "forget_heads":
            data.heads.clear()
            return {"forgotten": True}
        if action == "flood":
            inst = int(body.get("institution", 0))
            for _ in range(int(body.get("count", TOO_MANY_CHANGES))):
                person = next(p for p in data.kommune.persons if p.institution == inst)
                data.log(
                    "INSTITUTION_PERSON", "UPDATE", person.database_id, person.first_name, inst
                )
            return {"head": data.head()}
        if action == "delete_group":
            group = data.group(int(body["id"]))
            data.kommune.groups.remove(group)
            for person in data.kommune.persons:
                if group.database_id in person.groups:
                    person.groups.remove(group.database_id)
            data.log("GROUP", "DELETE", group.database_id, group.name, group.institution)
            return {"deleted": group.database_id}
        if action == "add_person":
            inst = int(body.get("institution", 0))
            seq = len(data.kommune.persons)
            person = DanishPerson(
                database_id=5000 + seq,
                institution=inst,
                first_name=str(body.get("first_name", "Rasmus")),
                family_name=str(body.get("family_name", "Kjær")),
                cpr=synthetic_cpr(seq),
                uni_id=f"nyan{seq:04d}",
                role=str(body.get("role", "EMPLOYEE")),
                employee_roles=list(body.get("employee_roles", ["LÆRER"])),
                last_modified=now,
            )
            data.kommune.persons.append(person)
            data.log("INSTITUTION_PERSON", "CREATE", person.database_id, person.first_name, inst)
            return {"id": person.database_id}
        person = data.person(int(body["id"]))
        if action == "rename_person":
            person.first_name = str(body["first_name"])
            event = "UPDATE"
        elif action == "move_person":
            group = data.group(int(body["group"]))
            person.groups = [g for g in person.groups if g != person.main_group] + [
                group.database_id
            ]
            person.main_group = group.database_id
            person.level = group.level
            event = "UPDATE"
        elif action == "delete_person":
            person.deleted = True
            event = "DELETE"
        else:
            raise ValueError(f"unknown action {action}")
        person.last_modified = now
        data.log(
            "INSTITUTION_PERSON", event, person.database_id, person.first_name, person.institution
        )
        return {"id": person.database_id, "event": event}
