"""What the LMS connectors share: recognising competence courses, Feide ids, grades, dates.

Every learning platform names its courses its own way: OneRoster has tags, subjects and
subject codes; itslearning, Canvas and Moodle only a title, a code and sometimes a
category. `competence_areas` recognises the staff competence-development areas in any of
them, so the follow-up counts the same courses whichever platform a tenant runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import Item
from schemas.lms import Class, ClassType, CompetenceArea, Course

_EPPN = re.compile(r"^[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}$")
_WORDS = re.compile(r"[^\wæøåäö]+")


def normalise_tag(value: str) -> str:
    """A tag, subject or code as the competence table spells it: `Digital didaktikk` → `…-…`."""
    return _WORDS.sub("-", value.strip().lower()).strip("-")


#: Course tags, subjects and subject codes (normalised: lower case, words joined by "-")
#: that mark a staff competence-development course.
COMPETENCE_TAGS: dict[str, CompetenceArea] = {
    "digital-didactics": CompetenceArea.DIGITAL_DIDACTICS,
    "digital-didaktikk": CompetenceArea.DIGITAL_DIDACTICS,
    "digital-didaktik": CompetenceArea.DIGITAL_DIDACTICS,
    "learning-platforms": CompetenceArea.LEARNING_PLATFORMS,
    "laeringsplattform": CompetenceArea.LEARNING_PLATFORMS,
    "lärplattform": CompetenceArea.LEARNING_PLATFORMS,
    "lärplattformen": CompetenceArea.LEARNING_PLATFORMS,
    "læringsplattform": CompetenceArea.LEARNING_PLATFORMS,
    "læringsplattformen": CompetenceArea.LEARNING_PLATFORMS,
    "programming-robotics": CompetenceArea.PROGRAMMING_ROBOTICS,
    "programmering-og-robotikk": CompetenceArea.PROGRAMMING_ROBOTICS,
    "programmering": CompetenceArea.PROGRAMMING_ROBOTICS,
    "robotics": CompetenceArea.PROGRAMMING_ROBOTICS,
    "information-security": CompetenceArea.INFORMATION_SECURITY,
    "informasjonssikkerhet": CompetenceArea.INFORMATION_SECURITY,
    "informationssäkerhet": CompetenceArea.INFORMATION_SECURITY,
    "security-awareness": CompetenceArea.INFORMATION_SECURITY,
    # Danish: the areas of the Danish strategies, as a kommune's platform words them.
    "it-didaktik": CompetenceArea.DIGITAL_DIDACTICS,
    "læringsplatform": CompetenceArea.LEARNING_PLATFORMS,
    "digitale-læremidler": CompetenceArea.LEARNING_PLATFORMS,
    "robotter-og-3d-print": CompetenceArea.ROBOTS_3D_PRINTING,
    "3d-print": CompetenceArea.ROBOTS_3D_PRINTING,
    "digital-dannelse": CompetenceArea.DIGITAL_CITIZENSHIP,
    "informationssikkerhed": CompetenceArea.INFORMATION_SECURITY,
}


def competence_areas(
    words: Iterable[str], phrases: Iterable[str] = ()
) -> tuple[CompetenceArea, ...]:
    """The competence areas that tags (`words`, whole) or titles (`phrases`, any part) name.

    A tag names an area when it is one of `COMPETENCE_TAGS`; a title or code when one of
    them appears in it as whole words (`Informasjonssikkerhet – e-læring for alle`).
    """
    found = {COMPETENCE_TAGS[w] for w in (normalise_tag(t) for t in words) if w in COMPETENCE_TAGS}
    for phrase in phrases:
        text = f"-{normalise_tag(phrase)}-"
        found.update(area for tag, area in COMPETENCE_TAGS.items() if f"-{tag}-" in text)
    return tuple(sorted(found))


def eppn_of(value: str | None) -> str | None:
    """A Feide id (eduPersonPrincipalName) lower-cased, when `value` is a valid `user@realm`."""
    text = (value or "").strip().lower()
    return text if _EPPN.match(text) else None


def day_of(date_id: int | str | None) -> date | None:
    """A data-warehouse date key (`20250915`) as a date; None when it is not one."""
    text = str(date_id or "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def date_id(day: date) -> int:
    """A date as a data-warehouse date key: 2025-09-15 → 20250915."""
    return day.year * 10_000 + day.month * 100 + day.day


def latest(*moments: datetime | None) -> datetime | None:
    """The latest of the moments given (naive ones read as UTC); None when none is."""
    known = [m if m.tzinfo else m.replace(tzinfo=UTC) for m in moments if m is not None]
    return max(known) if known else None


def course_as_class(
    common: dict[str, Any], *, title: str, code: str | None, school_key: str
) -> list[Item]:
    """A platform course that is taught as one class: the `Course` and its `Class`.

    itslearning, Canvas and Moodle have no course above their courses: each is both, with
    the same key, and its competence areas come from its title and code.
    """
    key = common["key"]
    return [
        Course(
            **common,
            title=title,
            course_code=code,
            org_key=school_key,
            competence_areas=competence_areas((), (title, code or "")),
        ),
        Class(
            **common,
            title=title,
            class_type=ClassType.SCHEDULED,
            class_code=code,
            course_key=key,
            school_key=school_key,
        ),
    ]
