"""The Skolehub plugin in a real Airflow API server: loading, auth, pages, approval, health.

The server (the `airflow_api` fixture) reads hub.yaml from its var folder on every
request, so each test writes the configuration it needs there, with a store of its own.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import yaml

from hub.followup.compile import compile_snapshot
from hub.followup.extract import write_extract
from hub.kafka_io import Publisher, ensure_topics
from hub.settings import HubSettings, parse_settings
from hub.store import StateStore
from hub.sync import SyncRunner
from schemas import Person
from tests.conftest import TEST_HMAC_KEY
from tests.support import MemorySource, consume_all, unique_prefix
from tests.unit.followup import golden

pytestmark = pytest.mark.integration

#: The columns of a coverage table on the page, after the unit's name.
COVERAGE_COLUMNS = [
    "headcount",
    "devices",
    "shared_devices",
    "past_life_cycle",
    "noncompliant",
    "not_seen",
    "unassigned",
    "unmatched",
]
PAGES = ["/skolehub/followup", "/skolehub/runs", "/skolehub/extracts", "/skolehub/api/health"]


class Hub:
    """One test's hub as the API server sees it: hub.yaml and a store in the server's var."""

    def __init__(self, api: Any, config: dict[str, Any]) -> None:
        self.api = api
        self.name = uuid.uuid4().hex[:8]
        self.db_url = f"sqlite:///{api.var_dir / f'hub-{self.name}.db'}"
        self.config = {"database_url": self.db_url, **config}
        (api.var_dir / "hub.yaml").write_text(yaml.safe_dump(self.config), encoding="utf-8")
        self.settings: HubSettings = parse_settings(self.config)
        self.extract = Path()

    def get(self, path: str, user: str | None = "viewer", **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.api.token(user)}"} if user else {}
        return requests.get(self.api.url + path, headers=headers, timeout=30, **kwargs)

    def post(self, path: str, user: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.api.token(user)}"}
        return requests.post(self.api.url + path, headers=headers, timeout=30, **kwargs)


def guldby_config(bootstrap: str = "127.0.0.1:9", **policy: Any) -> dict[str, Any]:
    """The golden tenant (see tests/unit/followup/golden.py) with a minimum cell of 5."""
    return {
        "kafka": {"bootstrap": bootstrap},
        "tenants": [
            {
                "id": golden.TENANT,
                "name": "Guldby kommun",
                "policy": {**golden.POLICY, "min_cell_size": 5, **policy},
            }
        ],
    }


def configured_source(source_id: str) -> dict[str, Any]:
    """A source entry the pages list; the tests sync it from memory, never from this LDAP."""
    return {
        "type": "feide_ldap",
        "id": source_id,
        "uri": "ldap://127.0.0.1:9",
        "base_dn": "dc=example,dc=no",
        "bind_dn": "cn=reader,dc=example,dc=no",
        "secret": {"env": "UNUSED_PASSWORD"},
    }


@pytest.fixture
def guldby(airflow_api: Any, tmp_path: Path) -> Iterator[Hub]:
    """The golden tenant compiled into the server's store, with an extract written."""
    hub = Hub(airflow_api, guldby_config())
    engine = sa.create_engine(hub.db_url)
    golden.write_entities(engine, golden.entities())
    tenant = hub.settings.tenant(golden.TENANT)
    snapshot = compile_snapshot(engine, tenant, golden.AS_OF, pseudonym_key=TEST_HMAC_KEY.encode())
    engine.dispose()
    folder = airflow_api.var_dir / "extracts" / golden.TENANT / golden.AS_OF.isoformat()
    write_extract(snapshot, folder, policy=tenant.policy, pseudonym_key=TEST_HMAC_KEY.encode())
    hub.extract = folder
    yield hub


class Cells(HTMLParser):
    """The cells of one coverage section's table and the bars of its chart."""

    def __init__(self, population: str) -> None:
        super().__init__()
        self.population = population
        self.inside = False
        self.rows: list[list[tuple[str, str]]] = []
        self.bars: list[dict[str, str]] = []
        self._cell: list[str] | None = None
        self._class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.inside = a.get("data-population") == self.population
        elif self.inside and tag == "rect" and "bar" in a.get("class", "").split():
            self.bars.append(a)
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self._cell, self._class = [], a.get("class", "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.inside = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append((self._class, "".join(self._cell).strip()))
            self._cell = None


def coverage(html: str, population: str) -> Cells:
    parser = Cells(population)
    parser.feed(html)
    return parser


# -- loading and auth ----------------------------------------------------------------------


def test_airflow_lists_the_plugin_with_its_app_and_navigation(airflow_api: Any):
    """Airflow's plugin manager (through the API server) lists the app and the four views."""
    hub = Hub(airflow_api, guldby_config())
    plugins = hub.get("/api/v2/plugins", user="admin").json()["plugins"]
    (plugin,) = [p for p in plugins if p["name"] == "skolehub"]
    assert [{"name": "Skolehub", "url_prefix": "/skolehub"}] == [
        {k: app[k] for k in ("name", "url_prefix")} for app in plugin["fastapi_apps"]
    ]
    views = {v["name"]: (v["href"], v["url_route"]) for v in plugin["external_views"]}
    assert {
        "Follow-up": ("/skolehub/followup", "skolehub-followup"),
        "Run overview": ("/skolehub/runs", "skolehub-runs"),
        "Extracts": ("/skolehub/extracts", "skolehub-extracts"),
        "Access log": ("/skolehub/access-log", "skolehub-access-log"),
    } == views


@pytest.mark.parametrize(
    "path", [*PAGES, "/skolehub/followup/guldby", "/skolehub/api/runs", "/skolehub/"]
)
def test_anonymous_requests_are_refused(airflow_api: Any, path: str):
    """No token, no page: Airflow's auth manager answers 401 before the page runs."""
    hub = Hub(airflow_api, guldby_config())
    response = hub.get(path, user=None, allow_redirects=False)
    assert 401 == response.status_code
    assert "Skolehub" not in response.text


def test_a_forged_token_is_refused(airflow_api: Any):
    """A token not signed by this Airflow is not a login."""
    hub = Hub(airflow_api, guldby_config())
    response = requests.get(
        airflow_api.url + "/skolehub/followup",
        headers={"Authorization": "Bearer eyJhbGciOiJIUzUxMiJ9.e30.c2lnbmF0dXJl"},
        timeout=30,
    )
    assert response.status_code in (401, 403)
    assert hub.get("/skolehub/followup").ok


# -- pages ---------------------------------------------------------------------------------


def test_a_viewer_sees_every_page(guldby: Hub):
    """The follow-up, run overview and extracts pages render for a viewer."""
    index = guldby.get("/skolehub/followup")
    assert 200 == index.status_code and "Guldby kommun" in index.text
    page = guldby.get(f"/skolehub/followup/{golden.TENANT}")
    assert 200 == page.status_code
    for heading in (
        "Device coverage against target",
        "exam readiness",
        "Staff competence by role and area",
        "digital skills per grade",
        "Equity between schools",
        "Trend since the baseline",
    ):
        assert heading in page.text
    assert 200 == guldby.get("/skolehub/runs").status_code
    extracts = guldby.get("/skolehub/extracts")
    assert 200 == extracts.status_code and "verified" in extracts.text
    assert "guldby" in extracts.text and golden.AS_OF.isoformat() in extracts.text


def test_the_coverage_chart_has_a_bar_per_school_and_suppresses_as_the_extract(guldby: Hub):
    """Björkskolan (4 pupils < 5) is suppressed, as in the CSV, and so is Ekskolan.

    Ekskolan's bar goes as a complement: the tenant's 13 pupils (the trend) minus its 9
    would give Björkskolan's 4.
    """
    html = guldby.get(f"/skolehub/followup/{golden.TENANT}").text
    pupils = coverage(html, "pupils")
    bars = {b["data-key"]: b for b in pupils.bars}
    assert {"ek", "bj"} == set(bars)
    assert ("bar suppressed", "") == (bars["ek"]["class"], bars["ek"]["data-value"])
    assert ("bar suppressed", "") == (bars["bj"]["class"], bars["bj"]["data-value"])
    assert 'class="target" data-value="1"' in html

    with (guldby.extract / "device_coverage.csv").open(encoding="utf-8") as f:
        csv_rows = {(r["unit_key"], r["population"]): r for r in csv.DictReader(f)}
    table = {row[0][1]: row[1:] for row in pupils.rows if row}
    for unit_key, unit_name in (("bj", "Björkskolan"), ("ek", "Ekskolan")):
        in_csv = csv_rows[(unit_key, "pupils")]
        hidden = set(in_csv["suppressed"].split(";")) - {""}
        for column, (css, text) in zip(COVERAGE_COLUMNS, table[unit_name], strict=True):
            assert (css == "suppressed") == (column in hidden), (unit_name, column)
            assert text == ("suppressed" if column in hidden else in_csv[column])
    assert "headcount" in set(csv_rows[("bj", "pupils")]["suppressed"].split(";"))


def test_an_unknown_tenant_is_404_and_a_missing_snapshot_says_what_writes_one(airflow_api: Any):
    """A tenant that is not configured is 404; a configured one without snapshots explains."""
    hub = Hub(airflow_api, guldby_config())
    assert 404 == hub.get("/skolehub/followup/nowhere").status_code
    page = hub.get(f"/skolehub/followup/{golden.TENANT}")
    assert 200 == page.status_code and "hub_followup_compile" in page.text


# -- extracts ------------------------------------------------------------------------------


def test_extract_download_needs_the_extract_role(guldby: Hub):
    """A viewer cannot download; an operator gets the very bytes the manifest lists."""
    path = f"/skolehub/extracts/{golden.TENANT}/{golden.AS_OF.isoformat()}/device_coverage.csv"
    refused = guldby.get(path, user="viewer")
    assert 403 == refused.status_code and "may not" in refused.json()["detail"]
    got = guldby.get(path, user="operator")
    assert 200 == got.status_code
    assert (guldby.extract / "device_coverage.csv").read_bytes() == got.content
    assert (
        404 == guldby.get(path.replace("device_coverage", "secrets"), user="operator").status_code
    )
    traversal = f"/skolehub/extracts/{golden.TENANT}/..%2F..%2Fhub.yaml/x"
    assert guldby.get(traversal, user="admin").status_code in (404, 422)


def test_identified_extracts_need_the_tenant_setting_and_the_identified_role(
    airflow_api: Any,
):
    """Without the tenant's setting nobody downloads one; with it, admin only (by default)."""
    as_of = date(2026, 6, 16)
    for allowed in (False, True):
        hub = Hub(airflow_api, guldby_config(allow_identified_extracts=allowed))
        engine = sa.create_engine(hub.db_url)
        golden.write_entities(engine, golden.entities())
        tenant = hub.settings.tenant(golden.TENANT)
        snapshot = compile_snapshot(engine, tenant, as_of, pseudonym_key=TEST_HMAC_KEY.encode())
        engine.dispose()
        folder = airflow_api.var_dir / "extracts" / golden.TENANT / f"{as_of}-identified"
        permissive = tenant.policy.model_copy(update={"allow_identified_extracts": True})
        write_extract(snapshot, folder, policy=permissive, pseudonym_key=b"k" * 16, identified=True)
        path = f"/skolehub/extracts/{golden.TENANT}/{folder.name}/staff_competence.csv"
        admin = hub.get(path, user="admin")
        operator = hub.get(path, user="operator")
        if allowed:
            assert (200, 403) == (admin.status_code, operator.status_code)
            assert b"person_key" in admin.content
        else:
            assert (403, 403) == (admin.status_code, operator.status_code)
            assert "does not allow identified extracts" in admin.json()["detail"]
        listing = hub.get("/skolehub/extracts", user="operator").text
        assert "identified" in listing


def test_views_and_downloads_are_in_the_access_log_that_only_admins_read(airflow_api: Any):
    """Each follow-up view and extract download is a row: who, role, tenant, what, when."""
    as_of = date(2026, 6, 17)
    hub = Hub(airflow_api, guldby_config(allow_identified_extracts=True))
    engine = sa.create_engine(hub.db_url)
    golden.write_entities(engine, golden.entities())
    tenant = hub.settings.tenant(golden.TENANT)
    snapshot = compile_snapshot(engine, tenant, as_of, pseudonym_key=TEST_HMAC_KEY.encode())
    engine.dispose()
    extracts = airflow_api.var_dir / "extracts" / golden.TENANT
    write_extract(
        snapshot, extracts / f"{as_of}-log", policy=tenant.policy, pseudonym_key=b"k" * 16
    )
    write_extract(
        snapshot,
        extracts / f"{as_of}-log-identified",
        policy=tenant.policy,
        pseudonym_key=b"k" * 16,
        identified=True,
    )
    page = f"/skolehub/followup/{golden.TENANT}?as_of={as_of}"
    assert 200 == hub.get(page, user="viewer").status_code
    plain = f"/skolehub/extracts/{golden.TENANT}/{as_of}-log/device_coverage.csv"
    assert 200 == hub.get(plain, user="operator").status_code
    identified = f"/skolehub/extracts/{golden.TENANT}/{as_of}-log-identified/staff_competence.csv"
    assert 403 == hub.get(identified, user="operator").status_code
    got = hub.get(identified, user="admin")
    assert 200 == got.status_code and b"person_key" in got.content

    assert 403 == hub.get("/skolehub/access-log", user="operator").status_code
    assert 403 == hub.get("/skolehub/access-log.csv", user="viewer").status_code
    exported = hub.get(f"/skolehub/access-log.csv?tenant={golden.TENANT}", user="admin")
    assert "text/csv; charset=utf-8" == exported.headers["content-type"]
    rows = list(csv.DictReader(exported.text.splitlines()))
    assert ["at", "user", "roles", "tenant", "action", "what", "identified", "outcome"] == list(
        rows[0]
    )
    newest = [
        {k: r[k] for k in ("user", "roles", "tenant", "action", "what", "identified", "outcome")}
        for r in rows[:4]
    ]
    assert [
        {
            "user": "admin",
            "roles": "admin",
            "tenant": golden.TENANT,
            "action": "download_extract",
            "what": f"extract {as_of}-log-identified/staff_competence.csv",
            "identified": "yes",
            "outcome": "served",
        },
        {
            "user": "operator",
            "roles": "op",
            "tenant": golden.TENANT,
            "action": "download_extract",
            "what": f"extract {as_of}-log-identified/staff_competence.csv",
            "identified": "yes",
            "outcome": "refused",
        },
        {
            "user": "operator",
            "roles": "op",
            "tenant": golden.TENANT,
            "action": "download_extract",
            "what": f"extract {as_of}-log/device_coverage.csv",
            "identified": "no",
            "outcome": "served",
        },
        {
            "user": "viewer",
            "roles": "viewer",
            "tenant": golden.TENANT,
            "action": "view_followup",
            "what": f"followup page as of {as_of}",
            "identified": "no",
            "outcome": "served",
        },
    ] == newest
    assert 4 == len(rows)  # the store is this test's own; reading the log is not logged
    at = datetime.fromisoformat(rows[0]["at"])
    assert abs((datetime.now(UTC) - at.replace(tzinfo=at.tzinfo or UTC)).total_seconds()) < 300
    people = {e.key for e in golden.entities() if isinstance(e, Person)}
    assert not [p for p in people if p in exported.text]

    assert 404 == hub.get("/skolehub/access-log.csv?tenant=nope", user="admin").status_code
    html = hub.get("/skolehub/access-log", user="admin").text
    assert f"extract {as_of}-log-identified/staff_competence.csv" in html


# -- runs and approval ---------------------------------------------------------------------


def people(tenant: str, n: int) -> list[Person]:
    return [
        Person.model_validate(
            {
                "tenant": tenant,
                "source": {"system": "memory", "instance": "mem"},
                "key": f"p{i}@{tenant}.no",
                "eppn": f"p{i}@{tenant}.no",
            }
        )
        for i in range(n)
    ]


def test_approving_a_held_run_records_the_approver_and_the_next_sync_publishes(
    airflow_api: Any, kafka_bootstrap: str
):
    """The run overview shows the held run's numbers; an operator approves; the sync deletes."""
    tenant = "heldby"
    config = {
        "kafka": {"bootstrap": kafka_bootstrap, "topic_prefix": unique_prefix()},
        "tenants": [
            {
                "id": tenant,
                "name": "Heldby",
                "deletion_guard": {"max_deletes": 100, "max_share": 0.3},
                "sources": [configured_source("mem")],
            }
        ],
    }
    hub = Hub(airflow_api, config)
    settings = hub.settings
    ensure_topics(kafka_bootstrap, settings.kafka, MemorySource.entity_types)
    store = StateStore(settings.store_url)
    publisher = Publisher(kafka_bootstrap, settings.kafka)

    def sync() -> Any:
        runner = SyncRunner(settings, store, publisher)
        return runner.sync(tenant, "mem", source=MemorySource(people(tenant, 4), tenant=tenant))

    try:
        runner = SyncRunner(settings, store, publisher)
        first = runner.sync(tenant, "mem", source=MemorySource(people(tenant, 10), tenant=tenant))
        assert "success" == first.status
        held = sync()
        assert ("held", 6) == (held.status, held.planned_deletes)

        overview = hub.get("/skolehub/runs").text
        assert held.run_id in overview and "Approve 6 deletions" not in overview  # a viewer
        as_operator = hub.get("/skolehub/runs", user="operator").text
        assert "Approve 6 deletions" in as_operator
        state = hub.get("/skolehub/api/runs").json()["sources"][0]
        assert (True, 6, 10) == (
            state["held"],
            state["last_run"]["planned_deletes"],
            state["last_run"]["entities_before"],
        )

        assert 403 == hub.post(f"/skolehub/runs/{held.run_id}/approve", user="viewer").status_code
        approved = hub.post(f"/skolehub/runs/{held.run_id}/approve", user="operator")
        assert 200 == approved.status_code, approved.text
        assert ("operator", 6) == (
            approved.json()["approved_by"],
            approved.json()["planned_deletes"],
        )
        again = hub.post(f"/skolehub/runs/{held.run_id}/approve", user="operator")
        assert 409 == again.status_code and "already approved by operator" in again.text
        assert "approved by" in hub.get("/skolehub/runs").text

        topics = [f"{settings.kafka.topic_prefix}.identity.person.v2"]
        before = consume_all(kafka_bootstrap, topics)
        released = sync()
        assert ("success", 6) == (released.status, released.deleted)
        seen = {r.position for r in before}
        after = [r for r in consume_all(kafka_bootstrap, topics) if r.position not in seen]
        deletes = [r for r in after if r.value and json.loads(r.value)["op"] == "d"]
        assert 6 == len(deletes)
        latest = store.runs(tenant)[0]
        assert (released.run_id, "operator") == (latest["run_id"], latest["approved_by"])
    finally:
        publisher.close()
        store.close()


def test_a_cross_site_form_post_is_refused(airflow_api: Any):
    """Cookie-authenticated posts must come from the hub's own pages."""
    hub = Hub(airflow_api, guldby_config())
    token = airflow_api.token("operator")
    response = requests.post(
        airflow_api.url + "/skolehub/runs/whatever/approve",
        cookies={"_token": token},
        headers={"Origin": "https://evil.example"},
        timeout=30,
    )
    assert 403 == response.status_code and "cross-site" in response.text
    assert hub.settings.tenants


# -- health --------------------------------------------------------------------------------


def test_health_reports_a_stopped_broker_as_unhealthy(airflow_api: Any):
    """Nothing listens on the configured bootstrap: 503, broker not ok, the store still ok."""
    hub = Hub(airflow_api, guldby_config(bootstrap="127.0.0.1:9"))
    response = hub.get("/skolehub/api/health")
    report = response.json()
    assert (503, "unhealthy") == (response.status_code, report["status"])
    assert (False, True) == (report["checks"]["broker"]["ok"], report["checks"]["store"]["ok"])
    assert "127.0.0.1:9" == report["checks"]["broker"]["bootstrap"]


def test_health_with_a_running_broker_reports_source_ages(airflow_api: Any, kafka_bootstrap: str):
    """A reachable broker and store: not unhealthy, and a source never synced is stale."""
    config = guldby_config(bootstrap=kafka_bootstrap)
    config["tenants"][0]["sources"] = [configured_source("feide")]
    hub = Hub(airflow_api, config)
    response = hub.get("/skolehub/api/health")
    report = response.json()
    assert (200, "degraded") == (response.status_code, report["status"])
    assert report["checks"]["broker"]["ok"] and report["checks"]["store"]["ok"]
    (source,) = report["sources"]
    assert (golden.TENANT, "feide", None, True) == (
        source["tenant"],
        source["source"],
        source["age_seconds"],
        source["stale"],
    )
