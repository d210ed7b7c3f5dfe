"""Competence words of a native platform's course: its code, subject and description parts.

Native platforms have no tag field: a course's code, section or subject, and the comma-,
semicolon- or `#`-separated words of its description, normalised as OneRoster's tags are,
are its tags; those in OneRoster's competence table give its competence areas.
"""

from __future__ import annotations

import re

from connectors.lms import _common
from connectors.lms._common import normalise_tag
from schemas.lms import CompetenceArea

_SEPARATORS = re.compile(r"[,;#\n]+")


def tag_words(*whole: str | None, split: str | None = None) -> set[str]:
    """The normalised words: each of `whole` as one word, and the separated parts of `split`."""
    parts = [w for w in whole if w] + _SEPARATORS.split(split or "")
    return {normalise_tag(p) for p in parts if p.strip()} - {""}


def competence_areas(words: set[str]) -> tuple[CompetenceArea, ...]:
    """The competence areas the words name, sorted (`_common.competence_areas`, tags only)."""
    return _common.competence_areas(words)
