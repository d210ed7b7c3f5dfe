"""The sandbox's native learning platforms see the tenant's OneRoster LMS through this view.

Microsoft Teams classes (Graph education) and Google Classroom serve the same generated
platform as the sandbox OneRoster provider (`OneRosterTenant`): its schools, classes,
enrolments, line items and results, indexed by class once, with each user's identifiers
in the shape the native platforms give them. So a tenant's follow-up figures are the
same whichever of the three it runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from hub.dev.sandbox._oauth import IssuesTokens, TokenStore
from hub.dev.sandbox.mdm.credentials import MdmCredentials
from hub.dev.sandbox.oneroster import OneRosterTenant

#: OneRoster enrolment roles by their index in the tenant's compact rows.
ROLES = ("student", "teacher", "aide")


@dataclass(frozen=True)
class PlatformUser:
    """A user as a native platform knows them."""

    id: str
    given: str
    family: str
    #: The directory account (`user@realm`), else the LMS's own address.
    upn: str
    email: str | None
    role: str
    external_id: str


class LmsView:
    """A tenant's OneRoster data indexed the way a native platform serves it."""

    def __init__(self, data: OneRosterTenant) -> None:
        self.data = data
        self.tenant = data.tenant
        self._users: dict[int, PlatformUser] = {}

    # -- indexes ------------------------------------------------------------------------

    @property
    def class_count(self) -> int:
        """How many classes the platform has."""
        return self.data.tables["classes"].count

    @cached_property
    def members(self) -> dict[int, list[tuple[int, str]]]:
        """Class index → (user index, role) of its enrolments, in order."""
        users, classes, roles, _primaries = self.data._enrollments  # noqa: SLF001 - sandbox
        found: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for user, klass, role in zip(users, classes, roles, strict=True):
            found[klass].append((user, ROLES[role]))
        return found

    def teaching(self, klass: int) -> dict[int, bool]:
        """A class's members once each, in order: user index → teaches (any role but student)."""
        teaches: dict[int, bool] = {}
        for user, role in self.members.get(klass, ()):
            teaches[user] = teaches.get(user, False) or role != "student"
        return teaches

    @cached_property
    def classes_of_school(self) -> dict[int, list[int]]:
        """Org index (1: the first school) → its class indexes."""
        found: dict[int, list[int]] = defaultdict(list)
        for index, row in enumerate(self.data._classes):  # noqa: SLF001 - sandbox
            found[row[4]].append(index)
        return found

    @cached_property
    def line_items_of(self) -> dict[int, list[int]]:
        """Class index → its line item indexes."""
        found: dict[int, list[int]] = defaultdict(list)
        for index, (klass, _course) in enumerate(self.data._line_items):  # noqa: SLF001
            found[klass].append(index)
        return found

    @cached_property
    def results_of(self) -> dict[int, list[int]]:
        """Class index → the result indexes of its line items."""
        items, _users = self.data._results  # noqa: SLF001 - sandbox
        klass_of = [k for k, _c in self.data._line_items]  # noqa: SLF001 - sandbox
        found: dict[int, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            found[klass_of[item]].append(index)
        return found

    @cached_property
    def result_index(self) -> dict[tuple[int, int], int]:
        """(line item index, user index) → the index of the user's result on it."""
        items, users = self.data._results  # noqa: SLF001 - sandbox
        return {(item, user): n for n, (item, user) in enumerate(zip(items, users, strict=True))}

    # -- records ------------------------------------------------------------------------

    def school_count(self) -> int:
        """How many schools (orgs after the owner)."""
        return self.data.tables["orgs"].count - 1

    def record(self, kind: str, index: int) -> dict[str, Any]:
        """The OneRoster record of a collection's row."""
        return self.data.record(kind, self.data.sourced_id(kind, index))

    def course_of(self, klass: int) -> dict[str, Any]:
        """The OneRoster course of a class."""
        row = self.data._classes[klass]  # noqa: SLF001 - sandbox
        return self.data._courses[row[3]]  # noqa: SLF001 - sandbox

    def user(self, index: int) -> PlatformUser:
        """A user with the identifiers a native platform gives: account, mail, primary role."""
        found = self._users.get(index)
        if found is None:
            found = self._users[index] = self._user(index)
        return found

    def _user(self, index: int) -> PlatformUser:
        record = self.record("users", index)
        roles = record.get("roles") or [{"role": record.get("role")}]
        role = "student" if roles and roles[0].get("role") == "student" else "teacher"
        eppn = next(
            (
                str(u["identifier"]).lower()
                for u in record.get("userIds", ())
                if "@" in str(u.get("identifier", ""))
            ),
            None,
        )
        realm = self.data.owner.realm
        username = record.get("username") or f"user{index}"
        email = record.get("email")
        return PlatformUser(
            id=self.data.sourced_id("users", index),
            given=record.get("givenName") or "",
            family=record.get("familyName") or "",
            upn=eppn or email or f"{username}@{realm}",
            email=email,
            role=role,
            external_id=f"lms{index}",
        )

    def result(self, index: int) -> dict[str, Any]:
        """The OneRoster result of a row (score status, score, date)."""
        return self.record("results", index)

    def tags(self, klass: int) -> list[str]:
        """The class's course tags (competence courses), else its subjects."""
        course = self.course_of(klass)
        tags = list((course.get("metadata") or {}).get("tags") or ())
        return tags or list(course.get("subjects") or ())


class PlatformApp(IssuesTokens):
    """A native platform's sandbox app: each tenant's view, the MDMs' credentials, tokens."""

    token_prefix: ClassVar[str] = ""

    def __init__(
        self,
        platforms: Mapping[str, OneRosterTenant],
        *,
        credentials: Mapping[str, MdmCredentials],
        token_ttl: float = 3600.0,
    ) -> None:
        self.views = {t: LmsView(p) for t, p in platforms.items()}
        self.tenants = tuple(self.views)
        self.credentials = dict(credentials)
        self.tokens = TokenStore(token_ttl, prefix=self.token_prefix)
        self.setup()

    def setup(self) -> None:
        """The app's own state, once the views, credentials and tokens are there."""

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """Revoke tokens or change their lifetime, else apply one of the app's changes."""
        data = payload or {}
        answer = self.control_tokens(tenant, action, data)
        return answer if answer is not None else self.change(tenant, action, data)

    def change(self, tenant: str, action: str, data: Mapping[str, Any]) -> Any:
        """Apply a change to a tenant's platform; KeyError for an action the app lacks."""
        raise KeyError(action)
