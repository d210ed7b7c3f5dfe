"""The sandbox's Canvas LMS REST API, with an access token.

Each tenant's Canvas presents the tenant's generated learning platform
(`_native.NativePlatform`, the same as its OneRoster provider's) as Canvas does: the owner
is account 1 with the schools as its sub-accounts (`sis_account_id` `NO<org number>`),
people as account users (`login_id` the Feide id where the LMS has one, else the user
name; `sis_user_id` the LMS id; `email`), every class a course in its school's
sub-account, one enrolment per course and user (`StudentEnrollment`, `TeacherEnrollment`,
`TaEnrollment`, with `last_activity_at`), module completion of the staff competence
courses in `bulk_user_progress` (four requirements: all done with `completed_at`, or two
while in progress; other courses have none) and pupils' digital-skills results as
`outcome_results` on an outcome per objective (`linked.outcomes` with
`include[]=outcomes`), scored 1–4 with mastery at 3. A completion or outcome result is
dated when the platform recorded its result (`NativePlatform.recorded_at`), as Teams
classes and Classroom date theirs, so the four agree on what was done by a given day.

Paging is Canvas's: `page` and `per_page` (default 10, at most 100) with a `Link` header
(`current`, `next`, `prev`, `first`, `last`); every answer carries `X-Rate-Limit-Remaining`
and `X-Request-Cost`. Errors are `{"errors": [{"message": ...}]}`; a missing or wrong token
is a 401 with `WWW-Authenticate: Bearer realm="canvas-lms"`. Canvas's older throttling
answer, 403 with the body `403 Forbidden (Rate Limit Exceeded)`, is `RATE_LIMIT_403` for
the web server's `status` fault. Control: `revoke_token` (`token`: the new one).
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hub.dev.sandbox._native import NativePlatform
from hub.dev.sandbox._oauth import bearer, kept_tokens, secret_variable
from hub.dev.sandbox.oneroster import OneRosterTenant
from hub.dev.sandbox.roster import Roster, roster
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = [
    "RATE_LIMIT_403",
    "CanvasApp",
    "CanvasInstance",
    "access_tokens",
    "canvas_source_config",
    "secret_env",
    "secrets_env",
]

#: The body of Canvas's older throttling answer (with HTTP 403), for a `status` fault.
RATE_LIMIT_403 = "403 Forbidden (Rate Limit Exceeded)"
_TYPES = ("StudentEnrollment", "TeacherEnrollment", "TaEnrollment")
_ACCOUNT = re.compile(r"^/api/v1/accounts/(self|\d+)/(sub_accounts|users|courses)$")
_COURSE = re.compile(r"^/api/v1/courses/(\d+)/(enrollments|bulk_user_progress|outcome_results)$")


def _when(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class CanvasInstance(NativePlatform):
    """One tenant's Canvas, rendered from its generated learning platform."""

    def __init__(
        self,
        owner: Roster,
        *,
        today: date | None = None,
        platform: OneRosterTenant | None = None,
    ) -> None:
        super().__init__(owner, today=today, platform=platform)
        users_of, classes_of, _roles, _primaries = self.lms._enrollments
        self.members_of: dict[int, list[int]] = defaultdict(list)
        for row, enrollment in enumerate(self._members):
            self.members_of[classes_of[enrollment]].append(row)
        items, users = self.lms._results
        #: (class, user) → whether the competence course is completed (else in progress)
        self.completion: dict[tuple[int, int], bool] = {}
        #: (class, user) → the index of the competence-course result
        self.completion_result: dict[tuple[int, int], int] = {}
        for result in self._grades:
            klass, _course = self.lms._line_items[items[result]]
            record = self.lms.tables["results"].record(result, "", "")
            self.completion[(klass, users[result])] = record["scoreStatus"] == "fully graded"
            self.completion_result[(klass, users[result])] = result
        self.competence_classes = {k for k, _ in self.completion}
        self.skills_of: dict[int, list[int]] = defaultdict(list)
        for row in range(len(self._progress[0])):
            klass, _course = self.lms._line_items[items[self._progress[0][row]]]
            self.skills_of[klass].append(row)

    # -- collections: (row count, render) ------------------------------------------------

    def sub_accounts(self) -> tuple[int, Callable[[int], dict[str, Any]]]:
        """The schools below the owner's account."""

        def render(row: int) -> dict[str, Any]:
            index = row + 1
            record = self.lms.tables["orgs"].record(index, "", self.lms.sourced_id("orgs", index))
            return {
                "id": index + 1,
                "name": record["name"],
                "parent_account_id": 1,
                "root_account_id": 1,
                "sis_account_id": f"NO{record['identifier']}",
                "workflow_state": "active",
            }

        return self.lms.tables["orgs"].count - 1, render

    def users(self) -> tuple[int, Callable[[int], dict[str, Any]]]:
        """The account's users, with e-mail."""

        def render(index: int) -> dict[str, Any]:
            record = self.user(index)
            given, family = record.get("givenName") or "", record.get("familyName") or ""
            return {
                "id": index + 1,
                "name": f"{given} {family}".strip(),
                "sortable_name": f"{family}, {given}",
                "short_name": given,
                "sis_user_id": record["local"],
                "integration_id": None,
                "login_id": record["feide"] or record.get("username") or record["local"],
                "email": record.get("email"),
            }

        return self.lms.tables["users"].count, render

    def courses(self) -> tuple[int, Callable[[int], dict[str, Any]]]:
        """Every class as a course in its school's sub-account."""

        def render(index: int) -> dict[str, Any]:
            title, code, _homeroom, _course, org, _grade, _subject = self.lms._classes[index]
            start, end = self.lms._school_year
            return {
                "id": index + 1,
                "name": title,
                "course_code": code,
                "account_id": org + 1,
                "root_account_id": 1,
                "enrollment_term_id": 1,
                "workflow_state": "available",
                "sis_course_id": code,
                "start_at": f"{start.isoformat()}T06:00:00Z",
                "end_at": f"{end.isoformat()}T16:00:00Z",
            }

        return self.lms.tables["classes"].count, render

    def enrollments(self, course: int) -> tuple[int, Callable[[int], dict[str, Any]]]:
        """The course's enrolments, one per user."""
        rows = self.members_of.get(course - 1, [])
        users_of, classes_of, roles_of, _primaries = self.lms._enrollments

        def render(n: int) -> dict[str, Any]:
            row = rows[n]
            enrollment = self._members[row]
            stamp = self.lms.tables["enrollments"].stamps[enrollment]
            return {
                "id": row + 1,
                "course_id": course,
                "course_section_id": course,
                "user_id": users_of[enrollment] + 1,
                "type": _TYPES[roles_of[enrollment]],
                "enrollment_state": "active",
                "created_at": _when(stamp),
                "updated_at": _when(stamp),
                "start_at": None,
                "end_at": None,
                "last_activity_at": _when(self.last_online(enrollment)),
                "total_activity_time": 60 * self.session_count(enrollment) * 17,
            }

        return len(rows), render

    def bulk_user_progress(self, course: int) -> tuple[int, Callable[[int], dict[str, Any]]]:
        """Module completion of the course's students (none required outside competence)."""
        users_of, _classes, roles_of, _primaries = self.lms._enrollments
        students = [
            users_of[self._members[r]]
            for r in self.members_of.get(course - 1, [])
            if roles_of[self._members[r]] == 0
        ]
        required = 4 if (course - 1) in self.competence_classes else 0

        def render(n: int) -> dict[str, Any]:
            user = students[n]
            state = self.completion.get((course - 1, user))
            done = required if state else 2 if state is False else 0
            completed = (
                _when(self.recorded_at(self.completion_result[(course - 1, user)]))
                if state and required
                else None
            )
            return {
                "id": user + 1,
                "display_name": self.user(user).get("givenName"),
                "progress": {
                    "requirement_count": required,
                    "requirement_completed_count": min(done, required),
                    "next_requirement_url": None,
                    "completed_at": completed,
                },
            }

        return len(students), render

    def outcome_results(self, course: int) -> tuple[list[int], Callable[[int], dict[str, Any]]]:
        """Pupils' digital-skills results of a homeroom, one per objective (outcome)."""
        rows = self.skills_of.get(course - 1, [])
        items, users = self.lms._results

        def render(n: int) -> dict[str, Any]:
            row = rows[n]
            objective, percentage = self.skills_score(row)
            level = percentage / 25
            return {
                "id": row + 1,
                "score": level,
                "possible": 4.0,
                "mastery": level >= 3,
                "submitted_or_assessed_at": _when(self.recorded_at(self._progress[0][row])),
                "links": {
                    "user": str(users[self._progress[0][row]] + 1),
                    "learning_outcome": str(self._objective_ids[objective]),
                    "alignment": f"assignment_{course}",
                },
            }

        return rows, render

    def outcome(self, outcome_id: int) -> dict[str, Any]:
        """One linked outcome."""
        code = self._objectives[outcome_id - 1]
        return {
            "id": outcome_id,
            "title": code,
            "display_name": code,
            "vendor_guid": f"{self.lms.words.skills_source}:{code}",
            "points_possible": 4.0,
            "mastery_points": 3.0,
        }


def _error(status: int, message: str) -> Response:
    return json_response({"errors": [{"message": message}]}, status)


class CanvasApp:
    """The Canvas REST API of every sandbox tenant, mounted as vendor `canvas`."""

    def __init__(
        self, instances: Mapping[str, CanvasInstance], *, tokens: Mapping[str, str]
    ) -> None:
        self.data = dict(instances)
        self.tenants = tuple(self.data)
        self.tokens = dict(tokens)

    @classmethod
    def generate(
        cls, tenants: Sequence[str], scale: int, seed: int = 1, *, tokens: Mapping[str, str]
    ) -> CanvasApp:
        """The app for tenants generated at `scale` people each."""
        return cls({t: CanvasInstance(roster(t, scale, seed)) for t in tenants}, tokens=tokens)

    def handle(self, request: Request) -> Response:
        """A collection for a request with the tenant's token."""
        if request.method != "GET":
            return _error(405, "method not allowed")
        canvas = self.data[request.tenant]
        account, course = _ACCOUNT.match(request.path), _COURSE.match(request.path)
        if account is None and course is None:
            return _error(404, "The specified resource does not exist.")
        if bearer(request.headers) != self.tokens.get(request.tenant):
            response = _error(401, "Invalid access token.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="canvas-lms"'
            return response
        try:
            page = int(request.query.get("page", "1"))
            per_page = min(int(request.query.get("per_page", "10")), 100)
        except ValueError:
            return _error(400, "page and per_page must be numbers")
        if page < 1 or per_page < 1:
            return _error(400, "page and per_page must be positive")
        linked: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None
        if account is not None:
            if account.group(1) not in ("self", "1"):
                return _error(404, "The specified account does not exist.")
            count, render = getattr(canvas, account.group(2))()
            key = None
        else:
            assert course is not None
            number, what = int(course.group(1)), course.group(2)
            if not 1 <= number <= canvas.lms.tables["classes"].count:
                return _error(404, "The specified resource does not exist.")
            if what == "outcome_results":
                rows, render = canvas.outcome_results(number)
                count, key = len(rows), "outcome_results"
                if "outcomes" in request.query.get("include[]", ""):
                    linked = lambda results: {  # noqa: E731
                        "outcomes": [
                            canvas.outcome(i)
                            for i in sorted({int(r["links"]["learning_outcome"]) for r in results})
                        ]
                    }
            else:
                count, render = getattr(canvas, what)(number)
                key = None
        start = (page - 1) * per_page
        records = [render(i) for i in range(start, min(count, start + per_page))]
        body: Any = records if key is None else {key: records}
        if linked is not None:
            body["linked"] = linked(records)
        last = max(1, -(-count // per_page))
        headers = {
            "Link": _links(request, page, per_page, last),
            "X-Rate-Limit-Remaining": "700.0",
            "X-Request-Cost": "0.5",
        }
        return json_response(body, headers=headers)

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """`revoke_token`: the tenant's token becomes `token` (the old one is refused)."""
        if action == "revoke_token":
            self.tokens[tenant] = str((payload or {})["token"])
            return {"revoked": True}
        raise ValueError(f"unknown action {action!r}")


def _links(request: Request, page: int, per_page: int, last: int) -> str:
    """Canvas's `Link` header: current, next (if any), prev (if any), first, last."""
    query = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}

    def url(at: int) -> str:
        params = urlencode({**query, "page": at, "per_page": per_page})
        return f"{request.base_url}{request.path}?{params}"

    parts = [f'<{url(page)}>; rel="current"']
    if page < last:
        parts.append(f'<{url(page + 1)}>; rel="next"')
    if page > 1:
        parts.append(f'<{url(page - 1)}>; rel="prev"')
    parts += [f'<{url(1)}>; rel="first"', f'<{url(last)}>; rel="last"']
    return ",".join(parts)


def secret_env(tenant: str) -> str:
    """The environment variable that holds a tenant's Canvas access token."""
    return secret_variable("CANVAS", tenant)


def access_tokens(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """Each tenant's Canvas access token (`1~` and 64 characters), kept in `home` (0600)."""
    return kept_tokens(
        home / "canvas-tokens.json", tenants, lambda: f"1~{secrets.token_urlsafe(48)}"
    )


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the tenants' Canvas access tokens: variable name → token."""
    return {secret_env(t): token for t, token in access_tokens(home, tenants).items()}


def canvas_source_config(
    tenant: str, base_url: str, *, source_id: str = "canvas"
) -> dict[str, Any]:
    """A hub.yaml source entry for a tenant's sandbox Canvas at `base_url`."""
    return {
        "type": "canvas",
        "id": source_id,
        "base_url": base_url,
        "account_id": "1",
        "auth": {"kind": "bearer", "secret": {"env": secret_env(tenant)}},
    }
