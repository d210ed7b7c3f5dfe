"""Jamf Pro's volume-purchasing locations and their content, as `LicencePool`.

A school owner that buys apps and books through Apple School Manager and lets Jamf Pro
manage them reads the licence counts from Jamf rather than from Apple:

- `GET /api/v1/volume-purchasing-locations?page=N&page-size=S&sort=id:asc`: the
  locations (one per content token), paged until `totalCount`. They are read before the
  content (`prepare`), so each location's content is one stream.
- `GET /api/v1/volume-purchasing-locations/{id}/content?page=N&page-size=S&sort=name:asc`:
  the location's apps and books (`adamId`, `pricingParam`, `name`, `contentType`,
  `licenseCountTotal`, `licenseCountInUse`), one `LicencePool` each, keyed
  `<location id>|<adamId>|<pricingParam>`, its `location` the location's name.

Jamf keeps no per-person assignments in this API (its scoping is by device and user
groups), so this source gives pools only; `available` is what the licences in use
leave. Authentication (an API client or a user's token, renewed, invalidated at the end)
and paging are the Jamf Pro connector's (`connectors.mdm.jamf`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from connectors.errors import FatalError
from connectors.http import HttpStream
from connectors.mdm._device import text
from connectors.mdm.jamf import API, JamfApiSettings, JamfApiSource, JamfPagePaginator
from connectors.registry import ConnectorSpec, Pool, with_secret
from schemas.entities import Key, compose_key
from schemas.licences import LicenceCount, LicencePool, ProductKind

LOCATIONS = "/v1/volume-purchasing-locations"
CONTENT = "/v1/volume-purchasing-locations/{id}/content"
KINDS = {
    "IOS_APP": ProductKind.APP,
    "MAC_APP": ProductKind.APP,
    "IOS_AND_MAC_APP": ProductKind.APP,
    "BOOK": ProductKind.BOOK,
    "EBOOK": ProductKind.BOOK,
}


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Location(_Raw):
    id: Key
    name: str | None = None
    locationName: str | None = None


class _Content(_Raw):
    adamId: Key
    pricingParam: Key = "STDQ"
    name: str | None = None
    contentType: str | None = None
    licenseCountTotal: LicenceCount
    licenseCountInUse: LicenceCount


class _Locations(HttpStream[_Location, LicencePool]):
    """Not published: the locations whose content is read."""

    name = "volume-purchasing-locations"
    path = API + LOCATIONS
    records_key = "results"
    paginator = JamfPagePaginator()
    raw_model = _Location
    entity_type = LicencePool
    dead_letter_entity = "volume_purchasing_location"
    query: ClassVar[dict[str, Any]] = {"sort": "id:asc"}


class _LocationContent(HttpStream[_Content, LicencePool]):
    """One location's apps and books; `location` is set per location."""

    records_key = "results"
    paginator = JamfPagePaginator()
    raw_model = _Content
    entity_type = LicencePool
    query: ClassVar[dict[str, Any]] = {"sort": "name:asc"}
    location: ClassVar[_Location]
    source: JamfVolumePurchasing

    def record_key(self, record: Any) -> str | None:
        """A rejected record is named by its pool key, when its adamId can be read."""
        adam = record.get("adamId") if isinstance(record, dict) else None
        if not isinstance(adam, str | int) or isinstance(adam, bool):
            return None
        try:
            pricing = str(record.get("pricingParam") or "STDQ")
            return compose_key(self.location.id, str(adam), pricing)
        except ValueError:
            return None

    def record_ref(self, record: Any, index: int) -> str:
        """The pool key, or the stream and position."""
        return self.record_key(record) or f"{self.name}#{index}"

    def to_entity(self, raw: _Content) -> LicencePool:
        total, used = raw.licenseCountTotal, raw.licenseCountInUse
        return LicencePool(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=compose_key(self.location.id, raw.adamId, raw.pricingParam),
            product_id=raw.adamId,
            product_name=text(raw.name),
            vendor="apple",
            kind=KINDS.get(raw.contentType or "", ProductKind.OTHER),
            total=total,
            assigned=used,
            available=max(total - used, 0),
            location=text(self.location.name) or text(self.location.locationName),
        )


class JamfVolumePurchasingSettings(JamfApiSettings):
    """Jamf Pro's volume-purchasing locations and content (`auth` as for Jamf Pro devices).

    The API client needs the privilege "Read Volume Purchasing Locations".
    """

    type: Literal["jamf_volume_purchasing"]


class JamfVolumePurchasing(JamfApiSource):
    """Apps and books of Jamf Pro's volume-purchasing locations, as `LicencePool`."""

    name: ClassVar[str] = "licences.jamf_volume_purchasing"
    system: ClassVar[str] = "jamf_volume_purchasing"
    entity_types = (LicencePool,)
    streams = (_Locations,)
    #: Content is read by page number (an offset): an unseen pool is deleted only once
    #: consecutive reads miss it.
    offset_paged = frozenset({LicencePool.entity})
    settings: JamfVolumePurchasingSettings

    def prepare(self) -> None:
        """Read the locations, whose content the read then takes one stream each.

        A location record without a usable id is fatal: its content could not be read,
        and its pools would look deleted.
        """
        self.locations: list[_Location] = []
        stream = _Locations(self)
        for page in self.pages(stream):
            for record in page.records:
                try:
                    self.locations.append(_Location.model_validate(record))
                except ValueError:
                    raise FatalError(
                        "a volume-purchasing location has no usable id",
                        connector=self.name,
                        path=stream.path,
                    ) from None

    def streams_to_read(self) -> tuple[type[HttpStream[Any, Any]], ...]:
        """One content stream per location read by `prepare`."""
        return tuple(
            type(
                "_LocationContent",
                (_LocationContent,),
                {
                    "name": f"content:{location.id}",
                    "path": API + CONTENT.format(id=location.id),
                    "location": location,
                },
            )
            for location in getattr(self, "locations", ())
        )


CONNECTOR = ConnectorSpec(
    settings=JamfVolumePurchasingSettings,
    connector=JamfVolumePurchasing,
    domain="licences",
    pool=Pool("hub_licences_jamf_volume_purchasing", 2, "Jamf Pro volume-purchasing syncs"),
    title="Jamf Pro volume purchasing",
    build=with_secret(JamfVolumePurchasing),
    doc="docs/licences.md",
)
