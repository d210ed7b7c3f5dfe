"""Extracts: a folder with one file per record type and a `manifest.json` that proves them.

The same stored snapshot always gives the same bytes: rows are sorted by their cells,
values have one fixed text form (CSV) or cell type (XLSX), and an XLSX file's document
dates and zip entry times are fixed. People are pseudonymised (`person`: 16 hex digits of
a keyed HMAC under `HUB_HMAC_KEY`); an identified extract adds `person_key` and needs the
tenant's `allow_identified_extracts`. Suppressed cells are empty and named in the row's
`suppressed` column; a pseudonymised extract leaves out the person rows of a hidden
competence cell. `hub.followup.audit.audit_extract` checks that no hidden cell can be
worked out from the folder.

The manifest records the tenant, `as_of`, the baseline, the policy's sha256, the
materialiser's consumed offsets, the software version, and each file's sha256, size and
row count; `verify_extract` checks a folder against it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import Enum
from operator import itemgetter
from pathlib import Path
from typing import Any

from hub.followup.privacy import pseudonym
from hub.followup.snapshots import Snapshot
from hub.followup.suppression import public_rows
from hub.policy import Policy
from schemas.followup import FOLLOWUP_RECORD_TYPES, FollowupRecord, personal_fields

MANIFEST = "manifest.json"
FORMAT = "skolehub-followup-extract/1"
FORMATS = ("csv", "xlsx")
#: Fields every row has that an extract leaves to the manifest and folder.
_LEFT_OUT = ("tenant", "source", "key", "source_modified", "as_of")
#: Zip entry time of every XLSX part (the zip format's earliest).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Bytes copied or hashed at a time.
_COPY_CHUNK = 1 << 20


class ExtractError(Exception):
    """An extract cannot be written as asked (the message says why)."""


@dataclass
class Extract:
    """A written extract folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> list[dict[str, Any]]:
        """The manifest's file entries."""
        return list(self.manifest["files"])


@dataclass
class Verification:
    """The outcome of checking an extract folder against its manifest."""

    path: Path
    problems: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        """Every file is there, unchanged, with the rows the manifest says."""
        return not self.problems


def columns(record_type: type[FollowupRecord], identified: bool) -> list[str]:
    """An extract's columns for a record type: a person becomes `person` (+ `person_key`)."""
    personal = personal_fields(record_type)
    names: list[str] = []
    for name in record_type.model_fields:
        if name in _LEFT_OUT:
            continue
        if name in personal:
            names.append("person")
            if identified:
                names.append(name)
            continue
        names.append(name)
    return names


def _values(
    row: FollowupRecord, record_type: type[FollowupRecord], identified: bool, key: bytes
) -> list[Any]:
    personal = personal_fields(record_type)
    values: list[Any] = []
    for name in record_type.model_fields:
        if name in _LEFT_OUT:
            continue
        value = getattr(row, name)
        if name in personal:
            values.append(pseudonym(key, value) if value is not None else None)
            if identified:
                values.append(value)
            continue
        values.append(value)
    return values


def _names_one_of(
    row: FollowupRecord, record_type: type[FollowupRecord], people: frozenset[str]
) -> bool:
    """Whether a person-level row is about one of `people`."""
    return bool(people) and any(
        getattr(row, name) in people for name in personal_fields(record_type)
    )


def _text(value: Any) -> str:
    """A value's one text form in CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return repr(round(value, 4))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return ";".join(_text(v) for v in value)
    return str(value)


def _cell(value: Any) -> Any:
    """A value as an XLSX cell: numbers and booleans as such, everything else as text."""
    if value is None or (isinstance(value, (bool, int, float)) and not isinstance(value, Enum)):
        return value
    return _text(value)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a CSV file of rows already in their text form."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_xlsx(
    path: Path, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], as_of: date
) -> None:
    """Write a one-sheet XLSX file, its rows streamed to disk (openpyxl's write-only mode).

    Its document dates are `as_of` and its zip entries carry one fixed time, so the same
    rows give the same bytes.
    """
    from openpyxl import Workbook  # imported late: only XLSX extracts need it
    from openpyxl.packaging.core import DocumentProperties
    from openpyxl.xml.functions import tostring

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([_cell(v) for v in row])
    stamp = datetime.combine(as_of, time(0, 0))  # naive: the format's dates are UTC
    properties = DocumentProperties(creator="skolehub", created=stamp, modified=stamp)
    properties.lastModifiedBy = "skolehub"
    workbook.properties = properties
    saved = path.with_name(f".{path.name}.saving")
    try:
        workbook.save(saved)  # sets `modified` to now: the part is rewritten below
        properties.modified = stamp
        core = tostring(properties.to_tree())
        with (
            zipfile.ZipFile(saved) as source,
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for info in source.infolist():
                entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o600 << 16
                if info.filename == "docProps/core.xml":
                    target.writestr(entry, core)
                    continue
                with source.open(info) as part, target.open(entry, "w") as copy:
                    shutil.copyfileobj(part, copy, _COPY_CHUNK)
    finally:
        saved.unlink(missing_ok=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_extract(
    snapshot: Snapshot,
    out: Path,
    *,
    policy: Policy,
    pseudonym_key: bytes,
    formats: Sequence[str] = ("csv",),
    identified: bool = False,
    withhold: bool = True,
    protected: frozenset[str] = frozenset(),
) -> Extract:
    """Write the snapshot's records into `out` (created; earlier extract files replaced).

    A pseudonymised extract leaves out the person rows of hidden competence cells
    (`hub.followup.suppression.public_rows`); `withhold=False` keeps them, as extracts did
    before, for the audit's tests. An identified extract leaves out the rows of the
    `protected` people (their person keys): they count in the aggregates only.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ExtractError(
            f"unknown extract format {', '.join(unknown) or '(none)'}: use {', '.join(FORMATS)}"
        )
    if identified and not policy.allow_identified_extracts:
        raise ExtractError(
            f"tenant {snapshot.tenant} does not allow identified extracts: set "
            "policy.allow_identified_extracts: true in hub.yaml, or leave out --identified"
        )
    out.mkdir(parents=True, exist_ok=True)
    for stale in [
        out / MANIFEST,
        *(out / f"{t.entity}.{f}" for t in FOLLOWUP_RECORD_TYPES for f in FORMATS),
    ]:
        stale.unlink(missing_ok=True)
    files: list[dict[str, Any]] = []
    for record_type in FOLLOWUP_RECORD_TYPES:
        name = record_type.entity
        header = columns(record_type, identified)
        source = (
            public_rows(snapshot.rows, name) if withhold and not identified else snapshot.rows(name)
        )
        # One record type's cells at a time (read from the store as they go), in the order
        # of their text: by pseudonym, never by the person keys behind them.
        rows = sorted(
            (
                ([_text(v) for v in values], values)
                for values in (
                    _values(r, record_type, identified, pseudonym_key)
                    for r in source
                    if not (identified and _names_one_of(r, record_type, protected))
                )
            ),
            key=itemgetter(0),
        )
        for fmt in dict.fromkeys(formats):
            path = out / f"{name}.{fmt}"
            if fmt == "csv":
                _write_csv(path, header, (texts for texts, _ in rows))
            else:
                _write_xlsx(path, name, header, (values for _, values in rows), snapshot.as_of)
            files.append(
                {
                    "name": path.name,
                    "record": name,
                    "format": fmt,
                    "rows": len(rows),
                    "bytes": path.stat().st_size,
                    "sha256": _file_sha256(path),
                }
            )
        del rows
    manifest = {
        "format": FORMAT,
        "tenant": snapshot.tenant,
        "as_of": snapshot.as_of.isoformat(),
        "baseline_as_of": (snapshot.baseline_as_of or snapshot.as_of).isoformat(),
        "policy_sha256": snapshot.policy_sha256,
        "software_version": snapshot.software_version,
        "consumer_group": snapshot.consumer_group,
        "offsets": dict(sorted(snapshot.offsets.items())),
        "identified": identified,
        "pseudonyms": "hmac-sha256(HUB_HMAC_KEY, 'pseudonym:' + person key)[:16]",
        "min_cell_size": policy.min_cell_size,
        "files": sorted(files, key=lambda f: f["name"]),
    }
    (out / MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return Extract(out, manifest)


def _rows_in(path: Path, fmt: str) -> int:
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return sum(1 for _ in csv.reader(handle)) - 1
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        sheet = workbook.worksheets[0]
        return sum(1 for _ in sheet.iter_rows(values_only=True)) - 1
    finally:
        workbook.close()


def verify_extract(path: Path) -> Verification:
    """Check each file against the manifest: present, same sha256, size and rows; no others."""
    result = Verification(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        result.problems.append(f"{manifest_path} is missing")
        return result
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = manifest["files"]
        if manifest.get("format") != FORMAT:
            result.problems.append(f"unknown manifest format {manifest.get('format')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        result.problems.append(f"{manifest_path} is not a valid manifest: {exc}")
        return result
    listed = set()
    for entry in entries:
        name = entry["name"]
        listed.add(name)
        file = path / name
        if not file.is_file():
            result.problems.append(f"{name}: missing")
            continue
        if _file_sha256(file) != entry["sha256"]:
            result.problems.append(f"{name}: sha256 differs from the manifest")
            continue
        size = file.stat().st_size
        if size != entry["bytes"]:
            result.problems.append(f"{name}: {size} bytes, the manifest says {entry['bytes']}")
        rows = _rows_in(file, entry["format"])
        if rows != entry["rows"]:
            result.problems.append(f"{name}: {rows} rows, the manifest says {entry['rows']}")
        result.files += 1
    for other in sorted(p.name for p in path.iterdir() if p.name != MANIFEST):
        if other not in listed:
            result.problems.append(f"{other}: not in the manifest")
    return result


def default_extract_dir(base: Path, tenant: str, as_of: date) -> Path:
    """Where an extract goes unless told: `<base>/<tenant>/<as_of>`."""
    return base / tenant / as_of.isoformat()


__all__ = [
    "FORMATS",
    "MANIFEST",
    "Extract",
    "ExtractError",
    "Verification",
    "columns",
    "default_extract_dir",
    "verify_extract",
    "write_extract",
]
