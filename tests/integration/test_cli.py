"""The `hub` command end to end: sandbox up, run twice, sync with approval, check."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hub.dev.sandbox.mdm import Fleet, Profile, Table
from hub.dev.sandbox.oneroster import OneRosterTenant
from hub.dev.sandbox.roster import roster
from hub.dev.sandbox.swedish import PersonKind, generate_swedish

pytestmark = pytest.mark.integration

HUB = [sys.executable, "-m", "hub.cli"]


def hub(var: Path, *args: str, bootstrap: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(var),
        "HUB_ENV_FILE": str(var / "sandbox" / "secrets.env"),
        "HUB_KAFKA_BOOTSTRAP": bootstrap,
    }
    env.pop("HUB_HMAC_KEY", None)  # the sandbox's secrets.env provides it, as for a user
    result = subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode not in (0, 3):
        raise AssertionError(f"hub {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_sandbox_then_run_twice_publishes_then_nothing(tmp_path: Path, kafka_bootstrap: str):
    """`hub run` publishes the sandbox on the first run and nothing on the second."""
    var = tmp_path / "var"
    try:
        up = hub(
            var,
            "sandbox",
            "up",
            "--scale",
            "150",
            "--tenants",
            "nordby,sorby",
            "--web-port",
            "0",
            bootstrap=kafka_bootstrap,
        )
        assert "nordby" in up.stdout and (var / "hub.yaml").exists()
        assert 0o600 == (var / "sandbox" / "secrets.env").stat().st_mode & 0o777
        first = hub(var, "run", "--json", bootstrap=kafka_bootstrap)
        summary = json.loads(first.stdout.strip().splitlines()[-1])
        syncs = {(s["tenant"], s["source"]): s for s in summary["syncs"]}
        # The directory, the LMS, the MDMs and the purchase register; the equipment
        # register, the service desk and the licence sources every sandbox tenant has.
        sources = ("feide", "oneroster", "intune", "jamf", "chromebooks", "asm",
                   "topdesk_assets", "topdesk_incidents", "snipeit", "m365", "vpp",
                   "workspace")  # fmt: skip
        expected = {(t, s) for t in ("nordby", "sorby") for s in sources}
        assert expected == set(syncs)
        assert all(s["status"] == "success" and s["created"] > 0 for s in syncs.values())
        assert "Published" in first.stdout
        second = hub(var, "run", "--json", bootstrap=kafka_bootstrap)
        again = json.loads(second.stdout.strip().splitlines()[-1])
        assert [0] * len(expected) == [
            s["created"] + s["updated"] + s["deleted"] for s in again["syncs"]
        ]
        assert "No changes: nothing was published." in second.stdout
        check = hub(var, "check", bootstrap=kafka_bootstrap)
        assert "0 failed" in check.stdout
    finally:
        hub(var, "sandbox", "down", bootstrap=kafka_bootstrap, check=False)


def _rows(folder: Path, record: str) -> list[dict[str, str]]:
    with (folder / f"{record}.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _infosec_completers(data: OneRosterTenant) -> int:
    """LMS users with a fully graded result in an information-security e-learning class."""
    classes = {
        data.sourced_id("classes", i)
        for i in range(data.count("classes"))
        if data.record("classes", data.sourced_id("classes", i))["classCode"].startswith(
            "KOMP-INFOSEC"
        )
    }
    results = [data.record("results", data.sourced_id("results", i)) for i in
               range(data.count("results"))]  # fmt: skip
    return len(
        {
            r["student"]["sourcedId"]
            for r in results
            if r["class"]["sourcedId"] in classes and r["scoreStatus"] == "fully graded"
        }
    )


def test_a_swedish_tenant_gets_device_and_competence_figures_from_its_sandbox(
    tmp_path: Path, kafka_bootstrap: str
):
    """Solberga's follow-up counts its register's people, their devices and their courses.

    The expected figures come from the sandbox generators (the SS 12000 register, the
    MDM fleet and the LMS built from it), not from the hub's output.
    """
    var = tmp_path / "var"
    scale = 300
    try:
        hub(var, "sandbox", "up", "--scale", str(scale), "--tenants", "nordby,solberga",
            "--web-port", "0", bootstrap=kafka_bootstrap)  # fmt: skip
        run = hub(var, "run", "--json", bootstrap=kafka_bootstrap)
    finally:
        hub(var, "sandbox", "down", bootstrap=kafka_bootstrap, check=False)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    sources = {s["source"] for s in summary["syncs"] if s["tenant"] == "solberga"}
    assert {"ss12000", "oneroster", "intune", "jamf", "chromebooks", "asm", "topdesk_assets",
            "topdesk_incidents", "snipeit", "m365", "vpp", "workspace"} == sources  # fmt: skip
    assert [] == [s for s in summary["syncs"] if s["status"] != "success" or not s["created"]]
    followup = {f["tenant"]: f for f in summary["followup"]}
    assert {"success"} == {f["status"] for f in followup.values()}
    assert [] == [f["problems"] for f in followup.values() if not f["audited"]]
    extract = Path(followup["solberga"]["extract"])

    owner = generate_swedish("solberga", scale)
    unit_key = {u.code: owner.uuid("organisations", u.index + 1) for u in owner.units}
    heads: Counter[tuple[str, str]] = Counter()
    for person in owner.people:
        if person.kind is not PersonKind.CHILD:
            population = "pupils" if person.kind is PersonKind.PUPIL else "staff"
            heads[(unit_key[owner.units[person.unit].code], population)] += 1
    for placement in owner.placements:
        heads[(unit_key[owner.units[placement.unit].code], "preschool")] += 1
    fleet = Fleet.build(roster("solberga", scale))
    personal = {Profile.PUPIL_IPAD, Profile.TWIN_IPAD, Profile.PUPIL_CHROMEBOOK,
                Profile.STAFF_LAPTOP, Profile.STAFF_MAC}  # fmt: skip
    holders: dict[tuple[str, str], set[str]] = {}
    shared_ipads: Counter[str] = Counter()
    for table in Table:
        for index in fleet.listing(table):
            facts = fleet.facts(table, index)
            key = unit_key[facts.unit.org_number]
            if facts.profile is Profile.PRESCHOOL_IPAD:
                shared_ipads[key] += 1
            elif facts.profile in personal and facts.in_directory and facts.username:
                population = "staff" if facts.profile.name.startswith("STAFF") else "pupils"
                holders.setdefault((key, population), set()).add(facts.username)

    coverage = _rows(extract, "device_coverage")
    shown = [r for r in coverage if not r["suppressed"]]
    assert heads == Counter({(r["unit_key"], r["population"]): int(r["headcount"]) for r in shown})
    people = [r for r in shown if r["population"] != "preschool"]
    with_device = {(r["unit_key"], r["population"]): int(r["people_with_device"]) for r in people}
    assert [] == [k for k, n in with_device.items() if not 0 < n <= len(holders[k])]
    assert sum(with_device.values()) >= 0.75 * sum(len(holders[k]) for k in with_device)
    preschools = {r["unit_key"]: r for r in shown if r["population"] == "preschool"}
    assert shared_ipads == Counter({k: int(r["shared_devices"]) for k, r in preschools.items()})
    assert all(0 < int(r["devices"]) <= int(r["shared_devices"]) for r in preschools.values())
    assert [math.ceil(u.child_count / fleet.preschool_ratio(u)) for u in fleet.units
            if u.child_count] == [shared_ipads[unit_key[u.org_number]] for u in fleet.units
                                  if u.child_count]  # fmt: skip

    # Person rows are published for the competence cells that are shown, and count them.
    security = [
        r for r in _rows(extract, "staff_competence") if r["area"] == "information_security"
    ]
    cells = [
        r
        for r in _rows(extract, "competence_summary")
        if r["area"] == "information_security" and not r["suppressed"]
    ]
    assert (sum(int(c["staff"]) for c in cells), sum(int(c["completed"]) for c in cells)) == (
        len(security),
        sum(1 for r in security if r["completed"] == "true"),
    )
    completed = _infosec_completers(OneRosterTenant(roster("solberga", scale)))
    staff = owner.count(PersonKind.STAFF)
    assert len(security) <= staff
    measures = followup["solberga"]["measures"]
    assert completed / staff == pytest.approx(
        measures["competence_information_security_within_share"], abs=1e-4
    )
    assert 0 < measures["devices_per_pupil"] and 0 < measures["devices_per_staff"]


def test_bad_config_exits_2_naming_the_field(tmp_path: Path, kafka_bootstrap: str):
    """A hub.yaml with a wrong field makes every command exit 2 with the field's path."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "hub.yaml").write_text("tenants:\n  - id: Bad Id\n    name: x\n")
    result = hub(var, "run", bootstrap=kafka_bootstrap, check=False)
    assert 2 == result.returncode
    assert "tenants.0.id" in result.stderr


def test_unknown_tenant_is_a_clear_error(tmp_path: Path, kafka_bootstrap: str):
    """Syncing a tenant that is not configured names the known ones."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "hub.yaml").write_text("tenants:\n  - id: nordby\n    name: Nordby\n")
    result = hub(var, "sync", "nope", "feide", bootstrap=kafka_bootstrap, check=False)
    assert 2 == result.returncode
    assert "no tenant 'nope'" in result.stderr and "nordby" in result.stderr


def test_a_source_that_raises_leaves_every_other_source_untouched(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys
):
    """A defect in one connector fails its run only; `hub run` syncs the rest and compiles."""
    from connectors.mdm.jamf import JamfPro
    from hub.cli import EXIT_FAILED, main

    var = tmp_path / "var"
    hub(
        var,
        "sandbox",
        "up",
        "--scale",
        "150",
        "--tenants",
        "nordby",
        "--web-port",
        "0",
        bootstrap=kafka_bootstrap,
    )
    try:

        def broken_read(self: JamfPro):  # a mapping defect after the first page
            yield from []
            raise KeyError("general")

        monkeypatch.setattr(JamfPro, "read", broken_read)
        for name, value in {
            "HUB_VAR_DIR": str(var),
            "HUB_ENV_FILE": str(var / "sandbox" / "secrets.env"),
            "HUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("HUB_HMAC_KEY", raising=False)
        monkeypatch.delenv("HUB_CONFIG", raising=False)
        saved = dict(os.environ)
        try:
            code = main(["run", "--json"])
        finally:  # `hub` loads the sandbox secrets into the environment; later tests must not
            os.environ.clear()
            os.environ.update(saved)
        out = capsys.readouterr().out
        summary = json.loads(out.strip().splitlines()[-1])
        statuses = {s["source"]: s["status"] for s in summary["syncs"]}
        assert EXIT_FAILED == code
        assert "failed" == statuses.pop("jamf")
        assert {"feide", "oneroster", "intune", "chromebooks", "asm", "m365", "vpp"} <= set(
            statuses
        )
        assert {"success"} == set(statuses.values())
        (jamf,) = [s for s in summary["syncs"] if s["source"] == "jamf"]
        assert "unexpected KeyError" in jamf["error"]
        assert "nordby/jamf (failed)" in out
        assert ["success"] == [f["status"] for f in summary["followup"]]
    finally:
        hub(var, "sandbox", "down", bootstrap=kafka_bootstrap, check=False)
