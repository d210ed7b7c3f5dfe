"""What the sandbox's native learning platforms share: one generated platform, their way.

itslearning's warehouse, Canvas and Moodle present the same generated learning platform
as the tenant's OneRoster provider (`OneRosterTenant`: same people, classes, completions
and digital-skills results), each in its own shapes; the web server hands them the
provider's own data. `NativePlatform` derives what they need: one membership per course
and user (a teacher who also takes a course teaches it), the competence-course
completions, the digital-skills results per objective, a member's activity within the
school year so far, and when a result was recorded (its record's `dateLastModified`, the
moment Teams classes and Classroom give it too).
"""

from __future__ import annotations

import zlib
from array import array
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.dev.sandbox.oneroster import OneRosterTenant
from hub.dev.sandbox.roster import Roster


def stable_hash(*parts: object) -> int:
    """A hash of the parts that is the same in every process (CRC-32)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def day_id(day: date) -> int:
    """A date as a data-warehouse date key: 20250915."""
    return day.year * 10_000 + day.month * 100 + day.day


class NativePlatform:
    """One tenant's generated learning platform, with what native platforms present."""

    def __init__(
        self,
        owner: Roster,
        *,
        today: date | None = None,
        platform: OneRosterTenant | None = None,
    ) -> None:
        self.owner = owner
        self.tenant = owner.tenant
        #: The tenant's OneRoster data: `platform` when given (the provider's), else generated.
        self.lms = platform if platform is not None else OneRosterTenant(owner)
        self.today = today or datetime.now(UTC).date()
        lms = self.lms
        items, users = lms._results
        line_items = lms._line_items
        self._grades = array("i")
        #: (result index, objective number) of each progress row
        self._progress = array("i"), array("b")
        self._objective_ids: dict[str, int] = {}
        self._objectives: list[str] = []
        for index in range(len(items)):
            klass, course = line_items[items[index]]
            if course >= 0:
                self._grades.append(index)
                continue
            record = lms.tables["results"].record(index, "", "")
            if record.get("scoreStatus") != "fully graded":
                continue
            for set_ in record.get("learningObjectiveSet") or ():
                for n, result in enumerate(set_["learningObjectiveResults"]):
                    objective = result["learningObjectiveId"]
                    if objective not in self._objective_ids:
                        self._objective_ids[objective] = len(self._objectives) + 1
                        self._objectives.append(objective)
                    self._progress[0].append(index)
                    self._progress[1].append(n)
        # one membership per course and user: a teacher who also takes the course teaches it
        users_of, classes_of, roles_of, _primaries = lms._enrollments
        member: dict[tuple[int, int], int] = {}
        for index in range(lms.tables["enrollments"].count):
            pair = (classes_of[index], users_of[index])
            if pair not in member or roles_of[index] == 1:
                member[pair] = index
        self._members = array("i", sorted(member.values()))

    def session_count(self, enrollment: int) -> int:
        """How many course sessions a member had (0: never opened the course)."""
        return stable_hash(self.tenant, "sessions", enrollment) % 4

    def last_online(self, enrollment: int) -> datetime | None:
        """When the member was last in the course, within the school year so far."""
        if not self.session_count(enrollment):
            return None
        start = datetime.combine(self.lms._school_year[0], datetime.min.time(), UTC)
        end = min(datetime.combine(self.today, datetime.min.time(), UTC), start + timedelta(300))
        span = max(int((end - start).total_seconds()), 1)
        return start + timedelta(seconds=stable_hash(self.tenant, "online", enrollment) % span)

    def recorded_at(self, result: int) -> datetime:
        """When a result was recorded: its OneRoster record's `dateLastModified`."""
        return datetime.fromtimestamp(self.lms.tables["results"].stamps[result], UTC)

    def user(self, index: int) -> dict[str, Any]:
        """The OneRoster user record of a user index, with its Feide id and LMS id picked out."""
        record = self.lms.tables["users"].record(index, "", self.lms.sourced_id("users", index))
        ids = {u["type"]: u["identifier"] for u in record.get("userIds", ())}
        record["feide"] = ids.get(self.lms.words.eppn_type)
        record["local"] = ids.get("LMS", f"u{index}")
        return record

    def skills_score(self, row: int) -> tuple[str, float]:
        """A digital-skills progress row's objective code and percentage (level × 25)."""
        result, number = self._progress[0][row], self._progress[1][row]
        record = self.lms.tables["results"].record(result, "", "")
        score = record["learningObjectiveSet"][0]["learningObjectiveResults"][number]
        return score["learningObjectiveId"], float(score["score"]) * 25
