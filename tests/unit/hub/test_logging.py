import json

import structlog

from hub.logging import REDACTED, configure, redact, scrub


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
