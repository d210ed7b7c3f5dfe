import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from hub.logging import REDACTED, RedactingFilter, configure, install_redaction, redact, scrub


@pytest.fixture(autouse=True)
def _no_filters_left_behind() -> Iterator[None]:
    """Take the redaction filters `install_redaction` adds off every handler after a test."""
    yield
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", ()):
            for found in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(found)


def test_secret_keys_are_redacted_whatever_their_value():
    """Keys such as password and token never reach the output."""
    event = redact(None, "info", {"event": "x", "password": "hunter2", "Token": "abc"})
    assert {"event": "x", "password": REDACTED, "Token": REDACTED} == event


def test_identifier_shaped_numbers_are_scrubbed_in_nested_values():
    """NIN- and personnummer-shaped numbers are removed from strings at any depth."""
    event = {
        "event": "bad record",
        "detail": {"dn": "uid=ola", "msg": "NIN 01018012345 invalid"},
        "items": ["19121212-1212", "ok 123"],
    }
    out = redact(None, "info", event)
    assert "NIN [redacted] invalid" == out["detail"]["msg"]
    assert [REDACTED, "ok 123"] == out["items"]


def test_bearer_tokens_are_scrubbed():
    """Authorization header values in messages are removed."""
    assert f"Authorization: Bearer {REDACTED}" == scrub("Authorization: Bearer eyJhbGciOi.x.y")


def test_json_output_is_redacted(capsys):
    """The configured pipeline renders JSON with the redaction applied."""
    configure(fmt="json")
    structlog.get_logger("t").warning("login_failed", password="pw", user_nin="01018012345")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert REDACTED == record["password"]
    assert REDACTED == record["user_nin"]
    assert "login_failed" == record["event"]
    structlog.reset_defaults()


def test_install_redaction_goes_before_the_renderer_once():
    """Installing twice puts `redact` into a foreign chain once, just before its renderer."""
    renderer = structlog.processors.JSONRenderer()
    structlog.configure(processors=[structlog.processors.add_log_level, renderer])
    install_redaction()
    install_redaction()
    assert [structlog.processors.add_log_level, redact, renderer] == (
        structlog.get_config()["processors"]
    )
    structlog.reset_defaults()


def test_install_redaction_reaches_loggers_already_in_use():
    """A logger cached before the redaction was installed is redacted afterwards too."""
    out = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    logger = structlog.get_logger("t")
    logger.info("first_line")
    install_redaction()
    logger.warning("record_rejected", detail="nin 17859140076")
    assert {"event": "record_rejected", "detail": f"nin {REDACTED}"} == json.loads(
        out.getvalue().splitlines()[-1]
    )
    structlog.reset_defaults()


def test_install_redaction_scrubs_stdlib_records():
    """A stdlib handler with a plain formatter writes the message and traceback scrubbed."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("hub.test.redaction")
    logger.addHandler(handler)
    try:
        install_redaction()
        install_redaction()
        try:
            raise ValueError("bad nin 17859140076")
        except ValueError:
            logger.exception("record with nin %s rejected", "17859140076")
    finally:
        logger.removeHandler(handler)
    assert 1 == sum(isinstance(f, RedactingFilter) for f in handler.filters)
    assert "17859140076" not in out.getvalue()
    assert f"record with nin {REDACTED} rejected" in out.getvalue()
    assert f"ValueError: bad nin {REDACTED}" in out.getvalue()
    structlog.reset_defaults()


def test_install_redaction_extends_a_processor_formatter():
    """A stdlib handler formatting through structlog gets `redact` before the renderer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=[structlog.processors.JSONRenderer()])
    )
    logger = logging.getLogger("hub.test.redaction.formatter")
    logger.addHandler(handler)
    try:
        install_redaction()
        logger.warning("record with nin %s rejected", "17859140076")
    finally:
        logger.removeHandler(handler)
    assert [] == handler.filters
    assert f"record with nin {REDACTED} rejected" == json.loads(out.getvalue())["event"]
    structlog.reset_defaults()


@pytest.mark.parametrize(
    "identifier",
    [
        "01890112393",  # Norwegian fødselsnummer (synthetic, month + 80)
        "41890112393",  # Norwegian D-number shape (first digit + 4)
        "018901 12393",  # Norwegian, written with a space
        "198112289874",  # Swedish personnummer, 12 digits
        "189001019802",  # Swedish, 12 digits, born in the 1800s
        "811228-9874",  # Swedish, 10 digits with a dash
        "811288+9874",  # Swedish coordination number, 100 or older
        "010190-1234",  # Danish CPR
        "0101901234",  # Danish CPR without the dash
        "131052-308T",  # Finnish henkilötunnus, 1900s
        "010594Y9021",  # Finnish henkilötunnus, new century sign
        "010105A9996",  # Finnish henkilötunnus, 2000s
    ],
)
def test_identity_numbers_of_every_nordic_format_are_recognised_by_value(identifier: str):
    """NO (incl. D-numbers), SE (incl. coordination numbers), DK CPR and FI numbers are removed."""
    assert f"x {REDACTED} y" == scrub(f"x {identifier} y")


def test_identity_numbers_as_json_numbers_are_recognised_too():
    """A number of ten or more digits is removed like its text; short numbers are kept."""
    assert {"a": REDACTED, "b": 42, "c": True} == scrub({"a": 1890112393, "b": 42, "c": True})


def test_long_digit_strings_are_removed_too_by_design():
    """Any run of ten or more digits is treated as a possible identity number (documented)."""
    assert f"ts {REDACTED}" == scrub("ts 20250914133751")


def test_jwt_and_basic_credentials_are_scrubbed():
    """A bare JWT and a basic credential are credentials wherever they appear."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    assert f"t={REDACTED}" == scrub(f"t={jwt}")
    assert f"Basic {REDACTED}" == scrub("Basic aHViOnNlY3JldA==")


def test_short_numbers_dates_and_uuids_are_left_alone():
    """Grades, years, ISO dates and UUIDs are not identity numbers."""
    text = "grade 7, 2025-09-14, 3f2c9a1e-7b4d-4e0a-9c61-2d8f5b7a1c01, MAT0010"
    assert text == scrub(text)


def test_a_uuid_whose_last_group_is_all_digits_is_kept():
    """A generated UUID such as `…-000000000003` is an id, not a run of identity digits."""
    text = "ed674d2b-10aa-4bbb-8ccc-000000000003 and 01890110009"
    assert f"ed674d2b-10aa-4bbb-8ccc-000000000003 and {REDACTED}" == scrub(text)
