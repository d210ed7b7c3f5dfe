"""The sandbox's itslearning Data Warehouse API (OData), with basic authentication.

Each tenant's site is built from the same generated learning platform as its OneRoster
provider (`OneRosterTenant`), presented as itslearning's data warehouse presents it: the
owner and schools as `Organizations` (`SyncKey` `NO<org number>`), people as `Users`
(`SyncKey` the Feide id where the LMS has one, `UserType` Student, Staff or Guardian), every
class as a `Courses` row, enrolments as `CourseMemberships` (`CourseProfileId` Teacher,
Learner, Assistant; `FirstOnline`/`LastOnline`; `ValidTo` 9999-12-31 while current), course
activity as `UserCourseSessions`, staff completions of the competence courses as
`UserGrades` (status Completed or In progress, from `AssessmentStatuses`) and pupils'
digital-skills results per objective as `LearningObjectiveProgress` (objectives in
`LearningObjectives`).

As the real API does, every entity set answers `{"odata.metadata": …, "value": [...]}` in
pages of a fixed size (`page_size`, 10,000 by default; `$top` cannot raise it) with an
`odata.nextLink` (`$skip`) while more remain; `$filter` takes `T_ModifiedDate gt
datetime'…'` (also `ge`, `lt`, `le`) and `DateId ge|gt|lt|le <yyyymmdd>` clauses joined by
`and`; and the fact tables with a `DateId` answer only the last 30 days (before "today",
`today`) unless the filter names `DateId`. Errors are OData errors (`{"odata.error":
{"code", "message": {"lang", "value"}}}`); a wrong user or password is a 401 with a
`WWW-Authenticate: Basic` challenge.

Control actions (`POST /_sandbox/itslearning/<tenant>/<action>`): `modify` (`set`, `id`,
`changes`, `at`), `delete` (`set`, `id`: a user or course marked deleted), and
`rotate_password` (`password`: the old one is refused from then on).
"""

from __future__ import annotations

import re
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from hub.dev.sandbox._native import NativePlatform, day_id, stable_hash
from hub.dev.sandbox._oauth import basic, sandbox_client_id, secret_variable
from hub.dev.sandbox._rest import OverlaidTable, control_time
from hub.dev.sandbox.roster import Roster, roster
from hub.dev.sandbox.webserver import Request, Response, json_response

__all__ = [
    "ITSLEARNING_TENANTS",
    "ItslearningApp",
    "ItslearningSite",
    "itslearning_source_config",
    "itslearning_tenants",
    "secret_env",
    "secrets_env",
]

#: Sandbox tenants whose learning platform is itslearning (read through its Data
#: Warehouse API) instead of a OneRoster provider.
ITSLEARNING_TENANTS = frozenset({"fjellby"})

#: The page size the real API fixes.
PAGE_SIZE = 10_000
#: Fact tables keyed by `DateId`: the last 30 days unless the filter names `DateId`.
DATED_SETS = frozenset({"UserCourseSessions", "LearningObjectiveProgress"})
DEFAULT_DAYS = 30
COURSE_PROFILES = (
    {"CourseProfileId": 1, "Title": "Lærer", "ProfileType": "Teacher"},
    {"CourseProfileId": 2, "Title": "Elev", "ProfileType": "Learner"},
    {"CourseProfileId": 3, "Title": "Assistent", "ProfileType": "Assistant"},
    {"CourseProfileId": 4, "Title": "Gjest", "ProfileType": "Guest"},
)
#: OneRoster enrollment roles → course profile ids.
_PROFILE_OF_ROLE = {"teacher": 1, "student": 2, "aide": 3}
ASSESSMENT_STATUSES = (
    {"AssessmentStatusId": 1, "Title": "Completed"},
    {"AssessmentStatusId": 2, "Title": "In progress"},
    {"AssessmentStatusId": 3, "Title": "Not assessed"},
)
_USER_TYPES = {"student": "Student", "guardian": "Guardian"}
_CLAUSE = re.compile(
    r"^\(?\s*(\w+)\s+(gt|ge|lt|le|eq)\s+(?:datetime'([^']+)'|(\d+))\s*\)?$", re.IGNORECASE
)
_SET_KINDS = {
    "Organizations": "orgs",
    "Users": "users",
    "Courses": "classes",
}


def _when(stamp: float) -> str:
    """An OData v3 date-time as the warehouse writes it: no zone, seconds."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(text: str) -> float:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@dataclass
class _EntitySet:
    """One entity set: how many rows, how each renders, its time and date keys."""

    count: Callable[[], int]
    render: Callable[[int], dict[str, Any]]
    stamp: Callable[[int], float] | None = None
    day: Callable[[int], int] | None = None


class ItslearningSite(NativePlatform):
    """One tenant's itslearning site, rendered from its generated learning platform."""

    def __init__(self, owner: Roster, *, today: date | None = None) -> None:
        super().__init__(owner, today=today)
        self._lock = threading.RLock()
        #: (set, index) → field overrides, from `modify` and `delete`.
        self.overrides: dict[tuple[str, int], dict[str, Any]] = {}
        self._listings: OrderedDict[tuple[str, str, int], Sequence[int]] = OrderedDict()
        self._version = 0
        self._build()

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        lms = self.lms
        # sessions: (enrollment index, sessions back from the last) for members active online
        self._sessions = array("i"), array("b")
        enrollments = len(self._members)
        for index in self._members:
            for back in range(self.session_count(index)):
                self._sessions[0].append(index)
                self._sessions[1].append(back)
        self.sets: dict[str, _EntitySet] = {
            "Organizations": _EntitySet(
                lambda: lms.tables["orgs"].count, self._organization, self._stamp("orgs")
            ),
            "Users": _EntitySet(
                lambda: lms.tables["users"].count, self._user, self._stamp("users")
            ),
            "Courses": _EntitySet(
                lambda: lms.tables["classes"].count, self._course, self._stamp("classes")
            ),
            "CourseProfiles": _EntitySet(lambda: len(COURSE_PROFILES), COURSE_PROFILES.__getitem__),
            "UserCourseSessions": _EntitySet(
                lambda: len(self._sessions[0]), self._session, day=self._session_day
            ),
            "CourseMemberships": _EntitySet(
                lambda: enrollments,
                lambda i: self._membership(self._members[i]),
                lambda i: self.lms.tables["enrollments"].stamps[self._members[i]],
            ),
            "AssessmentStatuses": _EntitySet(
                lambda: len(ASSESSMENT_STATUSES), ASSESSMENT_STATUSES.__getitem__
            ),
            "UserGrades": _EntitySet(
                lambda: len(self._grades),
                self._grade,
                lambda i: self._result_stamp(self._grades[i]),
            ),
            "LearningObjectives": _EntitySet(lambda: len(self._objectives), self._objective),
            "LearningObjectiveProgress": _EntitySet(
                lambda: len(self._progress[0]), self._objective_progress, day=self._progress_day
            ),
        }

    def _stamp(self, kind: str) -> Callable[[int], float]:
        table: OverlaidTable = self.lms.tables[kind]
        return lambda i: table.stamps[i]

    def _result_stamp(self, index: int) -> float:
        return self.lms.tables["results"].stamps[index]

    # -- rendering ----------------------------------------------------------------------

    def _id(self, kind: str, sourced_id: str) -> int:
        return self.lms.index_of(kind, sourced_id) + 1

    def _organization(self, index: int) -> dict[str, Any]:
        record = self.lms.tables["orgs"].record(index, "", self.lms.sourced_id("orgs", index))
        return {
            "OrganizationId": index + 1,
            "Title": record["name"],
            "ParentOrganizationId": None if index == 0 else 1,
            "SyncKey": f"NO{record['identifier']}" if record.get("identifier") else None,
            "T_ModifiedDate": _when(self.lms.tables["orgs"].stamps[index]),
        }

    def _user(self, index: int) -> dict[str, Any]:
        record = self.user(index)
        role = (record.get("roles") or [{}])[0].get("role", "teacher")
        primary = record.get("primaryOrg")
        return {
            "UserId": index + 1,
            "FirstName": record.get("givenName"),
            "LastName": record.get("familyName"),
            "UserName": record.get("username") or f"{record['local']}.{self.tenant}",
            "Email": record.get("email"),
            "SyncKey": record["feide"] or record["local"],
            "UserStatus": "Active",
            "UserType": _USER_TYPES.get(role, "Staff"),
            "OrganizationId": self._id("orgs", primary["sourcedId"]) if primary else None,
            "T_ModifiedDate": _when(self.lms.tables["users"].stamps[index]),
        }

    def _course(self, index: int) -> dict[str, Any]:
        title, code, _homeroom, _course, org, _grade, _subject = self.lms._classes[index]
        return {
            "CourseId": index + 1,
            "CourseTitle": title,
            "CourseCode": code,
            "OrganizationId": org + 1,
            "CourseStatus": "Active",
            "IsCourseArchived": False,
            "T_ModifiedDate": _when(self.lms.tables["classes"].stamps[index]),
        }

    def _membership(self, index: int) -> dict[str, Any]:
        users, classes, roles, _primaries = self.lms._enrollments
        klass = classes[index]
        role = ("student", "teacher", "aide")[roles[index]]
        last = self.last_online(index)
        first = (
            last - timedelta(days=stable_hash(self.tenant, "first", index) % 60) if last else None
        )
        stamp = self.lms.tables["enrollments"].stamps[index]
        return {
            "CourseId": klass + 1,
            "UserId": users[index] + 1,
            "CourseProfileId": _PROFILE_OF_ROLE[role],
            "CourseOrganizationId": self.lms._classes[klass][4] + 1,
            "FirstOnline": _when(first.timestamp()) if first else None,
            "LastOnline": _when(last.timestamp()) if last else None,
            "ValidFrom": _when(stamp),
            "ValidTo": "9999-12-31T00:00:00",
            "T_ModifiedDate": _when(stamp),
        }

    def _session_moment(self, index: int) -> datetime:
        enrollment, back = self._sessions[0][index], self._sessions[1][index]
        last = self.last_online(enrollment)
        assert last is not None  # only members with sessions have any
        return last - timedelta(days=7 * back, minutes=20)

    def _session(self, index: int) -> dict[str, Any]:
        users, classes, _roles, _primaries = self.lms._enrollments
        enrollment = self._sessions[0][index]
        begin = self._session_moment(index)
        minutes = 5 + stable_hash(self.tenant, "minutes", index) % 40
        return {
            "MonthlyDateId": day_id(begin.date()) // 100 * 100 + 1,
            "DateId": day_id(begin.date()),
            "UserId": users[enrollment] + 1,
            "CourseId": classes[enrollment] + 1,
            "CourseProfileId": 2,
            "CourseOrganizationId": self.lms._classes[classes[enrollment]][4] + 1,
            "ConsumerTypeId": 1,
            "CourseSessionStartDate": _when(begin.timestamp()),
            "CourseSessionEndDate": _when((begin + timedelta(minutes=minutes)).timestamp()),
            "CourseSessionDurationMinutes": minutes,
        }

    def _session_day(self, index: int) -> int:
        return day_id(self._session_moment(index).date())

    def _grade(self, index: int) -> dict[str, Any]:
        result = self._grades[index]
        record = self.lms.tables["results"].record(result, "", "")
        items, users = self.lms._results
        item = items[result]
        klass, _course = self.lms._line_items[item]
        completed = record["scoreStatus"] == "fully graded"
        day = f"{record['scoreDate']}T14:00:00"
        return {
            "LearningItemId": item + 1,
            "CourseId": klass + 1,
            "UserId": users[result] + 1,
            "AssessmentGradeId": 1 if completed else 0,
            "AssessmentStatusId": 1 if completed else 2,
            "Score": record.get("score"),
            "SubmittedDate": day,
            "ReviewDate": day if completed else None,
            "NumberOfAttempts": 1,
            "T_ModifiedDate": _when(self._result_stamp(result)),
        }

    def _objective(self, index: int) -> dict[str, Any]:
        code = self._objectives[index]
        return {
            "LearningObjectiveId": index + 1,
            "RepositoryLearningObjectiveId": None,
            "Title": code,
            "Description": f"{self.lms.words.skills_source}:{code}",
        }

    def _objective_progress(self, index: int) -> dict[str, Any]:
        result = self._progress[0][index]
        items, users = self.lms._results
        klass, _course = self.lms._line_items[items[result]]
        objective, percentage = self.skills_score(index)
        return {
            "LearningObjectiveId": self._objective_ids[objective],
            "UserId": users[result] + 1,
            "CourseId": klass + 1,
            "DateId": self._progress_day(index),
            "ScorePercentage": percentage,
            "IsMastered": percentage >= 75,
        }

    def _progress_day(self, index: int) -> int:
        return day_id(date(self.lms._school_year[0].year + 1, 3, 15))

    # -- reading ------------------------------------------------------------------------

    def row(self, name: str, index: int) -> dict[str, Any]:
        """One row of an entity set as the API renders it, changes applied."""
        record = self.sets[name].render(index)
        record = dict(record)
        changes = self.overrides.get((name, index))
        if changes:
            record.update(changes)
        return record

    def listing(self, name: str, filter_text: str | None) -> Sequence[int]:
        """The row indexes a query returns, in order; ValueError: a filter it cannot read."""
        entity_set = self.sets[name]
        tests = self._tests(entity_set, filter_text or "")
        if name in DATED_SETS and not any(field == "dateid" for field, _ in tests):
            since = day_id(self.today - timedelta(days=DEFAULT_DAYS))
            assert entity_set.day is not None
            day = entity_set.day
            tests.append(("dateid", lambda i: day(i) >= since))
        if not tests:
            return range(entity_set.count())
        key = (name, filter_text or "", self._version)
        with self._lock:
            cached = self._listings.get(key)
            if cached is None:
                cached = [i for i in range(entity_set.count()) if all(t(i) for _, t in tests)]
                self._listings[key] = cached
                while len(self._listings) > 8:
                    self._listings.popitem(last=False)
            return cached

    def _tests(self, entity_set: _EntitySet, text: str) -> list[tuple[str, Callable[[int], bool]]]:
        tests: list[tuple[str, Callable[[int], bool]]] = []
        for clause in re.split(r"\s+and\s+", text.strip().strip("()"), flags=re.IGNORECASE):
            if not clause.strip():
                continue
            match = _CLAUSE.match(clause.strip())
            if match is None:
                raise ValueError(f"The query specified in the URI is not valid: {clause.strip()}")
            field, op, moment, number = match.groups()
            field = field.lower()
            compare = _OPS[op.lower()]
            value: Callable[[int], Any] | None = None
            if field == "t_modifieddate" and moment is not None and entity_set.stamp is not None:
                target: Any = _seconds(moment)
                value = entity_set.stamp
            elif field == "dateid" and number is not None and entity_set.day is not None:
                target, value = int(number), entity_set.day
            if value is not None:
                tests.append((field, _test(compare, value, target)))
            else:
                raise ValueError(f"Could not find a property named '{field}' to filter on")
        return tests

    # -- changes ------------------------------------------------------------------------

    def modify(
        self, name: str, row_id: int, changes: Mapping[str, Any] | None, at: datetime | None
    ) -> str:
        """Change fields of a user, course or organisation (by its id); touch its time."""
        index = row_id - 1
        with self._lock:
            table = self.lms.tables[_SET_KINDS[name]]
            if not 0 <= index < table.count:
                raise KeyError(row_id)
            if changes:
                self.overrides.setdefault((name, index), {}).update(changes)
            stamp = table.touch(index, at)
            self.overrides.setdefault((name, index), {})["T_ModifiedDate"] = _when(
                table.stamps[index]
            )
            self._version += 1
            return stamp


def _test(
    compare: Callable[[Any, Any], bool], value: Callable[[int], Any], target: Any
) -> Callable[[int], bool]:
    return lambda i: compare(value(i), target)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


def _odata_error(status: int, message: str) -> Response:
    """An OData v3 error body."""
    return json_response(
        {"odata.error": {"code": "", "message": {"lang": "en-US", "value": message}}}, status
    )


class ItslearningApp:
    """The itslearning Data Warehouse API of every sandbox tenant, mounted as `itslearning`."""

    def __init__(
        self,
        sites: Mapping[str, ItslearningSite],
        *,
        logins: Mapping[str, tuple[str, str]],
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.data = dict(sites)
        self.tenants = tuple(self.data)
        self.logins = dict(logins)
        self.page_size = page_size

    @classmethod
    def generate(
        cls,
        tenants: Sequence[str],
        scale: int,
        seed: int = 1,
        *,
        logins: Mapping[str, tuple[str, str]],
        page_size: int = PAGE_SIZE,
    ) -> ItslearningApp:
        """The app for tenants generated at `scale` people each."""
        sites = {t: ItslearningSite(roster(t, scale, seed)) for t in tenants}
        return cls(sites, logins=logins, page_size=page_size)

    def handle(self, request: Request) -> Response:
        """An entity set for a request with the tenant's user and password."""
        if request.method != "GET":
            return _odata_error(405, "The HTTP verb is not supported.")
        site = self.data[request.tenant]
        name = request.path.strip("/")
        if name not in site.sets:
            return _odata_error(404, f"Resource not found for the segment '{name}'.")
        if basic(request.headers) != self.logins.get(request.tenant):
            response = _odata_error(401, "Authorization has been denied for this request.")
            response.headers["WWW-Authenticate"] = 'Basic realm="itslearning reporting"'
            return response
        try:
            skip = int(request.query.get("$skip", "0") or 0)
            rows = site.listing(name, request.query.get("$filter"))
        except ValueError as exc:
            return _odata_error(400, str(exc))
        top = request.query.get("$top")
        end = len(rows) if top is None or not top.isdigit() else min(len(rows), int(top))
        window = rows[skip : min(end, skip + self.page_size)]
        body: dict[str, Any] = {
            "odata.metadata": f"{request.base_url}/$metadata#{name}",
            "value": [site.row(name, i) for i in window],
        }
        if skip + len(window) < end:
            query = {k: v for k, v in request.query.items() if k != "$skip"}
            query["$skip"] = str(skip + len(window))
            body["odata.nextLink"] = f"{request.base_url}/{name}?{urlencode(query, safe='$')}"
        return json_response(body)

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Apply `modify`, `delete` or `rotate_password` to a tenant's site."""
        data = payload or {}
        site = self.data[tenant]
        if action == "rotate_password":
            user = self.logins[tenant][0]
            self.logins[tenant] = (user, str(data["password"]))
            return {"rotated": user}
        if action == "modify":
            stamp = site.modify(
                data["set"], int(data["id"]), data.get("changes"), control_time(data)
            )
            return {"T_ModifiedDate": stamp}
        if action == "delete":
            field = {"Users": "UserStatus", "Courses": "CourseStatus"}[data["set"]]
            stamp = site.modify(
                data["set"], int(data["id"]), {field: "Deleted"}, control_time(data)
            )
            return {"T_ModifiedDate": stamp}
        raise ValueError(f"unknown action {action!r}")


# -- wiring for `hub sandbox up` --------------------------------------------------------------


def itslearning_tenants(tenants: Sequence[str]) -> list[str]:
    """The tenants among `tenants` that run itslearning."""
    return [t for t in tenants if t in ITSLEARNING_TENANTS]


def secrets_env(clients: Mapping[str, tuple[str, str]], tenants: Sequence[str]) -> dict[str, str]:
    """`secrets.env` lines for the tenants' itslearning passwords (their sandbox client secret)."""
    return {secret_env(t): clients[t][1] for t in itslearning_tenants(tenants) if t in clients}


def secret_env(tenant: str) -> str:
    """The environment variable that holds a tenant's itslearning OData password."""
    return secret_variable("ITSLEARNING", tenant)


def itslearning_source_config(
    tenant: str,
    base_url: str,
    *,
    source_id: str = "itslearning",
    activity_since: date | None = None,
) -> dict[str, Any]:
    """A hub.yaml source entry for a tenant's sandbox itslearning site at `base_url`."""
    entry: dict[str, Any] = {
        "type": "itslearning",
        "id": source_id,
        "base_url": base_url,
        "auth": {
            "kind": "basic",
            "username": sandbox_client_id(tenant),
            "secret": {"env": secret_env(tenant)},
        },
    }
    if activity_since is not None:
        entry["activity_since"] = activity_since.isoformat()
    return entry
