import os
import re
from pathlib import Path

import pytest

from connectors.settings import SecretRef
from hub.settings import (
    ENVIRONMENT,
    SettingsError,
    hmac_key,
    load_env_file,
    load_settings,
    parse_settings,
)

VALID = {
    "kafka": {"bootstrap": "127.0.0.1:9092"},
    "tenants": [
        {
            "id": "lillevik",
            "name": "Lillevik kommune",
            "sources": [
                {
                    "type": "feide_ldap",
                    "id": "feide",
                    "uri": "ldap://127.0.0.1:3890",
                    "base_dn": "o=lillevik,dc=skolehub,dc=test",
                    "bind_dn": "cn=hub-reader,dc=skolehub,dc=test",
                    "secret": {"env": "LILLEVIK_LDAP_PASSWORD"},
                }
            ],
        }
    ],
}


def test_valid_file_parses_with_defaults():
    """A minimal valid configuration gets the documented defaults."""
    settings = parse_settings(VALID)
    assert "hub" == settings.kafka.topic_prefix
    assert 500 == settings.tenant("lillevik").deletion_guard.max_deletes
    assert "feide" == settings.tenant("lillevik").source("feide").id


def test_bad_field_names_its_path_and_expectation():
    """A wrong value fails with the dotted path of the field and what was expected."""
    bad = {**VALID, "tenants": [{**VALID["tenants"][0], "deletion_guard": {"max_share": 2}}]}
    with pytest.raises(SettingsError) as caught:
        parse_settings(bad)
    assert "tenants.0.deletion_guard.max_share" in str(caught.value)
    assert "less than or equal to 1" in str(caught.value)


def test_unknown_field_is_refused():
    """A misspelt key is an error, not silently ignored."""
    with pytest.raises(SettingsError, match="kafka.bootstrapp"):
        parse_settings({**VALID, "kafka": {"bootstrapp": "x"}})


def test_unknown_source_type_is_refused():
    """A source of a type the hub does not know fails naming the discriminator."""
    source = {**VALID["tenants"][0]["sources"][0], "type": "nope"}
    bad = {**VALID, "tenants": [{**VALID["tenants"][0], "sources": [source]}]}
    with pytest.raises(SettingsError, match="tenants.0.sources.0"):
        parse_settings(bad)


def test_duplicate_tenant_ids_are_refused():
    """Two tenants with one id would mix their state, so it is an error."""
    bad = {**VALID, "tenants": [VALID["tenants"][0], VALID["tenants"][0]]}
    with pytest.raises(SettingsError, match="repeated: lillevik"):
        parse_settings(bad)


def test_ldaps_uri_needs_ldaps_tls():
    """An ldaps:// URI with tls none is contradictory and refused."""
    source = {**VALID["tenants"][0]["sources"][0], "uri": "ldaps://x:636"}
    bad = {**VALID, "tenants": [{**VALID["tenants"][0], "sources": [source]}]}
    with pytest.raises(SettingsError, match="tls must be `ldaps`"):
        parse_settings(bad)


def test_secret_ref_needs_exactly_one_place():
    """A secret names an environment variable or an Airflow connection, not both."""
    with pytest.raises(ValueError, match="exactly one"):
        SecretRef(env="A", airflow_conn_id="b")


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch):
    """An env secret resolves from the environment, and an unset one names the variable."""
    monkeypatch.setenv("SOME_SECRET", "s3cret")
    assert "s3cret" == SecretRef(env="SOME_SECRET").resolve()
    monkeypatch.delenv("SOME_SECRET")
    with pytest.raises(SettingsError, match="SOME_SECRET is not set"):
        SecretRef(env="SOME_SECRET").resolve()


def test_missing_file_says_how_to_get_one(tmp_path: Path):
    """A missing hub.yaml says to set HUB_CONFIG or run the sandbox."""
    with pytest.raises(SettingsError, match="hub sandbox up"):
        load_settings(tmp_path / "nope.yaml")


def test_invalid_yaml_is_reported(tmp_path: Path):
    """Broken YAML fails with the file's name."""
    path = tmp_path / "hub.yaml"
    path.write_text("tenants: [\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(path)


def test_environment_overrides_bootstrap_and_store(monkeypatch: pytest.MonkeyPatch):
    """HUB_KAFKA_BOOTSTRAP and HUB_DATABASE_URL win over the file."""
    settings = parse_settings({**VALID, "database_url": "sqlite:///a.db"})
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg2://x@y/z")
    assert "k1:9092,k2:9092" == settings.bootstrap
    assert "postgresql+psycopg2://x@y/z" == settings.store_url


def test_env_file_does_not_override_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """HUB_ENV_FILE fills in unset variables and leaves set ones alone."""
    env_file = tmp_path / "secrets.env"
    env_file.write_text("# comment\nA_FROM_FILE=1\nHUB_HMAC_KEY=from-file\n")
    monkeypatch.setenv("HUB_ENV_FILE", str(env_file))
    monkeypatch.setenv("HUB_HMAC_KEY", "from-environment")
    monkeypatch.delenv("A_FROM_FILE", raising=False)
    load_env_file()
    assert "1" == os.environ["A_FROM_FILE"]
    assert "from-environment" == os.environ["HUB_HMAC_KEY"]
    monkeypatch.delenv("A_FROM_FILE")


def test_short_hmac_key_is_refused(monkeypatch: pytest.MonkeyPatch):
    """A missing or short HMAC key is a configuration error, not a weak hash."""
    monkeypatch.setenv("HUB_HMAC_KEY", "short")
    with pytest.raises(SettingsError, match="HUB_HMAC_KEY"):
        hmac_key()


def test_every_hub_variable_read_in_code_is_documented():
    """Each HUB_* name the code reads appears in the ENVIRONMENT table."""
    root = Path(__file__).resolve().parents[3]

    used = set()
    for folder in ("hub", "connectors", "schemas", "dags", "plugins"):
        for path in (root / folder).rglob("*.py"):
            used |= set(re.findall(r"[\"'](HUB_[A-Z_]+)[\"']", path.read_text()))
    assert set() == used - set(ENVIRONMENT)


def test_followup_consumer_group_is_configurable():
    """The compiler's consumer group defaults to skolehub-followup and can be set in hub.yaml."""
    assert "skolehub-followup" == parse_settings(VALID).followup.consumer_group
    custom = parse_settings({**VALID, "followup": {"consumer_group": "kommune-dwh"}})
    assert "kommune-dwh" == custom.followup.consumer_group
    with pytest.raises(SettingsError, match="followup.consumer_group"):
        parse_settings({**VALID, "followup": {"consumer_group": "has spaces"}})
