"""The follow-up measures: add a measure here.

Each module computes records (the models in `schemas/followup.py`) from the tenant's
materialised entities (`hub.followup._state`), the linked directory
(`hub.followup._identity`) and the tenant's policy, for one `as_of` day:

- `devices`: device coverage per unit and population, and the tenant's device totals;
- `learning`: staff competence, pupils' digital skills and course participation;
- `development`: staff competence at the baseline and each measurement the policy names;
- `summary`: equity across units, the tenant-wide headline measures and their trend,
  and the identities no rule could link.

`hub.followup.compile.compile_snapshot` calls them in turn. docs/adding-a-measure.md walks
through adding one, from the code here to the record schema, the test and the docs.
Helpers they share live in the private modules beside this package (`_common`, `_state`,
`_identity`).
"""
