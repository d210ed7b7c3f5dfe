"""Export the JSON Schemas of every change event to `schemas/json/`, or check they are current.

python -m schemas.export          # write the files
python -m schemas.export --check  # exit 1 and name the stale files
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from schemas.entities import ENTITY_TYPES
from schemas.envelope import ChangeEvent, CloudEventHeaders, schema_id
from schemas.equipment import EQUIPMENT_ENTITY_TYPES
from schemas.followup import FOLLOWUP_RECORD_TYPES
from schemas.licences import LICENCE_ENTITY_TYPES
from schemas.lms import LMS_ENTITY_TYPES
from schemas.mdm import MDM_ENTITY_TYPES
from schemas.ss12000 import SS12000_ENTITY_TYPES

JSON_DIR = Path(__file__).parent / "json"


def rendered_schemas() -> Iterator[tuple[str, str]]:
    """Yield (file name, JSON text) for every schema the hub publishes."""
    for entity_type in (
        *ENTITY_TYPES,
        *SS12000_ENTITY_TYPES,
        *LMS_ENTITY_TYPES,
        *MDM_ENTITY_TYPES,
        *EQUIPMENT_ENTITY_TYPES,
        *LICENCE_ENTITY_TYPES,
        *FOLLOWUP_RECORD_TYPES,
    ):
        schema = ChangeEvent[entity_type].model_json_schema()  # type: ignore[valid-type]
        schema = {"$id": schema_id(entity_type), **schema}
        yield f"{entity_type.versioned_suffix()}.json", _dump(schema)
    yield "cloudevent-headers.json", _dump(CloudEventHeaders.model_json_schema())


def _dump(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of the schema files that are missing, different, or no longer produced."""
    expected = dict(rendered_schemas())
    stale = [
        name
        for name, text in expected.items()
        if not (directory / name).exists() or (directory / name).read_text("utf-8") != text
    ]
    stale += sorted(p.name for p in directory.glob("*.json") if p.name not in expected)
    return stale


def write(directory: Path = JSON_DIR) -> list[str]:
    """Write every schema file and remove those no longer produced; return what changed."""
    changed = stale_files(directory)
    directory.mkdir(parents=True, exist_ok=True)
    expected = dict(rendered_schemas())
    for name, text in expected.items():
        (directory / name).write_text(text, encoding="utf-8")
    for path in directory.glob("*.json"):
        if path.name not in expected:
            path.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("stale JSON Schemas (run `python -m schemas.export`): " + ", ".join(stale))
            return 1
        print(f"JSON Schemas are current ({len(dict(rendered_schemas()))} files)")
        return 0
    changed = write()
    print(f"wrote {JSON_DIR} ({len(changed)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
