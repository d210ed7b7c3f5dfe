"""The identity-number detector and keyed hashing, so matching works without keeping a number.

`national_id` reads a Nordic national identity number by value, in any of the forms
registers write it: Norwegian fødselsnummer with D- and H-numbers (two mod-11 check
digits), Swedish personnummer and samordningsnummer (Luhn, 10 or 12 digits, `-` or `+`),
Danish CPR (10 digits with a valid date; modulus 11 is not required since 2007) and
Finnish henkilötunnus (check character). `find_national_ids` finds them inside text. Every
connector runs these on every identifier-like value (`connectors.identity_guard`), and the
log and dead-letter scrubber (`connectors._redact`) uses `CANDIDATE`, the shapes they take.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.entities import Entity, Person

#: What an identity number found in free text is replaced by (as in logs).
REDACTED = "[redacted]"

_NON_DIGITS = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[^0-9A-Z]")
#: Text shaped like a Nordic identity number, check digits not yet verified: 10-12 digits,
#: perhaps split after the date by a space, `-` or `+` (spaces around it allowed), or a
#: Finnish number with its century sign and check character. Never inside a longer run
#: of digits or letters.
CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"\d{6}(?:\d{4,6}|\d{2}\d{4})"  # 10, 11 or 12 digits
    r"|(?:\d{2})?\d{6} ?[-+]? ?\d{4,5}"  # DDMMYY NNNNN, (YY)YYMMDD-NNNC, DDMMYY-SSSS
    r"|\d{6}[-+A-FU-Ya-fu-y]\d{3}[0-9A-FHJ-NPR-Ya-fhj-npr-y]"  # FI henkilötunnus
    r")(?![0-9A-Za-z])"
)
#: A UUID: an id, not an identity number, even when its last group is twelve digits.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_FI_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_FI_CENTURY = {"+": 1800, "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900}
_FI_CENTURY |= dict.fromkeys("ABCDEF", 2000)
_SE_SHAPE = re.compile(r"^(\d{2})?(\d{6}) ?([-+]?) ?(\d{4})$")
_NO_SHAPE = re.compile(r"^(\d{6}) ?(\d{5})$")
_DK_SHAPE = re.compile(r"^(\d{6}) ?-? ?(\d{4})$")
_FI_SHAPE = re.compile(r"^(\d{6})([-+A-FU-Y])(\d{3})([0-9A-Y])$")
#: Countries tried, in this order, for a number valid in several (a 10-digit number can be
#: a Luhn-valid personnummer and a CPR number with a valid date); a caller that knows the
#: tenant's country tries that one first.
COUNTRIES = ("NO", "SE", "FI", "DK")


@dataclass(frozen=True)
class NationalId:
    """A valid national identity number: its country and its canonical form.

    Canonical forms: NO 11 digits, SE 12 digits `YYYYMMDDNNNC`, DK 10 digits, FI
    `DDMMYYCNNNQ` upper case. Never logged, never kept: only `national_id_hmac` of it.
    """

    country: str
    number: str

    def __repr__(self) -> str:
        return f"NationalId({self.country}, [redacted])"


_NIN_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_NIN_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return None if check == 10 else check % 11


def is_valid_norwegian_nin(value: str) -> bool:
    """True for 11 digits whose two mod-11 check digits are right (birth, D-, H- and test numbers).

    Only the check digits are verified: synthetic test numbers (month + 80) and D-numbers
    (day + 40) pass, which is what a directory may legitimately hold.
    """
    if len(value) != 11 or not value.isdigit():
        return False
    first = _mod11(value[:9], _NIN_WEIGHTS_1)
    if first is None or first != int(value[9]):
        return False
    second = _mod11(value[:10], _NIN_WEIGHTS_2)
    return second is not None and second == int(value[10])


def keyed_hmac(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under `key`, as 64 hex digits."""
    if not key:
        raise ValueError("the HMAC key is empty: set HUB_HMAC_KEY")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def national_id_hmac(key: bytes, country: str, number: str) -> str:
    """Keyed HMAC of a national identity number, normalised to its digits and country.

    A Swedish personnummer written YYMMDD-NNNC and YYYYMMDDNNNC hash differently; callers
    pass the canonical form `national_id` gives (12 digits for SE). A Finnish number keeps
    its century sign and check character.
    """
    code = country.upper()
    pattern = _NON_ALNUM if code == "FI" else _NON_DIGITS
    canonical = pattern.sub("", number.upper())
    return keyed_hmac(key, f"{code}:{canonical}")


def hmac_of(key: bytes, number: NationalId) -> str:
    """Keyed HMAC of a detected number (its canonical form under its country)."""
    return national_id_hmac(key, number.country, number.number)


def _date_exists(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _norwegian(text: str) -> NationalId | None:
    match = _NO_SHAPE.match(text)
    if not match:
        return None
    number = match.group(1) + match.group(2)
    return NationalId("NO", number) if is_valid_norwegian_nin(number) else None


def _swedish(text: str, today: date | None) -> NationalId | None:
    match = _SE_SHAPE.match(text)
    if not match:
        return None
    century, birth, separator, tail = match.groups()
    if not luhn_valid(birth + tail):
        return None
    month, day = int(birth[2:4]), int(birth[4:6])
    day = day - 60 if day > 60 else day  # samordningsnummer: the day plus 60
    if century is None:
        today = today or datetime.now(UTC).date()
        year = today.year - (today.year - int(birth[:2])) % 100
        year -= 100 if separator == "+" else 0
        if not _date_exists(year, month, day):
            return None
        if date(year, month, day) > today:
            year -= 100
        century = f"{year // 100:02d}"
    if not _date_exists(int(century + birth[:2]), month, day):
        return None
    return NationalId("SE", century + birth + tail)


def _danish(text: str) -> NationalId | None:
    match = _DK_SHAPE.match(text)
    if not match:
        return None
    birth = match.group(1)
    day, month, year = int(birth[:2]), int(birth[2:4]), int(birth[4:6])
    if not (_date_exists(1900 + year, month, day) or _date_exists(2000 + year, month, day)):
        return None
    return NationalId("DK", birth + match.group(2))


def _finnish(text: str) -> NationalId | None:
    match = _FI_SHAPE.match(text.upper())
    if not match:
        return None
    birth, sign, serial, check = match.groups()
    year = _FI_CENTURY[sign] + int(birth[4:6])
    if not _date_exists(year, int(birth[2:4]), int(birth[:2])):
        return None
    if _FI_CHECK[int(birth + serial) % 31] != check:
        return None
    return NationalId("FI", birth + sign + serial + check)


def national_id(
    value: str, country: str | None = None, today: date | None = None
) -> NationalId | None:
    """The valid national identity number `value` is, in any written form; None if it is none.

    Surrounding whitespace is ignored. `country` (the tenant's) is tried first when a
    number is valid in several countries. `today` fixes the century of a 10-digit
    personnummer (for tests).
    """
    text = value.strip()
    if not 10 <= len(text) <= 16:
        return None
    order = (country, *COUNTRIES) if country in COUNTRIES else COUNTRIES
    for code in dict.fromkeys(order):
        found = (
            _norwegian(text)
            if code == "NO"
            else _swedish(text, today)
            if code == "SE"
            else _finnish(text)
            if code == "FI"
            else _danish(text)
        )
        if found is not None:
            return found
    return None


def find_national_ids(
    text: str, country: str | None = None
) -> Iterator[tuple[re.Match[str], NationalId]]:
    """Every valid national identity number inside `text`, with where it stands."""
    for match in candidates(text):
        found = national_id(match.group(), country)
        if found is not None:
            yield match, found


def candidates(text: str) -> Iterator[re.Match[str]]:
    """The `CANDIDATE` matches in `text`, except those inside a UUID (`…-000000000003`)."""
    uuids = [m.span() for m in _UUID.finditer(text)] if "-" in text else []
    for match in CANDIDATE.finditer(text):
        if not any(start <= match.start() < end for start, end in uuids):
            yield match


def looks_like_national_id(value: str) -> bool:
    """True for a value shaped like an identity number, whether or not its checks pass.

    Such a value is never kept: a number whose check digits fail is still most likely a
    person's number with a typing error.
    """
    return CANDIDATE.fullmatch(value.strip()) is not None and _UUID.search(value) is None


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits ends in its Luhn (modulus 10) check digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


# -- entities: identity numbers caught by value, protected people ----------------------

#: Person fields that identify someone: a value shaped like an identity number is
#: dropped from them (its HMAC becomes `nin_hmac` when valid), never kept.
IDENTIFIER_FIELDS = frozenset({"eppn", "username", "email", "external_ids"})
#: Person fields a protected person travels without (unless the policy allows names).
NAME_FIELDS = frozenset({"given_name", "family_name", "display_name"})
CONTACT_FIELDS = frozenset({"eppn", "username", "email", "external_ids", "title"})
#: Fields that are never text someone typed: left alone.
_UNTOUCHED = frozenset({"tenant", "source", "source_modified", "nin_hmac"})


class IdentityNumberInKey(ValueError):
    """A key holds an identity number and the source has no HMAC key to replace it with."""


def _is_key_field(name: str) -> bool:
    return name == "key" or name.endswith(("_key", "_keys"))


def without_national_ids(
    entity: Entity, hmac_key: bytes | None, country: str | None = None
) -> Entity:
    """`entity` with every national identity number in its text removed, by value.

    - In a person's identifier fields (`IDENTIFIER_FIELDS`) a value shaped like an
      identity number is dropped; a valid one gives `nin_hmac` when the person has none.
    - In keys (`key`, `*_key`, `*_keys`) a valid number is replaced by its keyed HMAC,
      so references between entities still join; without an HMAC key this raises
      `IdentityNumberInKey` and the record becomes a dead letter.
    - In any other text (names, titles, device names) a valid number becomes `[redacted]`.

    Nested models (a device's assigned users, a result's objective scores) are cleaned the
    same way, their text as "any other text". Returns the entity itself when it holds
    none, which is the common case.
    """
    found: list[NationalId] = []
    is_person = isinstance(entity, Person)
    cleaned = _clean_model(entity, is_person, hmac_key, country, found)
    if is_person and found and entity.nin_hmac is None and hmac_key:  # type: ignore[attr-defined]
        cleaned = cleaned.model_copy(update={"nin_hmac": hmac_of(hmac_key, found[0])})
    return cleaned


ModelT = TypeVar("ModelT", bound=BaseModel)


def _clean_model(
    model: ModelT,
    is_person: bool,
    hmac_key: bytes | None,
    country: str | None,
    found: list[NationalId],
) -> ModelT:
    changes: dict[str, Any] = {}
    for name in type(model).model_fields:
        if name in _UNTOUCHED:
            continue
        value = getattr(model, name)
        if isinstance(value, str):
            cleaned = _clean(name, value, is_person, hmac_key, country, found)
            if cleaned != value:
                changes[name] = cleaned
        elif isinstance(value, BaseModel):
            nested = _clean_model(value, False, hmac_key, country, found)
            if nested is not value:
                changes[name] = nested
        elif isinstance(value, tuple) and value:
            items = [
                _clean(name, v, is_person, hmac_key, country, found)
                if isinstance(v, str)
                else _clean_model(v, False, hmac_key, country, found)
                if isinstance(v, BaseModel)
                else v
                for v in value
            ]
            kept = tuple(v for v in items if v is not None)
            if kept != value or any(a is not b for a, b in zip(kept, value, strict=False)):
                changes[name] = kept
    return model.model_copy(update=changes) if changes else model


def _clean(
    name: str,
    value: str,
    is_person: bool,
    hmac_key: bytes | None,
    country: str | None,
    found: list[NationalId],
) -> str | None:
    shaped = list(candidates(value))
    if not shaped:
        return value
    if is_person and name in IDENTIFIER_FIELDS:
        for match in shaped:
            number = national_id(match.group(), country)
            if number is not None:
                found.append(number)
        return None
    numbers = list(find_national_ids(value, country))
    if not numbers:
        return value
    if _is_key_field(name) and not hmac_key:
        raise IdentityNumberInKey(f"{name} holds a national identity number")
    parts, last = [], 0
    for match, number in numbers:
        replacement = hmac_of(hmac_key, number) if _is_key_field(name) and hmac_key else REDACTED
        parts += [value[last : match.start()], replacement]
        last = match.end()
    return "".join([*parts, value[last:]])


def key_without_national_ids(key: str, hmac_key: bytes | None, country: str | None) -> str:
    """A dead letter's or a delete's key as the entity's key would be: numbers hashed.

    Without an HMAC key a number becomes `[redacted]` (such a record was never published,
    so nothing needs the key to join).
    """
    try:
        return _clean("key", key, False, hmac_key, country, []) or key
    except IdentityNumberInKey:
        return _clean("text", key, False, None, country, []) or key


def protect(person: Person, *, allow_names: bool = False) -> Person:
    """A person marked protected at the source: key, roles, units and grade, no names.

    Names, e-mail, user name, eppn, other identifiers and title are removed (names stay
    when the tenant's policy sets `protected_names`); `protected` is set. The HMAC of the
    national identity number stays: it is a keyed pseudonym, needed so the person's
    devices and courses still count.
    """
    cleared = CONTACT_FIELDS if allow_names else CONTACT_FIELDS | NAME_FIELDS
    update: dict[str, Any] = {name: () if name == "external_ids" else None for name in cleared}
    return person.model_copy(update={**update, "protected": True})
