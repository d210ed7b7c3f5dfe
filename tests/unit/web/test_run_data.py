"""The run overview's data: each source's open approval and when it expires."""

from datetime import timedelta

from hub.settings import parse_settings
from hub.store import StateStore, deletion_approvals, now
from hub.web.data import source_runs
from tests.unit.hub.test_sync import people, run


def _settings(ttl_hours: float):
    return parse_settings(
        {
            "tenants": [
                {
                    "id": "t",
                    "name": "T",
                    "approval_ttl_hours": ttl_hours,
                    "sources": [
                        {
                            "type": "feide_ldap",
                            "id": "mem",
                            "uri": "ldap://127.0.0.1:1",
                            "base_dn": "dc=t",
                            "bind_dn": "cn=hub,dc=t",
                            "secret": {"env": "X"},
                        },
                    ],
                }
            ],
        }
    )


def test_an_open_approval_is_shown_with_its_expiry_and_a_lapsed_one_is_not(tmp_path):
    """The overview shows an approval until approved_at plus the tenant's approval_ttl_hours."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = StateStore(url)
    run(store, people(10))
    held, _ = run(store, people(4))
    approval = store.approve_held_run(held.run_id, "operator")
    (entry,) = source_runs(_settings(48), store)
    assert (held.run_id, approval.approved_at + timedelta(hours=48)) == (
        entry.open_approval["run_id"],
        entry.open_approval["expires_at"],
    )
    with store.engine.begin() as conn:
        conn.execute(deletion_approvals.update().values(approved_at=now() - timedelta(hours=49)))
    (entry,) = source_runs(_settings(48), store)
    assert entry.open_approval is None
    store.close()
