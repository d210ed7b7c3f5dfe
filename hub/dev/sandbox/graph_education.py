"""The sandbox's Microsoft Graph education: Teams classes, their members, and the delta query.

Mounted as vendor `graph_education`: a tenant's Graph is `<server>/<tenant>/graph_education/
v1.0` and its token endpoint `<server>/<tenant>/graph_education/<directory id>/oauth2/v2.0/
token` (the Intune app registration's: `hub.dev.sandbox.mdm.graph.graph_token`).

- `GET /v1.0/education/schools`, `/education/schools/{id}/classes`,
  `/education/classes/{id}/members` and `/teachers`: `$top` (1-999, default 100) and
  `@odata.nextLink` with an opaque `$skiptoken`; `$select` is accepted.
- `GET /v1.0/education/classes/delta`: a delta round. Without a token every class, page by
  page (`@odata.nextLink`), the last page carrying `@odata.deltaLink` with a
  `$deltatoken`; with that token, the classes changed since, each with `members@delta`
  (members added, and `{"id": …, "@removed": {"reason": "deleted"}}` for those who left),
  and `{"id": …, "@removed": {"reason": "deleted"}}` for a deleted class. An unknown or
  tampered token is a 400 `syncStateNotFound`.

The platform is the tenant's sandbox OneRoster LMS (`LmsView`): a class per OneRoster
class, its description the course's tags (`digital-didactics, competence-development`),
members from the enrolments. Changes (`POST /_sandbox/graph_education/<tenant>/<action>`):
`remove_member {class, user}`, `add_member {class, user, teacher}`, `rename {class,
displayName}`, `delete_class {class}`, plus `revoke_tokens` and `token_ttl`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hub.dev.sandbox._lms_view import LmsView, PlatformApp, PlatformUser
from hub.dev.sandbox._rest import signed_token, signed_value
from hub.dev.sandbox.mdm.credentials import (
    GRAPH_SCOPE,
    intune_client_id,
    intune_directory_id,
    secret_envs,
)
from hub.dev.sandbox.mdm.graph import graph_error, graph_token, graph_unauthenticated
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["GraphEducationApp", "graph_education_source_config"]

API = "/v1.0"
MAX_TOP = 999
DEFAULT_TOP = 100
_CHILD = re.compile(r"^/v1\.0/education/(schools|classes)/([^/]+)/(classes|members|teachers)$")


@dataclass
class _Tenant:
    """One tenant's Teams classes: the LMS view plus the changes made since."""

    view: LmsView
    #: Raised by every change; a delta token names the sequence it was minted at.
    sequence: int = 0
    #: Class index → sequence of its last change.
    changed: dict[int, int] = field(default_factory=dict)
    deleted: dict[int, int] = field(default_factory=dict)
    removed_members: dict[tuple[int, int], int] = field(default_factory=dict)
    added_members: dict[int, list[tuple[int, bool]]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def members(self, klass: int) -> list[tuple[int, bool]]:
        """(user index, teaches) of a class's current members."""
        teaches = {
            user: teacher
            for user, teacher in self.view.teaching(klass).items()
            if (klass, user) not in self.removed_members
        }
        for user, teacher in self.added_members.get(klass, ()):
            teaches[user] = teaches.get(user, False) or teacher
        return list(teaches.items())


class GraphEducationApp(PlatformApp):
    """Microsoft Graph education for every sandbox tenant, mounted as `graph_education`."""

    token_prefix = "eyJ0eXAiOiJKV1Qi."

    def setup(self) -> None:
        """Each tenant's classes and the changes made to them."""
        self.data = {t: _Tenant(view) for t, view in self.views.items()}
        self._lock = threading.Lock()

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The token endpoint, schools, classes (and their delta), members and teachers."""
        if request.path.endswith("/oauth2/v2.0/token"):
            if request.method != "POST":
                return graph_error(405, "MethodNotAllowed", "use POST")
            return graph_token(request, self.tokens, self.credentials[request.tenant].intune_secret)
        if request.method != "GET":
            return graph_error(405, "BadRequest", "only GET is supported here")
        known = request.path in (f"{API}/education/schools", f"{API}/education/classes/delta")
        child = _CHILD.match(request.path)
        if not known and child is None:
            segment = request.path.rstrip("/").rsplit("/", 1)[-1]
            return graph_error(
                404, "BadRequest", f"Resource not found for the segment '{segment}'."
            )
        if self.tokens.valid(request.tenant, request.headers) is None:
            return graph_unauthenticated()
        tenant = self.data[request.tenant]
        try:
            top = int(request.query.get("$top", DEFAULT_TOP))
            offset = _offset(request.query.get("$skiptoken"))
        except ValueError:
            return graph_error(400, "BadRequest", "Invalid $top or $skiptoken.")
        if not 1 <= top <= MAX_TOP:
            return graph_error(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}.")
        with self._lock:
            if request.path.endswith("/delta"):
                return self._delta(request, tenant, top, offset)
            if child is None:
                records = [
                    self._school(tenant, n) for n in range(1, tenant.view.school_count() + 1)
                ]
                return _page(request, records, top, offset)
            return self._child(request, tenant, child.groups(), top, offset)

    def _child(
        self, request: Request, tenant: _Tenant, parts: tuple[str, ...], top: int, offset: int
    ) -> Response:
        parent, parent_id, what = parts
        view = tenant.view
        kind = "orgs" if parent == "schools" else "classes"
        try:
            index = view.data.index_of(kind, parent_id)
        except KeyError:
            return graph_error(
                404, "Request_ResourceNotFound", f"Resource '{parent_id}' does not exist."
            )
        if parent == "schools":
            if what != "classes":
                return graph_error(
                    404, "BadRequest", f"Resource not found for the segment '{what}'."
                )
            classes = [k for k in view.classes_of_school.get(index, ()) if k not in tenant.deleted]
            records = [{"id": view.data.sourced_id("classes", k)} for k in classes]
            return _page(request, records, top, offset)
        if index in tenant.deleted or what == "classes":
            return graph_error(
                404, "Request_ResourceNotFound", f"Resource '{parent_id}' does not exist."
            )
        members = tenant.members(index)
        if what == "teachers":
            members = [m for m in members if m[1]]
        window = members[offset : offset + top]
        records = [_user(view.user(user)) for user, _teaches in window]
        return _page(request, records, top, offset, total=len(members))

    def _delta(self, request: Request, tenant: _Tenant, top: int, offset: int) -> Response:
        token = request.query.get("$deltatoken")
        view = tenant.view
        if token is None:
            since = None
            classes = [k for k in range(view.class_count) if k not in tenant.deleted]
        else:
            try:
                since = self._since(request.tenant, token)
            except ValueError:
                return graph_error(
                    400,
                    "syncStateNotFound",
                    "The sync state generation is not found. The delta token is expired and "
                    "data must be synchronized again.",
                )
            touched = {k for k, s in tenant.changed.items() if s > since}
            touched |= {k for k, s in tenant.deleted.items() if s > since}
            classes = sorted(touched)
        window = classes[offset : offset + top]
        records = [self._class(tenant, k, since) for k in window]
        body: dict[str, Any] = {
            "@odata.context": f"{request.base_url}{API}/$metadata#Collection(educationClass)",
            "value": records,
        }
        if offset + top < len(classes):
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = _token_for(offset + top)
            body["@odata.nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
        else:
            minted = self._token_for(request.tenant, tenant.sequence)
            body["@odata.deltaLink"] = (
                f"{request.base_url}{API}/education/classes/delta?$deltatoken={minted}"
            )
        return json_response(body)

    def _since(self, tenant: str, token: str) -> int:
        return signed_value(f"graph-education:{tenant}", token)

    def _token_for(self, tenant: str, sequence: int) -> str:
        return signed_token(f"graph-education:{tenant}", sequence)

    # -- records ----------------------------------------------------------------------------

    def _school(self, tenant: _Tenant, index: int) -> dict[str, Any]:
        org = tenant.view.record("orgs", index)
        return {
            "@odata.type": "#microsoft.graph.educationSchool",
            "id": org["sourcedId"],
            "displayName": org["name"],
            "description": None,
            "externalSource": "sis",
            "externalSourceDetail": "Sandbox SIS",
            "principalEmail": None,
            "principalName": None,
            "externalPrincipalId": None,
            "lowestGrade": None,
            "highestGrade": None,
            "schoolNumber": org.get("identifier"),
            "externalId": org["sourcedId"],
        }

    def _class(self, tenant: _Tenant, index: int, since: int | None) -> dict[str, Any]:
        view = tenant.view
        class_id = view.data.sourced_id("classes", index)
        if index in tenant.deleted:
            return {"id": class_id, "@removed": {"reason": "deleted"}}
        record = view.record("classes", index)
        grades = record.get("grades") or []
        term = record["terms"][0]["sourcedId"] if record.get("terms") else None
        course = view.course_of(index)
        body: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.educationClass",
            "id": class_id,
            "displayName": tenant.names.get(index, record["title"]),
            "mailNickname": f"Section_{record['classCode'] or index}",
            "description": ", ".join(view.tags(index)),
            "createdBy": {"user": {"displayName": "SIS Sync", "id": None}},
            "classCode": record["classCode"],
            "externalName": course["title"],
            "externalId": class_id,
            "externalSource": "sis",
            "externalSourceDetail": "Sandbox SIS",
            "grade": str(int(grades[0])) if grades and grades[0].isdigit() else None,
            "term": {"externalId": term, "displayName": None, "startDate": None, "endDate": None},
        }
        if since is not None:
            changes: list[dict[str, Any]] = [
                {"@odata.type": "#microsoft.graph.user", "id": view.data.sourced_id("users", u)}
                for u, _teaches in tenant.added_members.get(index, ())
            ]
            changes += [
                {"id": view.data.sourced_id("users", u), "@removed": {"reason": "deleted"}}
                for (k, u), s in tenant.removed_members.items()
                if k == index and s > since
            ]
            body["members@delta"] = changes
        return body

    # -- changes ----------------------------------------------------------------------------

    def change(self, tenant: str, action: str, data: Mapping[str, Any]) -> Any:
        """Apply a change to a tenant's classes (see the module docstring)."""
        target = self.data[tenant]
        ids = target.view.data
        with self._lock:
            target.sequence += 1
            klass = ids.index_of("classes", data["class"])
            if action == "delete_class":
                target.deleted[klass] = target.sequence
                return {"deleted": data["class"]}
            target.changed[klass] = target.sequence
            if action == "rename":
                target.names[klass] = str(data["displayName"])
            elif action == "remove_member":
                target.removed_members[(klass, ids.index_of("users", data["user"]))] = (
                    target.sequence
                )
            elif action == "add_member":
                user = ids.index_of("users", data["user"])
                target.added_members.setdefault(klass, []).append((user, bool(data.get("teacher"))))
            else:
                raise KeyError(action)
            return {"changed": data["class"], "sequence": target.sequence}


def _user(user: PlatformUser) -> dict[str, Any]:
    """An educationUser as Graph v1.0 writes it (the properties the hub reads, and a few)."""
    info = {"externalId": user.external_id}
    return {
        "@odata.type": "#microsoft.graph.educationUser",
        "id": user.id,
        "accountEnabled": True,
        "displayName": f"{user.given} {user.family}".strip(),
        "givenName": user.given,
        "surname": user.family,
        "middleName": None,
        "mail": user.email,
        "mailNickname": user.upn.split("@")[0],
        "userPrincipalName": user.upn,
        "primaryRole": user.role,
        "externalSource": "sis",
        "externalSourceDetail": "Sandbox SIS",
        "onPremisesInfo": {"immutableId": None},
        "student": info if user.role == "student" else None,
        "teacher": info if user.role == "teacher" else None,
    }


def _page(
    request: Request, records: list[dict[str, Any]], top: int, offset: int, total: int | None = None
) -> Response:
    """A Graph collection page of `records` (already windowed when `total` is given)."""
    count = len(records) if total is None else total
    window = records[offset : offset + top] if total is None else records
    body: dict[str, Any] = {
        "@odata.context": f"{request.base_url}{API}/$metadata#{request.path.rsplit('/', 1)[-1]}",
        "value": window,
    }
    if offset + top < count:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$top"] = str(top)
        query["$skiptoken"] = _token_for(offset + top)
        body["@odata.nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
    return json_response(body)


def _offset(token: str | None) -> int:
    return signed_value("graph-education-skip", token) if token else 0


def _token_for(offset: int) -> str:
    return signed_token("graph-education-skip", offset)


def graph_education_source_config(
    tenant: str, server_url: str, *, source_id: str = "teams", page_size: int = 100
) -> dict[str, Any]:
    """A hub.yaml entry for a tenant's sandbox Graph education (Intune's app registration)."""
    base = f"{server_url.rstrip('/')}/{tenant}/graph_education"
    return {
        "type": "graph_education",
        "id": source_id,
        "base_url": f"{base}/v1.0",
        "auth": {
            "kind": "oauth_client_credentials",
            "token_url": f"{base}/{intune_directory_id(tenant)}/oauth2/v2.0/token",
            "client_id": intune_client_id(tenant),
            "secret": {"env": secret_envs(tenant)["intune"]},
            "scope": GRAPH_SCOPE,
        },
        "page_size": page_size,
    }
