"""structlog set-up: JSON in production, readable in a terminal, identifiers removed.

Bind `tenant`, `source` and `run_id` once with `structlog.contextvars.bind_contextvars`;
event names are snake_case past tense (`page_fetched`, `events_published`).

The hub's own processes (the CLI) call `configure`. Inside an Airflow task the task runner
has configured logging itself (structlog rendering JSON for the supervisor, and the
standard library's root handler formatting through structlog's `ProcessorFormatter`), so
every function a DAG task calls first calls `install_redaction`, which puts `redact` into
that set-up just before its renderers.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

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
REDACTED = "[redacted]"
#: National identity numbers of the four Nordic formats, recognised by value wherever they
#: stand (see docs/bad-input.md). By design this also removes harmless long numbers: any
#: run of ten or more digits (epoch milliseconds, LDAP timestamps, phone numbers) reads as
#: a possible identity number, since a missed one costs more than a removed timestamp.
_IDENTIFIER = re.compile(
    r"(?<!\d)(?:"
    # NO fødselsnummer and D-number: 11 digits, perhaps `DDMMYY NNNNN`; SE personnummer
    # and coordination number with 12 digits; DK CPR and SE with 10: any 10+ digit run.
    r"\d{10,}|\d{6} \d{5}"
    # SE `YYMMDD-NNNC` / `YYYYMMDD-NNNC` (`+` at 100 years) and DK CPR `DDMMYY-SSSS`.
    r"|(?:\d{2})?\d{6}[-+]\d{4}"
    # FI henkilötunnus: DDMMYY, a century sign, three digits and a check character.
    r"|\d{6}[-+A-FU-Ya-fu-y]\d{3}[0-9A-FHJ-NPR-Ya-fhj-npr-y](?![0-9A-Za-z])"
    r")(?!\d)"
)
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
    lists and tuples; an integer of ten or more digits is replaced too (an identity
    number sent as a JSON number). Anything else is returned as it is.
    """
    if isinstance(value, str):
        value = _UUID_OR_IDENTIFIER.sub(_keep_uuids, _JWT.sub(REDACTED, value))
        return _BEARER.sub(r"\1 " + REDACTED, value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return REDACTED if _digits(value) >= _IDENTIFIER_DIGITS else value
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in SECRET_KEYS else scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value


def _keep_uuids(match: re.Match[str]) -> str:
    return match.group() if match.group("uuid") else REDACTED


def _digits(number: int) -> int:
    """How many digits an integer has, without converting a huge one to text."""
    magnitude = abs(number)
    if magnitude.bit_length() > 64:
        return _IDENTIFIER_DIGITS  # certainly ten or more digits
    return len(str(magnitude))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """A structlog processor that removes secrets and personal identifiers from a log event."""
    for key in list(event_dict):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = scrub(event_dict[key])
    return event_dict


def configure(fmt: str | None = None, level: str = "info") -> None:
    """Configure structlog (and the standard library's loggers) for the hub's processes."""
    fmt = fmt or os.environ.get("HUB_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.getLogger("kafka").setLevel(logging.ERROR)
    logging.getLogger("ldap3").setLevel(logging.WARNING)


def install_redaction() -> None:
    """Make every log line of this process pass `redact`, whoever configured logging.

    Inserts `redact` just before the renderer of structlog's configured processor chain
    (in place, so loggers already bound to that chain see it too), and into every
    standard-library handler: before the renderer of a structlog `ProcessorFormatter`
    (how Airflow 3's task runner formats stdlib records), as a filter on any other handler.
    Calling it again changes nothing.
    """
    processors = structlog.get_config()["processors"]
    if redact not in processors:
        if isinstance(processors, list):
            processors.insert(max(len(processors) - 1, 0), redact)
        else:
            chain = list(processors)
            structlog.configure(processors=[*chain[:-1], redact, *chain[-1:]])
    for handler in _stdlib_handlers():
        formatter = handler.formatter
        if isinstance(formatter, structlog.stdlib.ProcessorFormatter):
            if redact not in formatter.processors:
                chain = list(formatter.processors)
                formatter.processors = [*chain[:-1], redact, *chain[-1:]]
        elif not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class RedactingFilter(logging.Filter):
    """A stdlib handler filter that scrubs a record's message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message (args applied) and traceback with scrubbed text."""
        record.msg, record.args = scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def _stdlib_handlers() -> list[logging.Handler]:
    """The handlers of the root logger and of every logger created so far."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):  # placeholders have none
            handlers[id(handler)] = handler
    return list(handlers.values())
