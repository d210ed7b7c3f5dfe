"""No national identity number, in any format or field, reaches any output (issue 13).

hypothesis generates numbers of every Nordic format (NO fødselsnummer with D-, H- and
synthetic numbers; SE personnummer and samordningsnummer, 10 and 12 digits, `-` and `+`;
DK CPR; FI henkilötunnus), written plain, hyphenated or with a space after the date, and
plants one in every placement of a sandbox record: an identifier of a type nobody listed,
a user name, an e-mail, a given or family name, the record's own id, and a JSON number.
The records go through the real pipeline: the connector over HTTP, the sync runner onto
Kafka (the dead-letter topic included), the materialiser into SQLite and PostgreSQL, the
compiler and an extract. None of the numbers may be found in any of them, nor in the logs.

The seed is fixed (`derandomize=True`, no example database) and each connector gets
`EXAMPLES` generated batches, one full pipeline each, so the run takes seconds, not minutes.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from connectors.identity.ss12000 import SS12000
from connectors.lms.oneroster import OneRoster
from connectors.privacy import _FI_CHECK, _NIN_WEIGHTS_1, _NIN_WEIGHTS_2, _mod11, national_id
from hub.followup import compile_snapshot
from hub.followup.extract import write_extract
from hub.materialise import Materialiser, report_entities, report_history
from schemas import ENTITY_TYPES
from schemas.entities import Entity
from tests.support import SandboxHub

pytestmark = pytest.mark.integration

#: Generated batches (full pipeline runs) per connector.
EXAMPLES = 2
_EPOCH = date(1905, 1, 1)


# -- numbers -----------------------------------------------------------------------------

birth_dates = st.integers(0, (date(2022, 12, 31) - _EPOCH).days).map(
    lambda n: _EPOCH + timedelta(days=n)
)


@st.composite
def norwegian(draw: st.DrawFn) -> str:
    """A fødselsnummer, D-number (day + 40), H-number or synthetic number (month + 40 / 80)."""
    born = draw(birth_dates)
    day_shift, month_shift = draw(st.sampled_from([(0, 0), (40, 0), (0, 40), (0, 80)]))
    head = f"{born.day + day_shift:02d}{born.month + month_shift:02d}{born.year % 100:02d}"
    individual = draw(st.integers(0, 999))
    body = f"{head}{individual:03d}"
    first = _mod11(body, _NIN_WEIGHTS_1)
    second = None if first is None else _mod11(body + str(first), _NIN_WEIGHTS_2)
    if first is None or second is None:
        body = f"{head}{(individual + 1) % 1000:03d}"  # about one in six has no check digit
        first = _mod11(body, _NIN_WEIGHTS_1)
        second = None if first is None else _mod11(body + str(first), _NIN_WEIGHTS_2)
    number = body + str(first) + str(second)
    return draw(st.sampled_from([number, f"{number[:6]} {number[6:]}"])) if second else number


def _luhn_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (1 if position % 2 else 2)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


@st.composite
def swedish(draw: st.DrawFn) -> str:
    """A personnummer or samordningsnummer (day + 60), 10 or 12 digits, `-`, `+` or a space."""
    born = draw(birth_dates)
    day = born.day + draw(st.sampled_from([0, 60]))
    short = f"{born.year % 100:02d}{born.month:02d}{day:02d}"
    serial = f"{draw(st.integers(0, 999)):03d}"
    tail = serial + str(_luhn_digit(short + serial))
    forms = [f"{born.year}{short[2:]}{tail}", f"{born.year}{short[2:]}-{tail}", f"{short} {tail}"]
    forms.append(f"{short}+{tail}" if born.year < 1926 else f"{short}-{tail}")
    return draw(st.sampled_from(forms))


@st.composite
def danish(draw: st.DrawFn) -> str:
    """A CPR number (a valid date is all it needs), with or without its hyphen or a space."""
    born = draw(birth_dates)
    head = f"{born.day:02d}{born.month:02d}{born.year % 100:02d}"
    serial = f"{draw(st.integers(0, 9999)):04d}"
    return draw(st.sampled_from([f"{head}-{serial}", head + serial, f"{head} {serial}"]))


@st.composite
def finnish(draw: st.DrawFn) -> str:
    """A henkilötunnus with the century sign of its year and its check character."""
    born = draw(birth_dates)
    sign = "-" if born.year < 2000 else draw(st.sampled_from("ABCDEF"))
    if born.year >= 1900 and born.year < 2000:
        sign = draw(st.sampled_from("-YXWVU"))
    head = f"{born.day:02d}{born.month:02d}{born.year % 100:02d}"
    serial = f"{draw(st.integers(2, 899)):03d}"
    return f"{head}{sign}{serial}{_FI_CHECK[int(head + serial) % 31]}"


FORMATS: dict[str, st.SearchStrategy[str]] = {
    "NO": norwegian(),
    "SE": swedish(),
    "DK": danish(),
    "FI": finnish(),
}


def traces(number: str) -> set[str]:
    """What would give a number away: as written, its digits, and its canonical form."""
    found = national_id(number)
    assert found is not None, "the generator made a number the detector does not know"
    digits = "".join(c for c in number if c.isdigit())
    marks = {number, found.number}
    if found.country != "FI":
        marks |= {digits, digits[-10:]}  # a 12-digit personnummer without its century
    return marks


# -- placements --------------------------------------------------------------------------

Plant = Callable[[dict[str, Any], str], dict[str, Any]]

ONEROSTER_PLACES: dict[str, Plant] = {
    "userIds_unknown_type": lambda r, n: {
        "userIds": [*r.get("userIds", []), {"type": "LocalId", "identifier": n}]
    },
    "userIds_number": lambda r, n: {"userIds": [{"type": "studentNumber", "identifier": int(n)}]},
    "username": lambda r, n: {"username": n},
    "email": lambda r, n: {"email": f"{n.replace(' ', '')}@skole.example"},
    "givenName": lambda r, n: {"givenName": f"{r['givenName']} {n}"},
    "familyName": lambda r, n: {"familyName": f"{n} {r['familyName']}"},
    "sourcedId": lambda r, n: {"sourcedId": n},
}
SS12000_PLACES: dict[str, Plant] = {
    "externalIdentifiers": lambda r, n: {
        "externalIdentifiers": [{"value": n, "context": "elevnummer", "globallyUnique": False}]
    },
    "eduPersonPrincipalNames": lambda r, n: {"eduPersonPrincipalNames": [f"{n}@skola.example"]},
    "emails": lambda r, n: {"emails": [{"value": f"{n}@skola.example", "type": "Privat"}]},
    "givenName": lambda r, n: {"givenName": f"{r['givenName']} {n}"},
    "familyName": lambda r, n: {"familyName": f"{r['familyName']} {n}"},
    "civicNo_number": lambda r, n: {"civicNo": {"value": int(n)}},
}


@st.composite
def plantings(draw: st.DrawFn, places: dict[str, Plant]) -> list[tuple[str, str, str]]:
    """One (place, country, number) for every place and country: every format everywhere."""
    found = []
    for place in sorted(places):
        for country, numbers in FORMATS.items():
            number = draw(numbers)
            if place.endswith("_number"):
                number = "".join(c for c in number if c.isdigit()) if country != "FI" else number
                if not number.isdigit():
                    continue  # a henkilötunnus is no JSON number
            found.append((place, country, number))
    return found


# -- the pipeline ------------------------------------------------------------------------


def run_everything(hub: SandboxHub, tmp_path: Path, postgres_url: str) -> list[str]:
    """Sync, materialise into SQLite and PostgreSQL, compile and extract; every text made."""
    texts: list[str] = []
    with capture_logs() as logs:
        report = hub.sync()
        assert "success" == report.status
        engines = [sa.create_engine(hub.db_url), sa.create_engine(postgres_url)]
        tenant = hub.settings.tenants[0]
        for n, engine in enumerate(engines):
            prefix = hub.settings.kafka.topic_prefix
            Materialiser(engine, hub.bootstrap, prefix, group=f"privacy-{n}").run()
            with engine.connect() as conn:
                for table in (report_entities, report_history):  # the latest rows and history
                    rows = conn.execute(sa.select(table.c.key, table.c.payload))
                    texts += [f"{key} {payload}" for key, payload in rows]
            snapshot = compile_snapshot(engine, tenant, date.today(), pseudonym_key=b"k" * 32)
            folder = tmp_path / f"extract-{n}"
            write_extract(
                snapshot,
                folder,
                policy=tenant.policy,
                pseudonym_key=b"k" * 32,
                formats=("csv", "xlsx"),
            )
            texts += [_file_text(path) for path in sorted(folder.iterdir())]
            engine.dispose()
    texts += [json.dumps(entry, default=str, ensure_ascii=False) for entry in logs]
    for record in hub.records():
        texts += [record.key, (record.value or b"").decode()]
        texts += [v.decode(errors="replace") for v in record.headers.values()]
    return texts


def _file_text(path: Path) -> str:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            return "".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return path.read_text(encoding="utf-8", errors="replace")


def leaked(texts: list[str], planted: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(place, country) of every planted number one of the texts still holds."""
    blob = "\n".join(texts)
    return [(place, country) for place, country, n in planted if traces(n) & _found(blob, n)]


def _found(blob: str, number: str) -> set[str]:
    return {mark for mark in traces(number) if mark in blob}


_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # no shrinking: each example is a whole pipeline run
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def databases(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Makes fresh PostgreSQL databases (one a pipeline run); all dropped afterwards."""
    base = sa.engine.make_url(postgres_url)
    admin = sa.create_engine(base.set(database="postgres"))
    names: list[str] = []

    def fresh() -> str:
        names.append(f"t_{uuid.uuid4().hex[:12]}")
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'create database "{names[-1]}"'))
        return base.set(database=names[-1]).render_as_string(hide_password=False)

    yield fresh
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in names:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def _plant_user(data: Any, index: int, plant: Plant, number: str) -> None:
    user = data.sourced_id("users", index)
    data.modify("users", user, plant(data.record("users", user), number))


def _plant_person(data: Any, index: int, plant: Plant, number: str) -> None:
    data.modify(
        "persons", data.id_of("persons", index), plant(data.record("persons", index), number)
    )


@dataclass(frozen=True)
class Target:
    """A connector's sandbox, where numbers are planted in it, and its hub's settings."""

    sandbox: str  # the fixture that starts it
    places: dict[str, Plant]
    plant: Callable[[Any, int, Plant, str], None]
    entity_types: tuple[type[Entity], ...]
    source_id: str
    country: str


TARGETS = {
    "oneroster": Target(
        "lms_sandbox_factory",
        ONEROSTER_PLACES,
        _plant_user,
        (*OneRoster.entity_types, *ENTITY_TYPES),
        "oneroster",
        "NO",
    ),
    "ss12000": Target(
        "ss12000_sandbox_factory",
        SS12000_PLACES,
        _plant_person,
        (*SS12000.entity_types, *ENTITY_TYPES),
        "ss12000",
        "SE",
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_identity_number_in_any_format_or_field_reaches_any_output(
    name: str,
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
    databases: Callable[[], str],
):
    """Every format in every person field: absent from Kafka, DLQ, logs, both stores, extracts."""
    target = TARGETS[name]
    start = request.getfixturevalue(target.sandbox)

    def pipeline(planted: list[tuple[str, str, str]]) -> list[str]:
        sandbox = start(scale=60)
        for index, (place, _country, number) in enumerate(planted):
            target.plant(sandbox.data, index, target.places[place], number)
        tmp_path = tmp_path_factory.mktemp(name)
        hub = SandboxHub(
            sandbox.tenant,
            kafka_bootstrap,
            tmp_path,
            entity_types=target.entity_types,
            sources=lambda **source: [sandbox.source_entry(page_size=100, **source)],
            source_id=target.source_id,
            country=target.country,
        )
        try:
            return run_everything(hub, tmp_path, databases())
        finally:
            hub.close()

    @_SETTINGS
    @given(plantings(target.places))
    def check(planted: list[tuple[str, str, str]]) -> None:
        assert [] == leaked(pipeline(planted), planted)

    check()
