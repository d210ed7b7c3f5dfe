"""`hub sandbox up --variants` writes a hub.yaml that reads the variant sources as they are."""

from __future__ import annotations

from types import SimpleNamespace

import yaml

from hub.dev.local_services import _sandbox_config
from hub.dev.sandbox.population import generate
from hub.dev.sandbox.roster import roster
from hub.settings import parse_settings


def _config(variants: bool) -> dict:
    server = SimpleNamespace(
        uri="ldap://127.0.0.1:1", suffix="dc=skolehub,dc=test", reader_dn="cn=hub-reader,dc=x"
    )
    owners = [generate("lillevik", 30, 1)]
    swedish = [roster("solberga", 30, 1)]
    text = _sandbox_config(server, "http://127.0.0.1:1", owners, swedish, variants=variants)  # type: ignore[arg-type]
    return yaml.safe_load(text)


def test_variants_read_the_flat_directory_from_its_container_and_oneroster_as_1_1():
    """Feide: base_dn the organisation, search_base its container; OneRoster version 1.1."""
    config = _config(variants=True)
    parse_settings(config)
    sources = {s["id"]: s for s in config["tenants"][0]["sources"]}
    assert ("o=lillevik,ou=lillevik,dc=skolehub,dc=test", "ou=lillevik,dc=skolehub,dc=test") == (
        sources["feide"]["base_dn"],
        sources["feide"]["search_base"],
    )
    assert "1.1" == sources["oneroster"]["version"]


def test_without_variants_the_sandbox_is_as_before():
    """The default sandbox: nested directory, no search_base, OneRoster 1.2 paths."""
    sources = {s["id"]: s for s in _config(variants=False)["tenants"][0]["sources"]}
    assert "search_base" not in sources["feide"]
    assert "version" not in sources["oneroster"]


def test_variant_apps_serve_oneroster_1_1_without_gradebook_and_sparse_ss12000():
    """The web server's apps under `--variants`: FINT-like OneRoster, sparse registers."""
    from hub.dev.sandbox.webserver import sandbox_apps

    clients = {t: (f"c-{t}", "s" * 32) for t in ("lillevik", "solberga")}
    apps = sandbox_apps(["lillevik", "solberga"], 20, clients=clients, variants=True)
    lms = apps["oneroster"].data["lillevik"]  # type: ignore[attr-defined]
    register = apps["ss12000"].data["solberga"]  # type: ignore[attr-defined]
    assert ("1.1", False, True) == (lms.version, lms.gradebook, register.sparse)
    assert "meta" not in register.record("persons", 0)
