"""The redaction detector: secrets and national identity numbers, recognised by key and value.

Below both `connectors` (rejected records and error details are scrubbed before they leave
a connector) and `hub` (`hub.logging.redact` runs every log line through `scrub`).
"""

from __future__ import annotations

import re
from typing import Any

from connectors.privacy import CANDIDATE, REDACTED, national_id

#: Keys whose values are never logged, whatever they hold.
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "api_key",
        "hmac_key",
        "nin",
        "national_id",
        "civic_no",
        "civicno",
        "nor_edu_person_nin",
        "noredupersonnin",
        "userpassword",
    }
)
#: National identity numbers of the four Nordic formats, recognised by value wherever they
#: stand (see docs/bad-input.md): the detector's shapes (`connectors.privacy.CANDIDATE`,
#: spaced and hyphenated forms included), check digits not required, and by design any
#: run of ten or more digits (epoch milliseconds, LDAP timestamps, phone numbers), since a
#: missed identity number costs more than a removed timestamp.
_IDENTIFIER = re.compile(f"{CANDIDATE.pattern}|(?<!\\d)\\d{{10,}}(?!\\d)")
#: Nine digits: a CPR number or fødselsnummer written as a JSON number loses its leading
#: zero; removed when the zero-padded form is a valid identity number.
_NINE_DIGITS = re.compile(r"(?<![\d.])\d{9}(?![\d])")
#: UUIDs are ids, not identity numbers, even when a group is all digits (`…-000000000003`).
_UUID = re.compile(
    r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"
)
_UUID_OR_IDENTIFIER = re.compile(f"(?P<uuid>{_UUID.pattern})|{_IDENTIFIER.pattern}")
#: Credentials: `Bearer …` / `Basic …` values, and bare JSON Web Tokens.
_BEARER = re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
#: Integers with this many digits or more are treated like identity numbers written as text.
_IDENTIFIER_DIGITS = 10


def scrub(value: Any) -> Any:
    """Return `value` with identity numbers and credentials replaced, recursively.

    A pure function: strings, dict values (a key in `SECRET_KEYS` loses its whole value),
    lists and tuples; an integer (or a whole float) of ten or more digits is replaced too
    (an identity number sent as a JSON number), and one of nine digits when its
    zero-padded form is an identity number (the JSON number lost the leading zero).
    Anything else is returned as it is.
    """
    if isinstance(value, str):
        value = _UUID_OR_IDENTIFIER.sub(_keep_uuids, _JWT.sub(REDACTED, value))
        value = _NINE_DIGITS.sub(_padded_identifier, value)
        return _BEARER.sub(r"\1 " + REDACTED, value)
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e8:
        return scrub(int(value))
    if isinstance(value, int):
        if _digits(value) >= _IDENTIFIER_DIGITS:
            return REDACTED
        return REDACTED if national_id(f"{abs(value):010d}") is not None else value
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in SECRET_KEYS else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value


def _padded_identifier(match: re.Match[str]) -> str:
    return REDACTED if national_id("0" + match.group()) is not None else match.group()


def _keep_uuids(match: re.Match[str]) -> str:
    return match.group() if match.group("uuid") else REDACTED


def _digits(number: int) -> int:
    """How many digits an integer has, without converting a huge one to text."""
    magnitude = abs(number)
    if magnitude.bit_length() > 64:
        return _IDENTIFIER_DIGITS  # certainly ten or more digits
    return len(str(magnitude))
