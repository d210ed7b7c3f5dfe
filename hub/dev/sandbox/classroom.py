"""The sandbox's Google Classroom (API v1): courses, rosters, coursework and submissions.

Mounted as vendor `classroom`: a tenant's API is `<server>/<tenant>/classroom/v1/...` and
its token endpoint `<server>/<tenant>/classroom/token` (the JWT bearer grant of the
tenant's service account, as the sandbox Google Workspace answers it:
`hub.dev.sandbox.mdm.google.service_account_token`).

- `GET /v1/courses`: `courseStates` (repeatable), `pageSize` (1-1000, default 30),
  `pageToken`/`nextPageToken` (opaque, tamper-checked); needs `classroom.courses.readonly`.
- `GET /v1/courses/{id}/teachers|students`: `userId`, `courseId` and `profile` (`id`,
  `name`, and `emailAddress` only for a token with `classroom.profile.emails`); needs
  `classroom.rosters.readonly`.
- `GET /v1/courses/{id}/courseWork` and `/courseWork/-/studentSubmissions`: needs
  `classroom.coursework.students.readonly`.

Errors are Google's (`google_error`): 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED` for a
missing scope, 404 `NOT_FOUND`, 400 `INVALID_ARGUMENT`. Throttling (429
`RESOURCE_EXHAUSTED`) comes from the web server's faults with `resource_exhausted_body()`.

The platform is the tenant's sandbox LMS (`LmsView`): a course per OneRoster class (its
section the class's subject or competence tag, its description the course's tags), its
enrolments as teachers and students, its line items as course work and its results as
submissions (fully graded → `RETURNED` with the grade, submitted → `TURNED_IN`, not
submitted → `CREATED`), the Workspace addresses at the owner's `workspace_domain`. Changes
(`POST /_sandbox/classroom/<tenant>/<action>`): `archive {course}`, `revoke_tokens`,
`token_ttl`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hub.dev.sandbox._lms_view import LmsView, PlatformApp
from hub.dev.sandbox._rest import signed_token, signed_value
from hub.dev.sandbox.mdm.credentials import (
    CLASSROOM_SCOPES,
    google_subject,
    secret_envs,
)
from hub.dev.sandbox.mdm.google import (
    google_error,
    google_unauthenticated,
    service_account_token,
)
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = ["ClassroomApp", "classroom_source_config", "resource_exhausted_body"]

MAX_PAGE = 1000
DEFAULT_PAGE = 30
COURSES_SCOPE, ROSTERS_SCOPE, COURSEWORK_SCOPE, EMAILS_SCOPE = CLASSROOM_SCOPES
_CHILD = re.compile(
    r"^/v1/courses/([^/]+)/(teachers|students|courseWork|courseWork/-/studentSubmissions)$"
)
_COURSE_BASE = 600_000_000_000
_WORK_BASE = 700_000_000_000
_USER_BASE = 10**20
_STATES = {"fully graded": "RETURNED", "submitted": "TURNED_IN"}


def resource_exhausted_body() -> dict[str, Any]:
    """The body of Classroom's 429, for a sandbox fault."""
    return {
        "error": {
            "code": 429,
            "message": "Quota exceeded for quota metric 'Read requests' and limit 'Read "
            "requests per minute per user'",
            "status": "RESOURCE_EXHAUSTED",
        }
    }


class ClassroomApp(PlatformApp):
    """Google Classroom for every sandbox tenant, mounted as `classroom`."""

    token_prefix = "ya29."

    def setup(self) -> None:
        """The tenants' views as `data`, the keys grants are checked with, archived courses."""
        self.data = self.views
        self._public_keys = {t: c.google_public_key for t, c in self.credentials.items()}
        self.archived: dict[str, set[int]] = {t: set() for t in self.data}

    # -- requests ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """The token endpoint and the four collections."""
        if request.path == "/token":
            if request.method != "POST":
                return json_response({"error": "invalid_request"}, 405)
            tenant = request.tenant
            return service_account_token(
                request, self.tokens, self.credentials[tenant], self._public_keys[tenant]
            )
        child = _CHILD.match(request.path)
        if request.method != "GET" or (request.path != "/v1/courses" and child is None):
            return google_error(
                404, "notFound", "Requested entity was not found.", state="NOT_FOUND"
            )
        token = self.tokens.valid(request.tenant, request.headers)
        if token is None:
            return google_unauthenticated()
        what = child.group(2) if child else "courses"
        needed = {
            "courses": COURSES_SCOPE,
            "teachers": ROSTERS_SCOPE,
            "students": ROSTERS_SCOPE,
        }.get(what, COURSEWORK_SCOPE)
        if needed not in token.scopes:
            return google_error(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
                state="PERMISSION_DENIED",
            )
        try:
            size = int(request.query.get("pageSize", DEFAULT_PAGE) or DEFAULT_PAGE)
            offset = self._offset(request.tenant, request.query.get("pageToken"))
        except ValueError:
            return google_error(
                400, "invalid", "Invalid page token or size.", state="INVALID_ARGUMENT"
            )
        if not 1 <= size <= MAX_PAGE:
            return google_error(
                400, "invalid", "pageSize is out of range.", state="INVALID_ARGUMENT"
            )
        view = self.data[request.tenant]
        if child is None:
            return self._page(request, "courses", self._courses(request, view), size, offset)
        try:
            course = int(child.group(1)) - _COURSE_BASE
        except ValueError:
            course = -1
        if not 0 <= course < view.class_count:
            return google_error(
                404, "notFound", "Requested entity was not found.", state="NOT_FOUND"
            )
        emails = EMAILS_SCOPE in token.scopes
        render: Callable[[], list[dict[str, Any]]] = {
            "teachers": lambda: self._roster(view, course, teacher=True, emails=emails),
            "students": lambda: self._roster(view, course, teacher=False, emails=emails),
            "courseWork": lambda: self._course_work(view, course),
        }.get(what, lambda: self._submissions(view, course))
        return self._page(request, what.rsplit("/", 1)[-1], render(), size, offset)

    def _page(
        self, request: Request, key: str, records: list[dict[str, Any]], size: int, offset: int
    ) -> Response:
        body: dict[str, Any] = {}
        window = records[offset : offset + size]
        if window:
            body[key] = window  # Classroom leaves an empty list out
        if offset + size < len(records):
            body["nextPageToken"] = self._token_for(request.tenant, offset + size)
        return json_response(body)

    def _offset(self, tenant: str, token: str | None) -> int:
        return signed_value(f"classroom:{tenant}", token) if token else 0

    def _token_for(self, tenant: str, offset: int) -> str:
        return signed_token(f"classroom:{tenant}", offset)

    # -- records ----------------------------------------------------------------------------

    def _courses(self, request: Request, view: LmsView) -> list[dict[str, Any]]:
        wanted = set(parse_qs(urlsplit(request.url).query).get("courseStates", []))
        archived = self.archived[view.tenant]
        courses = []
        for klass in range(view.class_count):
            state = "ARCHIVED" if klass in archived else "ACTIVE"
            if wanted and state not in wanted:
                continue
            record = view.record("classes", klass)
            course = view.course_of(klass)
            tags = view.tags(klass)
            owner = next((u for u, t in view.teaching(klass).items() if t), None)
            courses.append(
                {
                    "id": str(_COURSE_BASE + klass),
                    "name": record["title"],
                    "section": tags[0] if tags else None,
                    "descriptionHeading": course["title"],
                    "description": ", ".join(tags),
                    "room": record.get("location"),
                    "ownerId": str(_USER_BASE + owner) if owner is not None else None,
                    "creationTime": "2025-08-01T07:00:00.000Z",
                    "updateTime": record["dateLastModified"],
                    "enrollmentCode": f"s{klass:06x}",
                    "courseState": state,
                    "alternateLink": f"https://classroom.google.com/c/{_COURSE_BASE + klass}",
                    "guardiansEnabled": False,
                }
            )
        return courses

    def _roster(
        self, view: LmsView, course: int, *, teacher: bool, emails: bool
    ) -> list[dict[str, Any]]:
        records = []
        for user, teaches in view.teaching(course).items():
            if teaches != teacher:
                continue
            person = view.user(user)
            local = person.upn.split("@")[0]
            profile: dict[str, Any] = {
                "id": str(_USER_BASE + user),
                "name": {
                    "givenName": person.given,
                    "familyName": person.family,
                    "fullName": f"{person.given} {person.family}".strip(),
                },
                "permissions": [{"permission": "CREATE_COURSE"}] if teacher else [],
            }
            if emails:
                profile["emailAddress"] = f"{local}@{view.data.owner.workspace_domain}"
            records.append(
                {
                    "courseId": str(_COURSE_BASE + course),
                    "userId": str(_USER_BASE + user),
                    "profile": profile,
                }
            )
        return records

    def _course_work(self, view: LmsView, course: int) -> list[dict[str, Any]]:
        works = []
        for item in view.line_items_of.get(course, ()):
            record = view.record("lineItems", item)
            works.append(
                {
                    "courseId": str(_COURSE_BASE + course),
                    "id": str(_WORK_BASE + item),
                    "title": record["title"],
                    "state": "PUBLISHED",
                    "maxPoints": record["resultValueMax"],
                    "workType": "ASSIGNMENT",
                    "creationTime": record["assignDate"],
                    "updateTime": record["dateLastModified"],
                }
            )
        return works

    def _submissions(self, view: LmsView, course: int) -> list[dict[str, Any]]:
        items, users = view.data._results  # noqa: SLF001 - sandbox
        found = []
        for index in view.results_of.get(course, ()):
            result = view.result(index)
            state = _STATES.get(result["scoreStatus"], "CREATED")
            submission: dict[str, Any] = {
                "courseId": str(_COURSE_BASE + course),
                "courseWorkId": str(_WORK_BASE + items[index]),
                "id": f"Cg4I{index:010d}",
                "userId": str(_USER_BASE + users[index]),
                "creationTime": "2025-09-01T07:00:00.000Z",
                "updateTime": result["dateLastModified"],
                "state": state,
                "late": False,
                "courseWorkType": "ASSIGNMENT",
            }
            if state == "RETURNED" and result.get("score") is not None:
                submission["assignedGrade"] = result["score"]
                submission["draftGrade"] = result["score"]
            found.append(submission)
        return found

    # -- changes ----------------------------------------------------------------------------

    def change(self, tenant: str, action: str, data: Mapping[str, Any]) -> Any:
        """Archive a course."""
        if action == "archive":
            self.archived[tenant].add(int(data["course"]) - _COURSE_BASE)
            return {"archived": data["course"]}
        raise KeyError(action)


def classroom_source_config(
    tenant: str, server_url: str, *, source_id: str = "classroom", page_size: int = 500
) -> dict[str, Any]:
    """A hub.yaml entry for a tenant's sandbox Classroom (the tenant's service account)."""
    base = f"{server_url.rstrip('/')}/{tenant}/classroom"
    return {
        "type": "google_classroom",
        "id": source_id,
        "base_url": base,
        "auth": {
            "kind": "google_service_account",
            "secret": {"env": secret_envs(tenant)["chromebooks"]},
            "subject": google_subject(tenant),
            "token_url": f"{base}/token",
        },
        "page_size": page_size,
    }
