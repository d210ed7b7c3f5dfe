"""Equipment records shaped as Snipe-IT's own transformer and TOPdesk's asset API publish them.

Held to (see SOURCES.md): Snipe-IT's `AssetsTransformer::transformAsset` (every key of a
`/api/v1/hardware` row) and TOPdesk's Asset Management API v1.88.0 asset object.
"""

from __future__ import annotations

from connectors.equipment import snipeit, topdesk_assets
from tests.conformance.support import vendor_json

SNIPEIT = vendor_json("snipeit", "hardware.json")
TOPDESK = vendor_json("topdesk", "assets.json")


def test_every_snipeit_field_read_is_published() -> None:
    """Each field of the raw Snipe-IT row model is a key of the published row."""
    published = set(SNIPEIT["fields"])
    read = {f.alias or name for name, f in snipeit._Hardware.model_fields.items()}
    assert set() == read - published


def test_every_snipeit_text_read_is_decoded() -> None:
    """The texts Snipe-IT escapes with `e()` are the ones the connector decodes."""
    escaped = set(SNIPEIT["escaped_with_e"])
    assert {"name", "asset_tag", "serial", "model.name", "category.name", "location.name"} <= (
        escaped
    )


def test_every_topdesk_asset_field_read_is_published() -> None:
    """Each fixed field of the raw TOPdesk asset model is a field of the published asset."""
    published = set(TOPDESK["asset"])
    read = {f.alias or name for name, f in topdesk_assets._Asset.model_fields.items()}
    assert set() == read - published
    assert set(topdesk_assets.BASE_FIELDS) <= published
