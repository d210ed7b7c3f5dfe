"""The sandbox's Moodle web services (REST protocol, JSON), with a web-service token.

Each tenant's Moodle presents the tenant's generated learning platform
(`_native.NativePlatform`) as Moodle's functions return it: categories (the owner, and a
school each: `idnumber` `NO<org number>`), the site course (`format: site`) and every class
as a course in its school's category (completion enabled on the staff competence courses,
which have criteria, and on the homerooms, which have none), participants per course
(`username` the Feide id where the LMS has one, `idnumber` the LMS id, `roles` student,
editingteacher or teacher, `lastcourseaccess`), course completion per student, and grade
items per course (one per digital-skills objective on the homerooms, `idnumber` the
objective, graded 1–4; a course total everywhere). Completions and grades are dated when
the platform recorded the result, as Canvas dates them.

As Moodle does, every answer is HTTP 200: errors are `{"exception", "errorcode",
"message"}` bodies (`invalidtoken` for a wrong token, `invalidrecord` for an unknown
function, `nocriteriaset` for the completion status of a course without criteria).
Control: `rotate_token` (`token`: the new one).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hub.dev.sandbox._oauth import kept_tokens, secret_variable
from hub.dev.sandbox.canvas import CanvasInstance
from hub.dev.sandbox.roster import roster
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = [
    "MoodleApp",
    "MoodleSite",
    "access_tokens",
    "moodle_source_config",
    "secret_env",
    "secrets_env",
]

SERVER_PATH = "/webservice/rest/server.php"
_ROLES = (("student", 5), ("editingteacher", 3), ("teacher", 4))


def _exception(errorcode: str, message: str, kind: str = "moodle_exception") -> Response:
    """Moodle's error answer: HTTP 200 with an exception body."""
    return json_response({"exception": kind, "errorcode": errorcode, "message": message})


class MoodleSite(CanvasInstance):
    """One tenant's Moodle, rendered from its generated learning platform.

    It shares Canvas's per-course views of the platform (members, completions, skills).
    """

    def _seconds(self, result: int) -> int:
        """When a result was recorded, as Moodle's Unix time."""
        return int(self.recorded_at(result).timestamp())

    def categories(self) -> list[dict[str, Any]]:
        """The owner's category and a category per school."""
        rows = []
        for index in range(self.lms.tables["orgs"].count):
            record = self.lms.tables["orgs"].record(index, "", self.lms.sourced_id("orgs", index))
            rows.append(
                {
                    "id": index + 1,
                    "name": record["name"],
                    "idnumber": f"NO{record['identifier']}",
                    "parent": 0 if index == 0 else 1,
                    "depth": 1 if index == 0 else 2,
                    "visible": 1,
                }
            )
        return rows

    def course_list(self) -> list[dict[str, Any]]:
        """The site course, then every class as a course (completion as described)."""
        rows: list[dict[str, Any]] = [
            {"id": 1, "fullname": self.owner.name, "shortname": "site", "categoryid": 0,
             "format": "site", "enablecompletion": 0}
        ]  # fmt: skip
        for index, row in enumerate(self.lms._classes):
            title, code, homeroom, _course, org, _grade, _subject = row
            rows.append(
                {
                    "id": index + 2,
                    "fullname": title,
                    "shortname": code,
                    "categoryid": org + 1,
                    "idnumber": code,
                    "format": "topics",
                    "enablecompletion": int(homeroom or index in self.competence_classes),
                    "timemodified": int(self.lms.tables["classes"].stamps[index]),
                }
            )
        return rows

    def participants(self, course: int) -> list[dict[str, Any]]:
        """The participants of a course (id `class + 2`), with their role and last access."""
        users_of, _classes, roles_of, _primaries = self.lms._enrollments
        rows = []
        for row in self.members_of.get(course - 2, []):
            enrollment = self._members[row]
            user = users_of[enrollment]
            record = self.user(user)
            last = self.last_online(enrollment)
            role, role_id = _ROLES[roles_of[enrollment]]
            given, family = record.get("givenName") or "", record.get("familyName") or ""
            rows.append(
                {
                    "id": user + 2,
                    "username": (
                        record["feide"] or record.get("username") or record["local"]
                    ).lower(),
                    "firstname": given,
                    "lastname": family,
                    "fullname": f"{given} {family}".strip(),
                    "email": record.get("email") or "",
                    "idnumber": record["local"],
                    "roles": [{"roleid": role_id, "name": "", "shortname": role, "sortorder": 0}],
                    "lastcourseaccess": int(last.timestamp()) if last else 0,
                }
            )
        return rows

    def completion_status(self, course: int, user: int) -> Response:
        """A student's completion of a course: completed, in progress, or no criteria."""
        if course - 2 not in self.competence_classes:
            return _exception("nocriteriaset", "No completion criteria set for this course")
        done = bool(self.completion.get((course - 2, user - 2)))
        when = self._seconds(self.completion_result[(course - 2, user - 2)]) if done else None
        return json_response(
            {
                "completionstatus": {
                    "completed": done,
                    "aggregation": 1,
                    "completions": [
                        {"type": 4, "title": "Activity completion", "status": "Complete"
                         if done else "Not complete", "complete": done,
                         "timecompleted": when}
                    ],
                    "timecompleted": when,
                },
                "warnings": [],
            }
        )  # fmt: skip

    def grade_items(self, course: int) -> list[dict[str, Any]]:
        """Every participant's grade items: skills objectives on homerooms, a course total."""
        items, users = self.lms._results
        by_user: dict[int, list[dict[str, Any]]] = {}
        for row in self.skills_of.get(course - 2, []):
            objective, percentage = self.skills_score(row)
            number = self._objective_ids[objective]
            by_user.setdefault(users[self._progress[0][row]] + 2, []).append(
                {"id": course * 1000 + number, "itemname": objective, "itemtype": "manual",
                 "idnumber": objective, "graderaw": percentage / 25, "grademin": 0.0,
                 "grademax": 4.0, "gradedategraded": self._seconds(self._progress[0][row])}
            )  # fmt: skip
        rows = []
        for person in self.participants(course):
            graded = by_user.get(person["id"], [])
            total = {
                "id": course * 1000,
                "itemname": None,
                "itemtype": "course",
                "idnumber": "",
                "graderaw": None,
                "grademin": 0.0,
                "grademax": 100.0,
                "gradedategraded": None,
            }
            rows.append(
                {
                    "courseid": course,
                    "userid": person["id"],
                    "userfullname": person["fullname"],
                    "gradeitems": [*graded, total],
                }
            )
        return rows


class MoodleApp:
    """The Moodle web services of every sandbox tenant, mounted as vendor `moodle`."""

    def __init__(self, sites: Mapping[str, MoodleSite], *, tokens: Mapping[str, str]) -> None:
        self.data = dict(sites)
        self.tenants = tuple(self.data)
        self.tokens = dict(tokens)

    @classmethod
    def generate(
        cls, tenants: Sequence[str], scale: int, seed: int = 1, *, tokens: Mapping[str, str]
    ) -> MoodleApp:
        """The app for tenants generated at `scale` people each."""
        return cls({t: MoodleSite(roster(t, scale, seed)) for t in tenants}, tokens=tokens)

    def handle(self, request: Request) -> Response:
        """One web-service call."""
        if request.path != SERVER_PATH:
            return json_response({"error": "not found"}, 404)
        query = request.query
        if query.get("wstoken") != self.tokens.get(request.tenant):
            return _exception("invalidtoken", "Invalid token - token not found")
        if query.get("moodlewsrestformat") != "json":
            return json_response(
                {"error": "this sandbox answers moodlewsrestformat=json only"}, 400
            )
        site = self.data[request.tenant]
        function = query.get("wsfunction", "")
        try:
            course = int(query.get("courseid", "0"))
            user = int(query.get("userid", "0"))
        except ValueError:
            return _exception("invalidparameter", "Invalid parameter value detected",
                              "invalid_parameter_exception")  # fmt: skip
        if function == "core_webservice_get_site_info":
            return json_response({"sitename": site.owner.name, "username": "skolehub",
                                  "functions": [], "release": "4.5"})  # fmt: skip
        if function == "core_course_get_categories":
            return json_response(site.categories())
        if function == "core_course_get_courses":
            return json_response(site.course_list())
        known = 2 <= course < 2 + site.lms.tables["classes"].count
        if function in ("core_enrol_get_enrolled_users", "gradereport_user_get_grade_items",
                        "core_completion_get_course_completion_status") and not known:  # fmt: skip
            return _exception("invalidrecord", "Can't find data record in database table course.",
                              "dml_missing_record_exception")  # fmt: skip
        if function == "core_enrol_get_enrolled_users":
            return json_response(site.participants(course))
        if function == "gradereport_user_get_grade_items":
            return json_response({"usergrades": site.grade_items(course), "warnings": []})
        if function == "core_completion_get_course_completion_status":
            return site.completion_status(course, user)
        return _exception(
            "invalidrecord",
            "Can't find data record in database table external_functions.",
            "dml_missing_record_exception",
        )

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """`rotate_token`: the tenant's token becomes `token`."""
        if action == "rotate_token":
            self.tokens[tenant] = str((payload or {})["token"])
            return {"rotated": True}
        raise ValueError(f"unknown action {action!r}")


def secret_env(tenant: str) -> str:
    """The environment variable that holds a tenant's Moodle web-service token."""
    return secret_variable("MOODLE", tenant)


def access_tokens(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """Each tenant's Moodle web-service token (32 hex digits), kept in `home` (0600)."""
    return kept_tokens(home / "moodle-tokens.json", tenants, lambda: secrets.token_hex(16))


def secrets_env(home: Path, tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the tenants' Moodle web-service tokens: variable name → token."""
    return {secret_env(t): token for t, token in access_tokens(home, tenants).items()}


def moodle_source_config(
    tenant: str, base_url: str, *, source_id: str = "moodle"
) -> dict[str, Any]:
    """A hub.yaml source entry for a tenant's sandbox Moodle at `base_url`."""
    return {
        "type": "moodle",
        "id": source_id,
        "base_url": base_url,
        "auth": {"kind": "bearer", "secret": {"env": secret_env(tenant)}},
    }
