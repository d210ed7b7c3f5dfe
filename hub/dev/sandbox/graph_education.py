"""The sandbox's Microsoft Graph education: Teams classes, their members, and the delta query.

Mounted as vendor `graph_education`: a tenant's Graph is `<server>/<tenant>/graph_education/
v1.0` and its token endpoint `<server>/<tenant>/graph_education/<directory id>/oauth2/v2.0/
token` (the Intune app registration's: `hub.dev.sandbox.mdm.graph.graph_token`).

- `GET /v1.0/education/schools`, `/education/schools/{id}/classes`,
  `/education/classes/{id}/members` and `/teachers`: `$top` (1-999, default 100) and
  `@odata.nextLink` with an opaque `$skiptoken`; `$select` is accepted.
- `GET /v1.0/education/classes/{id}/assignments` and `/assignments/{id}/submissions`: the
  class's assignments (educationAssignment) and each assignment's submissions
  (educationSubmission, one per student member, `recipient` an
  educationSubmissionIndividualRecipient), paged as above. A submission's status is
  `excused` or `reassigned` only for a request with `Prefer: include-unknown-enum-members`,
  else `unknownFutureValue`, as Graph answers. Assignment changes do not show in the
  classes' delta (Graph keeps a delta per class's assignments).
- `GET /v1.0/education/classes/delta`: a delta round. Without a token every class, page by
  page (`@odata.nextLink`), the last page carrying `@odata.deltaLink` with a
  `$deltatoken`; with that token, the classes changed since, each with `members@delta`
  (members added, and `{"id": …, "@removed": {"reason": "deleted"}}` for those who left),
  and `{"id": …, "@removed": {"reason": "deleted"}}` for a deleted class. An unknown or
  tampered token is a 400 `syncStateNotFound`.

The platform is the tenant's sandbox OneRoster LMS (`LmsView`): a class per OneRoster
class, its description the course's tags (`digital-didactics, competence-development`),
members from the enrolments, an assignment per line item (status `assigned`; every
seventh class also has a `draft`, which has no submissions) and a submission per line
item and student member: a fully graded result is `returned` (submitted and returned at
the result's last modification), any other result or none `working`. Changes (`POST
/_sandbox/graph_education/<tenant>/<action>`): `remove_member {class, user}`, `add_member
{class, user, teacher}`, `rename {class, displayName}`, `delete_class {class}`,
`set_submission {class, assignment, user, status}` (the submission moves to `status`
now), `deny_assignments` (the assignment endpoints answer 403 as for an app registration
without EduAssignments permissions), plus `revoke_tokens` and `token_ttl`.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
_ASSIGNMENTS = re.compile(r"^/v1\.0/education/classes/([^/]+)/assignments$")
_SUBMISSIONS = re.compile(r"^/v1\.0/education/classes/([^/]+)/assignments/([^/]+)/submissions$")
#: Every how many classes one also has a draft assignment.
DRAFT_EVERY = 7
#: OneRoster score status → the submission status Graph shows (others: `working`).
SUBMISSION_STATUSES = {"fully graded": "returned"}
#: Submission statuses Graph shows only to a client that asks for them (an evolvable enum).
LATER_STATUSES = frozenset({"excused", "reassigned"})
SUBMISSION_STATUS_VALUES = frozenset({"working", "submitted", "returned", *LATER_STATUSES})


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
    #: (line item index, user index) → (status, when) set by `set_submission`.
    submissions: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    #: The app registration lacks EduAssignments permissions: assignments answer 403.
    assignments_denied: bool = False

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
        work = _ASSIGNMENTS.match(request.path) or _SUBMISSIONS.match(request.path)
        if not known and child is None and work is None:
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
            if work is not None:
                return self._coursework(request, tenant, work.groups(), top, offset)
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

    def _coursework(
        self, request: Request, tenant: _Tenant, ids: tuple[str, ...], top: int, offset: int
    ) -> Response:
        """A class's assignments, or one assignment's submissions."""
        if tenant.assignments_denied:
            return graph_error(
                403,
                "AccessDenied",
                "The application is not granted EduAssignments.ReadBasic.All or "
                "EduAssignments.Read.All.",
            )
        view = tenant.view
        try:
            klass = view.data.index_of("classes", ids[0])
        except KeyError:
            klass = -1
        if klass < 0 or klass in tenant.deleted:
            return graph_error(
                404, "Request_ResourceNotFound", f"Resource '{ids[0]}' does not exist."
            )
        assignments = {a["id"]: a for a in self._assignments(tenant, klass)}
        if len(ids) == 1:
            return _page(request, list(assignments.values()), top, offset)
        assignment = assignments.get(ids[1])
        if assignment is None:
            return graph_error(
                404, "Request_ResourceNotFound", f"Resource '{ids[1]}' does not exist."
            )
        if assignment["status"] == "draft":
            return _page(request, [], top, offset)  # a draft has no submissions yet
        later = any(
            k.lower() == "prefer" and "include-unknown-enum-members" in v
            for k, v in request.headers.items()
        )
        item = view.data.index_of("lineItems", ids[1])
        students = [u for u, teaches in tenant.members(klass) if not teaches]
        window = students[offset : offset + top]
        records = [self._submission(tenant, item, user, later) for user in window]
        return _page(request, records, top, offset, total=len(students))

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

    def _assignments(self, tenant: _Tenant, klass: int) -> list[dict[str, Any]]:
        """A class's assignments: one per line item, and a draft in every seventh class."""
        view = tenant.view
        class_id = view.data.sourced_id("classes", klass)
        found = []
        for item in view.line_items_of.get(klass, ()):
            record = view.record("lineItems", item)
            found.append(
                _assignment(
                    class_id,
                    view.data.sourced_id("lineItems", item),
                    record["title"],
                    status="assigned",
                    assigned=record["assignDate"],
                    due=record["dueDate"],
                    modified=record["dateLastModified"],
                    points=record["resultValueMax"],
                )
            )
        if klass % DRAFT_EVERY == 0:
            found.append(
                _assignment(class_id, f"{class_id}-draft", "Utkast", status="draft", points=None)
            )
        return found

    def _submission(self, tenant: _Tenant, item: int, user: int, later: bool) -> dict[str, Any]:
        """A student's submission of an assignment (a line item), in Graph v1.0's shape."""
        view = tenant.view
        user_id = view.data.sourced_id("users", user)
        assignment_id = view.data.sourced_id("lineItems", item)
        status, when = tenant.submissions.get((item, user), ("", ""))
        if not status:
            index = view.result_index.get((item, user))
            result = view.result(index) if index is not None else {}
            status = SUBMISSION_STATUSES.get(result.get("scoreStatus", ""), "working")
            when = result.get("dateLastModified", "") if status != "working" else ""
        moment = when or None
        by = {"application": None, "device": None, "user": {"id": user_id, "displayName": None}}
        nobody = {"application": None, "device": None, "user": {"id": None, "displayName": None}}
        return {
            "status": status if later or status not in LATER_STATUSES else "unknownFutureValue",
            "submittedDateTime": moment if status in ("submitted", "returned") else None,
            "unsubmittedDateTime": None,
            "returnedDateTime": moment if status == "returned" else None,
            "reassignedDateTime": moment if status == "reassigned" else None,
            "excusedDateTime": moment if status == "excused" else None,
            "resourcesFolderUrl": None,
            "webUrl": None,
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{assignment_id}/{user_id}")),
            "recipient": {
                "@odata.type": "#microsoft.graph.educationSubmissionIndividualRecipient",
                "userId": user_id,
            },
            "submittedBy": by if status in ("submitted", "returned") else nobody,
            "unsubmittedBy": nobody,
            "returnedBy": nobody,
        }

    # -- changes ----------------------------------------------------------------------------

    def change(self, tenant: str, action: str, data: Mapping[str, Any]) -> Any:
        """Apply a change to a tenant's classes (see the module docstring)."""
        target = self.data[tenant]
        ids = target.view.data
        with self._lock:
            if action == "deny_assignments":
                target.assignments_denied = True
                return {"assignments": "denied"}
            if action == "set_submission":
                return self._set_submission(target, data)
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

    def _set_submission(self, target: _Tenant, data: Mapping[str, Any]) -> Any:
        """Move one submission to a status now; the classes' delta does not show it."""
        status = str(data["status"])
        if status not in SUBMISSION_STATUS_VALUES:
            raise KeyError(status)
        ids = target.view.data
        klass = ids.index_of("classes", data["class"])
        item = ids.index_of("lineItems", data["assignment"])
        if item not in target.view.line_items_of.get(klass, ()):
            raise KeyError(data["assignment"])
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        target.submissions[(item, ids.index_of("users", data["user"]))] = (status, now)
        return {"submission": status, "at": now}


def _assignment(
    class_id: str,
    assignment_id: str,
    title: str,
    *,
    status: str,
    points: float | None,
    assigned: str | None = None,
    due: str | None = None,
    modified: str | None = None,
) -> dict[str, Any]:
    """An educationAssignment as Graph v1.0 lists it (class recipient, points grading)."""
    teacher = {"application": None, "device": None, "user": {"id": None, "displayName": None}}
    return {
        "classId": class_id,
        "displayName": title,
        "closeDateTime": None,
        "dueDateTime": due,
        "assignDateTime": None,
        "assignedDateTime": assigned,
        "allowLateSubmissions": True,
        "resourcesFolderUrl": None,
        "createdDateTime": assigned or modified,
        "lastModifiedDateTime": modified,
        "allowStudentsToAddResourcesToSubmission": True,
        "status": status,
        "notificationChannelUrl": None,
        "webUrl": None,
        "addToCalendarAction": "none",
        "addedStudentAction": "none",
        "id": assignment_id,
        "instructions": {"content": "", "contentType": "text"},
        "grading": None
        if points is None
        else {
            "@odata.type": "#microsoft.graph.educationAssignmentPointsGradeType",
            "maxPoints": points,
        },
        "assignTo": {"@odata.type": "#microsoft.graph.educationAssignmentClassRecipient"},
        "createdBy": teacher,
        "lastModifiedBy": teacher,
    }


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
