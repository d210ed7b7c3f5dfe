"""Apple Apps and Books for Organizations (volume purchasing), as licence pools and assignments.

The App and Book Management API v2 (`https://vpp.itunes.apple.com/mdm/v2`), authenticated
by the location's content token (`sToken`, downloaded from Apple School Manager) as a
bearer token:

- `GET /assets?pageIndex=N`: the apps and books the location holds licences of
  (`adamId`, `pricingParam`, `productType`, `totalCount`, `assignedCount`,
  `availableCount`, `retiredCount`), one `LicencePool` each, keyed `<adamId>|<pricingParam>`
  (a standard and a high-quality edition of one book are two pools).
- `GET /assignments?pageIndex=N`: one `LicenceAssignment` per licence assigned to a
  device (`serialNumber`) or a user (`clientUserId`, the id the device-management
  service gave the user), keyed `<adamId>|<pricingParam>|<serial or user id>`.

Pages are numbered from 0: each response says `currentPageIndex` and `totalPages`, and the
read ends on the last page (a page index that does not move is a loop). Apple answers
throttling with 429 or 503 and `Retry-After`, and an expired or revoked token with 401
(`errorNumber` 9622, 9625): the token cannot be refreshed, so the sync fails with
`AuthError` until a new token is configured. Apple gives no prices and no names (a name
needs the App Store lookup): `product_name` is empty.

Assignments are read incrementally, by Apple's versions: every response carries the
library's `versionId`, and the one on the first page of a read (Apple: the version can move
while the pages are walked) is kept whole as the opaque bookmark `versionId`. An incremental
run asks `GET /assignments?sinceVersionId=<bookmark>` and publishes what Apple lists as
changed since; it deletes nothing, since Apple's answer lists current assignments only and
marks none as removed. Revoked licences go at the runner's periodic full read
(`full_sync_every`), which reconciles. Assets take no `sinceVersionId` and are read in full
on every run (a handful of pages). A stored version Apple refuses (400 on the first page of
the changes, asked for before anything is read) is dropped with a note, and the run
reads in full and reconciles, as a full run does (docs/licences.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.errors import FatalError
from connectors.http import (
    BearerToken,
    HttpPage,
    HttpPaginator,
    HttpSource,
    HttpSourceSettings,
    HttpStream,
)
from connectors.mdm._device import maybe_physical_key, text
from connectors.registry import ConnectionForm, ConnectorSpec, Pool, with_secret
from schemas.entities import Key, compose_key
from schemas.licences import LicenceAssignment, LicenceCount, LicencePool, ProductKind
from schemas.mdm import AssignedUserId, UserIdKind

log = structlog.get_logger(__name__)

ASSETS = "/assets"
ASSIGNMENTS = "/assignments"
KINDS: Mapping[str, ProductKind] = {"App": ProductKind.APP, "Book": ProductKind.BOOK}
#: The bookmark holding the assignments' `versionId` of the last read, kept whole.
VERSION_BOOKMARK = "versionId"


class PageIndexPaginator(HttpPaginator):
    """Apple's `pageIndex` (from 0), ending on the page whose index is `totalPages - 1`."""

    def request(
        self, url: str, params: Mapping[str, Any], page_size: int, token: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The first page, or the page numbered by `token`."""
        query = dict(params)
        if token is not None:
            query["pageIndex"] = int(token)
        return url, query

    def next(self, page: HttpPage) -> str | None:
        """The next page index, or None on the last page."""
        body = page.body if isinstance(page.body, dict) else {}
        current, pages = body.get("currentPageIndex"), body.get("totalPages")
        if not isinstance(current, int) or not isinstance(pages, int):
            return None
        return str(current + 1) if current + 1 < pages else None


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Asset(_Raw):
    adamId: Key
    pricingParam: Key = "STDQ"
    productType: str | None = None
    totalCount: LicenceCount
    assignedCount: LicenceCount
    availableCount: LicenceCount
    retiredCount: LicenceCount = 0


class _Assignment(_Raw):
    adamId: Key
    pricingParam: Key = "STDQ"
    serialNumber: str | None = None
    clientUserId: str | None = None

    @model_validator(mode="after")
    def _held_by_someone(self) -> _Assignment:
        if not (text(self.serialNumber) or text(self.clientUserId)):
            raise ValueError("serialNumber and clientUserId: neither is given")
        return self


def _pool_key(adam_id: str, pricing: str) -> str:
    return compose_key(adam_id, pricing)


class _VppStream(HttpStream[Any, Any]):
    source: AppleVpp
    paginator: ClassVar[HttpPaginator] = PageIndexPaginator()

    def record_key(self, record: Any) -> str | None:
        """A rejected record is named by its pool (`<adamId>|<pricingParam>`)."""
        if not isinstance(record, dict) or not isinstance(record.get("adamId"), str):
            return None
        try:
            return _pool_key(record["adamId"], str(record.get("pricingParam") or "STDQ"))
        except ValueError:
            return None

    def record_ref(self, record: Any, index: int) -> str:
        """The record's pool, or the stream and position."""
        return self.record_key(record) or f"{self.name}#{index}"


class _Assets(_VppStream):
    name = "assets"
    path = ASSETS
    records_key = "assets"
    raw_model = _Asset
    entity_type = LicencePool

    def to_entity(self, raw: _Asset) -> LicencePool:
        return LicencePool(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=_pool_key(raw.adamId, raw.pricingParam),
            product_id=raw.adamId,
            vendor="apple",
            kind=KINDS.get(raw.productType or "", ProductKind.OTHER),
            total=raw.totalCount,
            assigned=raw.assignedCount,
            available=raw.availableCount,
            location=self.source.settings.location,
        )


class _Assignments(_VppStream):
    """Every assignment (a full run), or those changed since the stored version."""

    name = "assignments"
    path = ASSIGNMENTS
    records_key = "assignments"
    raw_model = _Assignment
    entity_type = LicenceAssignment

    def __init__(self, source: AppleVpp) -> None:
        super().__init__(source)
        stored = None if source.full_snapshot else source.bookmarks.get(VERSION_BOOKMARK)
        #: The version an incremental read asks the changes since; None: read everything.
        self.since = stored or None
        #: Pages answered so far, and the `versionId` of the first.
        self.pages_read = 0
        self.version: Any = None

    def params(self) -> dict[str, Any]:
        """`sinceVersionId` on every page of an incremental read (it names one answer)."""
        params = super().params()
        if self.since is not None:
            params["sinceVersionId"] = self.since
        return params

    def records_in(self, body: Any) -> Any:
        """The page's assignments; the first page also gives the version to resume from."""
        if self.pages_read == 0 and isinstance(body, dict):
            self.version = body.get("versionId")
        self.pages_read += 1
        return super().records_in(body)

    def finished(self) -> None:
        """Keep the first page's version once every page was read."""
        if self.version is None and self.since is not None:
            return  # no version with the changes: the stored one still holds
        try:
            self.source.set_opaque_bookmark(VERSION_BOOKMARK, self.version)
        except ValueError:
            log.warning("version_unusable", reason="no versionId on the first page: not saved")

    def record_key(self, record: Any) -> str | None:
        """The assignment's own key (pool and holder), when it can be told."""
        pool = super().record_key(record)
        holder = record.get("serialNumber") or record.get("clientUserId") if pool else None
        if pool is None or not isinstance(holder, str):
            return pool
        try:
            return compose_key(pool, holder)
        except ValueError:
            return pool

    def to_entity(self, raw: _Assignment) -> LicenceAssignment:
        serial, user = text(raw.serialNumber), text(raw.clientUserId)
        pool = _pool_key(raw.adamId, raw.pricingParam)
        return LicenceAssignment(
            tenant=self.source.tenant,
            source=self.source.ref,
            key=compose_key(pool, serial or user or ""),
            pool_key=pool,
            device_serial=serial,
            device_physical_key=maybe_physical_key("Apple", serial) if serial else None,
            assigned_users=(
                (AssignedUserId(kind=UserIdKind.DIRECTORY_ID, value=user),)
                if user and not serial
                else ()
            ),
        )


class AppleVppSettings(HttpSourceSettings):
    """Apple's Apps and Books for Organizations: one location's content token (`sToken`).

    `auth` is `bearer` with the sToken behind `secret`; the token expires after a year and
    is renewed in Apple School Manager. `location` names the location in the follow-up.
    """

    type: Literal["apple_vpp"]
    base_url: Annotated[str, Field(pattern=r"^https?://.+/mdm/v2/?$")] = (
        "https://vpp.itunes.apple.com/mdm/v2"
    )
    auth: BearerToken
    location: str | None = None


class AppleVpp(HttpSource):
    """Apps and books bought through Apple's volume purchasing, and their assignments."""

    name: ClassVar[str] = "licences.apple_vpp"
    system: ClassVar[str] = "apple_vpp"
    entity_types = (LicencePool, LicenceAssignment)
    streams = (_Assets, _Assignments)
    supports_incremental = True
    #: Pages are numbered (an offset): a licence revoked during a full read can shift a
    #: live one off its page, so an unseen key is deleted only once consecutive reads miss it.
    offset_paged = frozenset({LicencePool.entity, LicenceAssignment.entity})
    settings: AppleVppSettings

    def prepare(self) -> None:
        """Before an incremental read: check that Apple still answers the stored version.

        Apple answers a `sinceVersionId` it cannot use with 400. The first page of the
        changes is asked for first; on a 400 the version is dropped and the run turns full
        before anything is read (the runner then reconciles, as after any full read).
        """
        probe = _Assignments(self)
        if probe.since is None:
            return
        try:
            self.fetch_page(probe, None, self.settings.page_size)
        except FatalError as exc:
            if exc.status != 400:
                raise
            log.warning("version_refused", status=400, read="full")
            self.note(
                "Apple refused the stored versionId (HTTP 400): this run reads the assignments "
                "in full and reconciles"
            )
            self.bookmarks.pop(VERSION_BOOKMARK, None)
            self.full_snapshot = True


CONNECTOR = ConnectorSpec(
    settings=AppleVppSettings,
    connector=AppleVpp,
    domain="licences",
    pool=Pool("hub_licences_apple_vpp", 2, "Apple Apps and Books syncs"),
    title="Apple Apps and Books (volume purchasing)",
    build=with_secret(AppleVpp),
    doc="docs/licences.md",
    connection=ConnectionForm(
        login_field=None, form_fields=("auth.kind",), defaults=(("auth.kind", "bearer"),)
    ),
)
