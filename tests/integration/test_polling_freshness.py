"""A polling source's change arrives with the first scheduled run after it: within one interval.

The SS 12000 source without a subscription is polled by the identity DAG's schedule; each
run reads from its `meta.modified` bookmarks less the overlap, so a change made between
two runs, even one the source stamped a little before the newest time the previous run
saw (a late commit), is published by the next run, never one later.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration import test_ss12000_sync
from tests.integration.test_ss12000_sync import SwedishHub

pytestmark = pytest.mark.integration

#: The Swedish hub fixture of the SS 12000 sync tests, polled (no subscription).
hub = test_ss12000_sync.hub


def family_names(hub: SwedishHub, seen: set[tuple[str, int, int]]) -> list[str]:
    """Family names of the person updates published since `seen` was taken."""
    found = []
    for r in hub.records():
        if r.position in seen or r.value is None or ".identity.person." not in r.topic:
            continue
        value: dict[str, Any] = json.loads(r.value)
        if value["op"] == "u":
            found.append(value["after"]["family_name"])
    return found


def test_each_change_is_published_by_the_first_run_after_it(hub: SwedishHub):
    """A change between runs, and one stamped 30 s before the bookmark, both arrive next run."""
    data = hub.sandbox.data
    assert "success" == hub.sync().status
    seen = {r.position for r in hub.records()}
    data.modify("persons", data.id_of("persons", 3), {"familyName": "Mellan-Körning"})

    second = hub.sync()

    assert (False, ["Mellan-Körning"]) == (second.full, family_names(hub, seen))
    seen = {r.position for r in hub.records()}
    bookmark = datetime.fromisoformat(hub.store.bookmarks(hub.tenant, "ss12000")["persons"])
    late = bookmark - timedelta(seconds=30)
    data.modify("persons", data.id_of("persons", 4), {"familyName": "Sen-Stämpel"}, at=late)

    third = hub.sync()

    assert (False, ["Sen-Stämpel"]) == (third.full, family_names(hub, seen))
