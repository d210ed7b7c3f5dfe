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
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from connectors._redact import REDACTED, SECRET_KEYS, scrub

__all__ = [
    "REDACTED",
    "SECRET_KEYS",
    "RedactingFilter",
    "configure",
    "install_redaction",
    "redact",
    "scrub",
]


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
