"""Follow-up: compile a tenant's materialised entities into dated records, publish and extract them.

- `compile_snapshot` loads a tenant's entities from the reporting store, links people across
  systems, computes every record for an `as_of` day against the tenant's policy and
  stores the dated snapshot (`SnapshotStore`).
- `publish_snapshot` sends the rows to `hub.followup.<record>.v1`.
- `write_extract` writes a folder of CSV/XLSX files with a `manifest.json`;
  `verify_extract` checks one.
- `hub.followup.measures` computes the records: add a measure there
  (docs/adding-a-measure.md).
- `hub.followup.jobs` is what the CLI calls, `hub.followup.tasks` what the DAGs' tasks
  call, and `hub.followup.presentation` formats the headline figures.
"""

from hub.followup.compile import DEFAULT_CONSUMER_GROUP, compile_snapshot
from hub.followup.snapshots import Snapshot, SnapshotStore

__all__ = [
    "DEFAULT_CONSUMER_GROUP",
    "Snapshot",
    "SnapshotStore",
    "compile_snapshot",
]
