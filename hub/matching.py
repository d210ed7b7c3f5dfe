"""Identity matching: link people seen in other systems to the tenant's directory people.

LMS users, SS 12000 persons and MDM device users carry identifiers of their own (an eppn,
a username, an e-mail address, a UPN, an "annotated user", external ids). The matcher
tries the tenant's rules in order against indexes of the directory people; a rule compares
every value the candidate has for it (all of its external ids, for `external_id`), and the
first rule that finds exactly one person wins. Everything it cannot link is reported by
source and reason with pseudonymised samples, never dropped silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from connectors.privacy import keyed_hmac
from hub.policy import Matching

#: Which directory fields each rule compares the candidate's identifier with.
RULE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "eppn": ("eppn",),
    "username": ("username",),
    "email": ("email", "eppn"),
    "upn": ("eppn", "email"),
    "annotated_user": ("username", "email", "eppn"),
    "external_id": ("external_id",),
}


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """What the matcher needs of a directory person."""

    key: str
    eppn: str | None = None
    username: str | None = None
    email: str | None = None
    external_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """Someone seen in another system, with the identifiers that system gives.

    `identifiers` maps a rule to its value; `external_ids` are every external id the
    system gives, all compared by the `external_id` rule (with `identifiers`' one, if any).
    """

    source: str
    key: str
    identifiers: Mapping[str, str]
    external_ids: tuple[str, ...] = ()

    def values(self, rule: str) -> tuple[str, ...]:
        """The candidate's values that `rule` compares."""
        value = self.identifiers.get(rule)
        found: tuple[str, ...] = (value,) if value else ()
        if rule == "external_id":
            found += tuple(v for v in self.external_ids if v and v not in found)
        return found


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate linked to a directory person by a rule."""

    source: str
    candidate_key: str
    person_key: str
    rule: str


@dataclass
class UnmatchedReport:
    """Candidates that matched nobody: counts per (source, reason) and pseudonymised samples."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    samples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def rows(self) -> list[dict[str, object]]:
        """One row per source and reason, sorted."""
        return [
            {"source": s, "reason": r, "count": n, "samples": sorted(self.samples[(s, r)])}
            for (s, r), n in sorted(self.counts.items())
        ]


def _normalise(value: str, rewrites: Mapping[str, str]) -> str:
    value = value.strip().lower()
    local, at, domain = value.rpartition("@")
    if at and domain in rewrites:
        return f"{local}@{rewrites[domain]}"
    return value


class Matcher:
    """Indexes a tenant's directory people and matches candidates against them."""

    def __init__(
        self, people: Iterable[DirectoryPerson], matching: Matching, pseudonym_key: bytes
    ) -> None:
        self.matching = matching
        self.rewrites = {r.from_domain: r.to_domain for r in matching.domain_rewrites}
        self._key = pseudonym_key
        #: Directory field → normalised value → the person key holding it, or the set of
        #: keys when several do (rare: a set for every value would double a large
        #: tenant's index).
        self.index: dict[str, dict[str, str | set[str]]] = defaultdict(dict)
        for person in people:
            values: dict[str, list[str | None]] = {
                "eppn": [person.eppn],
                "username": [person.username],
                "email": [person.email],
                "external_id": [*person.external_ids],
            }
            for name, items in values.items():
                for item in items:
                    if item:
                        self._add(self.index[name], _normalise(item, self.rewrites), person.key)

    @staticmethod
    def _add(index: dict[str, str | set[str]], value: str, key: str) -> None:
        known = index.get(value)
        if known is None:
            index[value] = key
        elif isinstance(known, set):
            known.add(key)
        elif known != key:
            index[value] = {known, key}

    def _holders(self, directory_field: str, value: str) -> set[str]:
        """The directory people whose `directory_field` is `value` (normalised)."""
        known = self.index.get(directory_field, {}).get(value)
        if known is None:
            return set()
        return {known} if isinstance(known, str) else known

    def match(self, candidate: Candidate) -> Match | str:
        """The match, or the reason there is none: `no_identifier`, `ambiguous` or `not_found`.

        Rules are tried in the policy's order, each over all of the candidate's values for
        it, so an earlier rule on any identifier beats a later rule on another.
        """
        tried = False
        ambiguous = False
        for rule in self.matching.rules:
            values = candidate.values(rule.name)
            if not values:
                continue
            tried = True
            found: set[str] = set()
            for value in values:
                normalised = _normalise(value, self.rewrites)
                for directory_field in RULE_FIELDS[rule.name]:
                    found |= self._holders(directory_field, normalised)
            if len(found) == 1:
                return Match(candidate.source, candidate.key, next(iter(found)), rule.name)
            ambiguous = ambiguous or len(found) > 1
        if not tried:
            return "no_identifier"
        return "ambiguous" if ambiguous else "not_found"

    def match_all(
        self, candidates: Iterable[Candidate], report: UnmatchedReport | None = None
    ) -> tuple[list[Match], UnmatchedReport]:
        """Match every candidate; the unmatched go to the report (a new one unless given)."""
        report = UnmatchedReport() if report is None else report
        return list(self.matches(candidates, report)), report

    def matches(self, candidates: Iterable[Candidate], report: UnmatchedReport) -> Iterator[Match]:
        """The candidates' matches as they are found; the unmatched go to `report`."""
        for candidate in candidates:
            result = self.match(candidate)
            if isinstance(result, Match):
                yield result
            else:
                self.note_unmatched(candidate, result, report)

    def note_unmatched(self, candidate: Candidate, reason: str, report: UnmatchedReport) -> None:
        """Count a candidate that matched nobody, for `reason`, with a pseudonymised sample."""
        where = (candidate.source, reason)
        report.counts[where] += 1
        if len(report.samples[where]) < self.matching.samples:
            report.samples[where].append(self.pseudonym(candidate.key))

    def pseudonym(self, value: str) -> str:
        """A stable pseudonym of an identifier: 16 hex digits of its keyed HMAC."""
        return keyed_hmac(self._key, f"pseudonym:{value}")[:16]
