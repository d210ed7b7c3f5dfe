"""The local services of a development machine: the Kafka broker and the sandbox school owner.

`hub kafka up|down|status` and `hub sandbox up|down|status` call these. Everything lives
under `$HUB_VAR_DIR`: the broker in `kafka/`, the jar cache in `cache/`, the sandbox in
`sandbox/`, and the hub.yaml that `hub run` reads is written to `$HUB_VAR_DIR/hub.yaml`.
"""

from __future__ import annotations

import json
import os
import secrets as secrets_module
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
import yaml

from hub.dev.kafka_local import LocalKafka, default_cache_dir
from hub.dev.kafka_secure import SecureLocalKafka
from hub.dev.sandbox.canvas import canvas_source_config
from hub.dev.sandbox.canvas import secrets_env as canvas_secrets
from hub.dev.sandbox.classroom import classroom_source_config
from hub.dev.sandbox.equipment import equipment_source_configs
from hub.dev.sandbox.equipment import secrets_env as equipment_secrets
from hub.dev.sandbox.graph_education import graph_education_source_config
from hub.dev.sandbox.itslearning import ITSLEARNING_TENANTS, itslearning_source_config
from hub.dev.sandbox.itslearning import secrets_env as itslearning_secrets
from hub.dev.sandbox.ldif import Tree
from hub.dev.sandbox.licences import licence_source_configs, licensed_tenants
from hub.dev.sandbox.licences import secrets_env as licence_secrets
from hub.dev.sandbox.mdm import mdm_source_configs
from hub.dev.sandbox.mdm import secrets_env as mdm_secrets
from hub.dev.sandbox.moodle import moodle_source_config
from hub.dev.sandbox.moodle import secrets_env as moodle_secrets
from hub.dev.sandbox.oneroster import client_credentials, oneroster_source_config
from hub.dev.sandbox.oneroster import secrets_env as oneroster_secrets
from hub.dev.sandbox.os2skoledata import danish_tenants, os2skoledata_source_config
from hub.dev.sandbox.os2skoledata import secrets_env as os2skoledata_secrets
from hub.dev.sandbox.os2skoledata import tenant_summary as os2skoledata_summary
from hub.dev.sandbox.population import generate
from hub.dev.sandbox.roster import Roster, roster, sandbox_policy
from hub.dev.sandbox.slapd import SlapdServer
from hub.dev.sandbox.ss12000 import secrets_env as ss12000_secrets
from hub.dev.sandbox.ss12000 import ss12000_source_config, swedish_tenants
from hub.dev.sandbox.ss12000 import tenant_summary as ss12000_summary
from hub.dev.sandbox.webserver import detached_status, start_detached, stop_detached
from hub.settings import KafkaSettings, SettingsError, parse_settings, var_dir

log = structlog.get_logger(__name__)

#: The local broker's default loopback port, chosen away from 9092 so that a broker
#: the developer already runs is not disturbed.
DEFAULT_KAFKA_PORT = 19092


def local_kafka(port: int | None = None) -> LocalKafka:
    """The local broker under `$HUB_VAR_DIR/kafka`."""
    var = var_dir()
    return LocalKafka(var / "kafka", default_cache_dir(var), port=port or DEFAULT_KAFKA_PORT)


#: The secured local broker's default port (`hub kafka up --secure`).
DEFAULT_SECURE_KAFKA_PORT = 19093
#: The hub user's password for the secured broker goes to this variable, in
#: `$HUB_VAR_DIR/kafka-secure/secrets.env` (0600).
KAFKA_PASSWORD_ENV = "KAFKA_HUB_PASSWORD"


def secure_local_kafka(port: int | None = None) -> SecureLocalKafka:
    """The secured local broker (SASL_SSL, SCRAM, ACLs) under `$HUB_VAR_DIR/kafka-secure`."""
    var = var_dir()
    return SecureLocalKafka(
        var / "kafka-secure", default_cache_dir(var), port=port or DEFAULT_SECURE_KAFKA_PORT
    )


def secure_kafka_up(port: int | None = None, topic_prefix: str = "hub") -> tuple[str, str]:
    """Start the secured broker, grant the hub user its ACLs for `topic_prefix`.

    Returns the bootstrap address and hub.yaml's `kafka` section for it (YAML); the
    hub user's password is written to the broker home's `secrets.env`, never printed.
    """
    broker = secure_local_kafka(port)
    bootstrap = broker.up()
    security = broker.security(password_env=KAFKA_PASSWORD_ENV)
    settings = KafkaSettings(bootstrap=bootstrap, topic_prefix=topic_prefix, security=security)
    broker.grant(settings)
    secrets_env = broker.home / "secrets.env"
    _write_private(secrets_env, f"{KAFKA_PASSWORD_ENV}={broker.passwords()['hub']}\n")
    section = {
        "kafka": {
            "bootstrap": bootstrap,
            "topic_prefix": topic_prefix,
            "security": json.loads(security.model_dump_json(exclude_defaults=True)),
        }
    }
    return bootstrap, yaml.safe_dump(section, sort_keys=False)


# -- the sandbox school owner ----------------------------------------------------------

#: Sandbox secrets go to `$HUB_VAR_DIR/sandbox/secrets.env` (0600) under these names;
#: hub.yaml refers to them with `secret: {env: ...}`, and the Makefile points
#: `HUB_ENV_FILE` at the file.
LDAP_PASSWORD_ENV = "SANDBOX_LDAP_PASSWORD"
#: The sandbox web server's default port (it serves every simulated vendor API); fixed
#: so that hub.yaml stays valid across restarts.
DEFAULT_WEB_PORT = 18080


def _sandbox_home() -> Path:
    return var_dir() / "sandbox"


def _slapd() -> SlapdServer:
    return SlapdServer(_sandbox_home() / "slapd", tls=True)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def sandbox_up(
    scale: int,
    tenants: str,
    faults: bool = False,
    seed: int = 1,
    web_port: int = DEFAULT_WEB_PORT,
    variants: bool = False,
    lms: str = "",
) -> list[str]:
    """Start the sandbox directory with generated tenants and write hub.yaml and its secrets.

    `lms` (`solberga=teams,ekby=classroom,lillevik=canvas`) gives tenants Microsoft Teams
    classes (Graph education), Google Classroom, Canvas or Moodle as their LMS instead of
    OneRoster.

    Idempotent: a sandbox already up with the same tenants, scale and seed is reused;
    other parameters rebuild the directory from scratch. `variants` serves the same tenants
    as real sources often are: each Norwegian directory in the flat layout (read with
    `search_base`), OneRoster 1.1 without the gradebook, sparse SS 12000 registers.
    """
    tenant_ids = [t.strip() for t in tenants.split(",") if t.strip()]
    if not tenant_ids:
        raise SettingsError("--tenants names no tenant")
    native = native_lms_choice(lms, tenant_ids)
    home = _sandbox_home()
    wanted = {
        "tenants": tenant_ids,
        "scale": scale,
        "seed": seed,
        "faults": faults,
        "children": True,
        "variants": variants,
    }
    state_file = home / "state.json"
    server = _slapd()
    web_home = home / "web"
    swedish = swedish_tenants(tenant_ids)  # served over SS 12000, not from the directory
    danish = danish_tenants(tenant_ids)  # served over OS2skoledata
    norwegian = [t for t in tenant_ids if t not in swedish and t not in danish]
    if _read_json(state_file) != wanted:
        server.stop()
        shutil.rmtree(home / "slapd", ignore_errors=True)
        server = _slapd()
        owners = [generate(t, scale, seed, faults=faults) for t in norwegian]
        started = time.monotonic()
        # Offline bulk load (slapadd) before the first start. Preschool children are
        # included (title `barn`): the 1:5 shared-device target needs their counts, and
        # Norwegian school owners that give them Feide accounts do it this way.
        server.load_owners(owners, include_children=True, flat=norwegian if variants else ())
        log.info("sandbox_directory_loaded", seconds=round(time.monotonic() - started, 1))
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(wanted), encoding="utf-8")
    server.start()
    stop_detached(web_home)  # the vendor APIs restart in seconds, always with current code
    web = start_detached(
        web_home, tenants=tenant_ids, scale=scale, seed=seed, port=web_port, variants=variants
    )
    owners = [generate(t, scale, seed, faults=faults) for t in norwegian]
    # Every tenant has a OneRoster LMS and the three MDMs, built from its own people.
    secrets = _read_env(home / "secrets.env")
    secrets.setdefault("HUB_HMAC_KEY", secrets_module.token_urlsafe(32))
    secrets[LDAP_PASSWORD_ENV] = server.reader_password
    secrets.update(oneroster_secrets(web_home, tenant_ids))
    secrets.update(itslearning_secrets(client_credentials(web_home, tenant_ids), tenant_ids))
    secrets.update(ss12000_secrets(web_home, swedish))
    secrets.update(os2skoledata_secrets(web_home, danish))
    secrets.update(mdm_secrets(web_home, tenant_ids))
    secrets.update(canvas_secrets(web_home, tenant_ids))
    secrets.update(moodle_secrets(web_home, tenant_ids))
    secrets.update(equipment_secrets(web_home, tenant_ids))
    secrets.update(licence_secrets(web_home, licensed_tenants(tenant_ids)))
    _write_private(home / "secrets.env", "".join(f"{k}={v}\n" for k, v in secrets.items()))
    config_file = var_dir() / "hub.yaml"
    registers = [roster(t, scale, seed) for t in swedish]
    kommuner = [roster(t, scale, seed) for t in danish]
    config = _sandbox_config(
        server, str(web["url"]), owners, registers, kommuner, variants=variants, native=native
    )
    config_file.write_text(config, encoding="utf-8")
    lms_version = "1.1" if variants else "1.2"
    lines = [
        f"Directory: {server.uri} (LDAPS {server.ldaps_uri}), suffix {server.suffix}",
        f"Vendor APIs: {web['url']} (/<tenant>/oneroster: OneRoster {lms_version}, "
        f"/<tenant>/itslearning: itslearning's Data Warehouse API for "
        f"{', '.join(sorted(ITSLEARNING_TENANTS))}, "
        "/<tenant>/ss12000: SS 12000, /<tenant>/os2skoledata: OS2skoledata, "
        "/<tenant>/intune, /jamf, /google: the MDMs; /graph_education, /classroom, /canvas, "
        "/moodle: the native LMSs; /m365, /vpp: licences)",
    ]
    if native:
        chosen = ", ".join(f"{t} reads {p}" for t, p in native.items())
        lines.append(f"Native LMS instead of OneRoster: {chosen}")
    for owner in owners:
        lines.append(
            f"  {owner.tenant:<12} {owner.name:<22} {len(owner.schools)} schools, "
            f"{len(owner.preschools)} preschools, {owner.person_count:,} people"
        )
    lines += [ss12000_summary(t, scale, seed) for t in swedish]
    lines += [os2skoledata_summary(t, scale, seed) for t in danish]
    if variants:
        lines.append(
            "Variants: directories in the flat layout (read with search_base), OneRoster 1.1 "
            "without gradebook, SS 12000 with only the mandatory fields"
        )
    lines.append(f"Wrote {config_file} and {home / 'secrets.env'}")
    return lines


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep:
                values[name.strip()] = value.strip()
    return values


def _sandbox_config(
    server: SlapdServer,
    web_url: str,
    owners: Sequence[Roster],
    swedish: Sequence[Roster],
    danish: Sequence[Roster] = (),
    *,
    variants: bool = False,
    native: Mapping[str, str] | None = None,
) -> str:
    """hub.yaml for the sandbox tenants, each with its directory, LMS and MDMs.

    Norwegian `owners` read a Feide directory, `swedish` registers SS 12000 and `danish`
    kommuner OS2skoledata.
    """
    kafka = local_kafka().status()
    config: dict[str, Any] = {
        "kafka": {
            "bootstrap": kafka["bootstrap"] if kafka else f"127.0.0.1:{DEFAULT_KAFKA_PORT}",
            "topic_prefix": "hub",
            "partitions": 3,
            "replication_factor": 1,
        },
        "tenants": [
            _tenant_entry(
                owner,
                {
                    "type": "feide_ldap",
                    "id": "feide",
                    "uri": server.uri,
                    "base_dn": Tree(owner.tenant, server.suffix, variants).org,
                    **_search_base(owner.tenant, server.suffix, variants),
                    "bind_dn": server.reader_dn,
                    "secret": {"env": LDAP_PASSWORD_ENV},
                    "page_size": 500,
                },
                web_url,
                variants=variants,
                lms=(native or {}).get(owner.tenant),
            )
            for owner in owners
        ]
        + [
            _tenant_entry(
                owner,
                ss12000_source_config(owner.tenant, f"{web_url}/{owner.tenant}/ss12000"),
                web_url,
                variants=variants,
                lms=(native or {}).get(owner.tenant),
            )
            for owner in swedish
        ]
        + [
            _tenant_entry(
                owner,
                os2skoledata_source_config(
                    owner.tenant,
                    f"{web_url}/{owner.tenant}/os2skoledata",
                    account_domain=owner.realm,
                ),
                web_url,
            )
            for owner in danish
        ],
    }
    parse_settings(config, origin="the generated sandbox hub.yaml")  # never write a bad file
    header = (
        "# Written by `hub sandbox up` for the simulated school owners; rewritten on every\n"
        "# `hub sandbox up`. Secrets are not here: see HUB_ENV_FILE (sandbox/secrets.env).\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def _search_base(tenant: str, suffix: str, flat: bool) -> dict[str, str]:
    """`search_base` for a flat directory (the container beside the organisation), else none."""
    return {"search_base": Tree(tenant, suffix, flat=True).root} if flat else {}


#: The native learning platforms `hub sandbox up --lms` offers, by the name it takes: each
#: gives a tenant's source entry from the tenant and the web server's URL.
NATIVE_LMS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "teams": graph_education_source_config,
    "classroom": classroom_source_config,
    "canvas": lambda tenant, web_url: canvas_source_config(tenant, f"{web_url}/{tenant}/canvas"),
    "moodle": lambda tenant, web_url: moodle_source_config(tenant, f"{web_url}/{tenant}/moodle"),
}


def native_lms_choice(text: str, tenants: Sequence[str]) -> dict[str, str]:
    """`--lms solberga=teams,lillevik=moodle` as tenant → platform; a bad entry is refused."""
    choice: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        tenant, _, platform = part.partition("=")
        if tenant.strip() not in tenants or platform.strip() not in NATIVE_LMS:
            raise SettingsError(
                f"--lms {part!r}: expected <tenant>=<{'|'.join(NATIVE_LMS)}> for one of "
                f"the tenants ({', '.join(tenants)})"
            )
        choice[tenant.strip()] = platform.strip()
    return choice


def _tenant_entry(
    owner: Roster,
    directory: dict[str, Any],
    web_url: str,
    *,
    variants: bool = False,
    lms: str | None = None,
) -> dict[str, Any]:
    """A hub.yaml tenant: its directory, then its LMS, MDMs, register and desk on the web server.

    The LMS is OneRoster unless `lms` names a native platform (`NATIVE_LMS`), or the
    tenant runs itslearning (`ITSLEARNING_TENANTS`).
    """
    learning = (
        NATIVE_LMS[lms](owner.tenant, web_url)
        if lms
        else _lms_source(owner, web_url, variants=variants)
    )
    return {
        "id": owner.tenant,
        "name": owner.name,
        "country": owner.country,
        "policy": sandbox_policy(owner),
        "sources": [
            directory,
            learning,
            *mdm_source_configs(owner.tenant, web_url),
            *equipment_source_configs(owner.tenant, web_url),
            *(
                licence_source_configs(owner.tenant, web_url)
                if licensed_tenants([owner.tenant])
                else []
            ),
        ],
    }


def _lms_source(owner: Roster, web_url: str, *, variants: bool = False) -> dict[str, Any]:
    """The tenant's learning platform: itslearning for the tenants that run it, else OneRoster.

    itslearning's activity and progress are read from the start of the school year.
    """
    if owner.tenant in ITSLEARNING_TENANTS:
        return itslearning_source_config(
            owner.tenant, f"{web_url}/{owner.tenant}/itslearning", activity_since=owner.valid_from
        )
    return oneroster_source_config(
        owner.tenant, f"{web_url}/{owner.tenant}/oneroster", version="1.1" if variants else "1.2"
    )


def sandbox_down() -> None:
    """Stop the sandbox directory and web server (the data is kept for the next `up`)."""
    _slapd().stop()
    stop_detached(_sandbox_home() / "web")


def sandbox_status() -> list[str]:
    """One line per sandbox service: running or not, and where."""
    status = _slapd().status()
    state = _read_json(_sandbox_home() / "state.json")
    where = f"{status.uri}" if status.running else "not running"
    tenants = ", ".join(state.get("tenants", [])) or "none"
    web = detached_status(_sandbox_home() / "web")
    return [
        f"directory (slapd): {where}; tenants: {tenants}, scale {state.get('scale', '-')}",
        f"vendor APIs (web): {web['url'] if web else 'not running'}",
    ]
