"""The simulated school owner: a generated population and the directory that serves it.

- `population`: a deterministic Norwegian municipality (units, groups, people), no I/O.
- `ldif`: the Feide-like directory tree for one or more owners, as streamed LDIF.
- `slapd`: a private OpenLDAP server on a loopback port to load that LDIF into.
- `swedish`, `ss12000`: a Swedish municipality and the SS 12000 API that serves it.
- `roster`: either kind of owner as the LMS (`oneroster`) and MDMs (`mdm`) read it.
"""
