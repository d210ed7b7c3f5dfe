"""One sandbox tenant's licences: the products it bought, and who or which iPad holds each.

`LicenceBook.build(fleet)` derives everything from the tenant's device `Fleet` (and so
from the same generated people as its directory, LMS and MDMs), by hashing, so it is
the same on every run:

- **Microsoft 365** (Graph `subscribedSkus` and users' `assignedLicenses`): every staff
  member holds Office 365 A1 for faculty, pupils from grade 5 Office 365 A1 for students,
  school leaders, administrators and IT pedagogues Microsoft 365 A3 for faculty (of 40
  bought: some lie unused), and teachers in one school in three Minecraft Education.
  About 3 % of the assigned users have left: their accounts are still in Entra ID with
  their licences, but not in the directory.
- **Apple Apps and Books** (`/mdm/v2/assets` and `/assignments`): apps bought per iPad
  and assigned to the pupils' and preschools' iPads by serial number (Book Creator,
  ScratchJr, Keynote; Book Creator is bought short, so some iPads lack it; twelve more
  apps of the catalogue on a quarter of the iPads each), a book in two editions, and a
  few licences assigned to users (`clientUserId`).

Holders who left are the fleet's ghosts: a device assigned to a username not in the
directory carries its licences with it.
"""

from __future__ import annotations

import threading
import uuid
import weakref
import zlib
from dataclasses import dataclass, field

from hub.dev.sandbox.mdm._common import user_guid
from hub.dev.sandbox.mdm.fleet import Fleet, Profile, Table
from hub.dev.sandbox.population import Role

__all__ = [
    "AppleAsset",
    "HoldsLicences",
    "GoogleLicence",
    "LicenceBook",
    "MicrosoftSku",
    "MicrosoftUser",
    "VppAssignment",
    "licence_book",
]

_STAFF_LEADERS = (Role.PRINCIPAL, Role.PRESCHOOL_HEAD, Role.ADMINISTRATION, Role.IT_PEDAGOGUE)


def _hash(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


@dataclass(frozen=True)
class MicrosoftSku:
    """A subscribed SKU: what Graph's `subscribedSku` says of it."""

    sku_id: str
    part_number: str
    enabled: int
    consumed: int
    applies_to: str = "User"


@dataclass(frozen=True)
class MicrosoftUser:
    """An Entra ID user with licences (a leaver's account keeps them)."""

    object_id: str
    upn: str
    sku_ids: tuple[str, ...]
    in_directory: bool


@dataclass(frozen=True)
class AppleAsset:
    """An app or book of the volume-purchasing location."""

    adam_id: str
    pricing: str
    product_type: str
    total: int
    assigned: int
    retired: int = 0

    @property
    def available(self) -> int:
        """Licences left to assign."""
        return max(self.total - self.assigned, 0)


@dataclass(frozen=True)
class VppAssignment:
    """A licence of an asset assigned to a device serial or an MDM user id."""

    adam_id: str
    pricing: str
    serial: str | None = None
    client_user_id: str | None = None


#: (skuId, skuPartNumber): Office 365 A1 faculty/students, Microsoft 365 A3 faculty,
#: Minecraft Education.
FACULTY_A1 = ("94763226-9b3c-4e75-a931-5c89701abe66", "STANDARDWOFFPACK_FACULTY")
STUDENT_A1 = ("314c4481-f395-4525-be8b-2ec4bb1e9d91", "STANDARDWOFFPACK_STUDENT")
FACULTY_A3 = ("4b590615-0888-425a-a965-b3bf7789848d", "M365EDU_A3_FACULTY")
MINECRAFT = ("984df360-9a74-4647-8cf8-696749f6247a", "MEE_FACULTY")
#: (adamId, product type) of the apps and the book bought through Apple.
BOOK_CREATOR = "661166101"
SCRATCHJR = "895485086"
KEYNOTE = "361285480"
BOOK = "1058120411"
#: More apps of the catalogue, each on some of the iPads: (adamId, name).
CATALOGUE = (
    ("408709785", "GarageBand"), ("377298193", "iMovie"), ("1212699939", "Clips"),
    ("908519492", "Swift Playgrounds"), ("361309726", "Pages"), ("361304891", "Numbers"),
    ("1117321658", "Explain Everything Whiteboard"), ("518376300", "Seesaw"),
    ("1378467217", "Khan Academy Kids"), ("1131203560", "Kahoot!"),
    ("1196472006", "Tinybop Explorer's Library"), ("1044867788", "Minecraft Education"),
)  # fmt: skip


@dataclass(frozen=True)
class GoogleLicence:
    """A Google Workspace licence assignment: a product, a SKU and the user's address."""

    product_id: str
    sku_id: str
    sku_name: str
    product_name: str
    user_id: str


#: (productId, skuId, skuName, productName) of the Google Workspace licences.
EDUCATION_PLUS = (
    "101031",
    "1010310008",
    "Google Workspace for Education Plus",
    "Google Workspace for Education",
)
TEACHING_UPGRADE = ("101037", "1010370001", "Google Workspace for Education: Teaching and "
                    "Learning Upgrade", "Google Workspace for Education")  # fmt: skip


@dataclass
class LicenceBook:
    """One tenant's Microsoft 365 and Apple volume-purchasing licences."""

    tenant: str
    skus: list[MicrosoftSku] = field(default_factory=list)
    users: list[MicrosoftUser] = field(default_factory=list)
    assets: list[AppleAsset] = field(default_factory=list)
    assignments: list[VppAssignment] = field(default_factory=list)
    google: list[GoogleLicence] = field(default_factory=list)

    @classmethod
    def build(cls, fleet: Fleet) -> LicenceBook:
        """The licences of the fleet's tenant."""
        book = cls(fleet.tenant)
        book._microsoft(fleet)
        book._apple(fleet)
        book._google(fleet)
        return book

    def _google(self, fleet: Fleet) -> None:
        """Education Plus for pupils from grade 5, the Teaching Upgrade for teachers.

        About 3 % of the addresses are of people who have left.
        """
        tenant = self.tenant
        for person in fleet.owner.people(include_children=False):
            if person.role is Role.PUPIL and (person.grade or 0) >= 5:
                product, sku, sku_name, product_name = EDUCATION_PLUS
            elif person.role in (Role.TEACHER, Role.IT_PEDAGOGUE):
                product, sku, sku_name, product_name = TEACHING_UPGRADE
            else:
                continue
            username = person.username
            if _hash(tenant, person.seq, "google-left") % 100 < 3:
                username = fleet.ghost_username(username, person.seq)
            self.google.append(
                GoogleLicence(product, sku, sku_name, product_name, fleet.workspace_mail(username))
            )

    def _microsoft(self, fleet: Fleet) -> None:
        tenant = self.tenant
        held: dict[str, list[str]] = {}
        unit_names = {u.org_number: n for n, u in enumerate(fleet.units)}
        minecraft_units = {n for n in unit_names.values() if _hash(tenant, n, "mee") % 3 == 0}
        for person in fleet.owner.people(include_children=False):
            skus: list[str] = []
            if person.role is Role.PUPIL:
                if (person.grade or 0) >= 5:
                    skus.append(STUDENT_A1[0])
            else:
                skus.append(FACULTY_A1[0])
                if person.role in _STAFF_LEADERS:
                    skus.append(FACULTY_A3[0])
                unit = unit_names.get(person.unit_org_numbers[0] if person.unit_org_numbers else "")
                if person.role is Role.TEACHER and unit in minecraft_units:
                    skus.append(MINECRAFT[0])
            if not skus:
                continue
            username = person.username
            in_directory = _hash(tenant, person.seq, "left") % 100 >= 3
            if not in_directory:
                username = fleet.ghost_username(username, person.seq)
            held[username] = skus
            self.users.append(
                MicrosoftUser(
                    user_guid(tenant, username), fleet.mail(username), tuple(skus), in_directory
                )
            )
        counts = {sku: 0 for sku, _ in (FACULTY_A1, STUDENT_A1, FACULTY_A3, MINECRAFT)}
        for skus in held.values():
            for sku in skus:
                counts[sku] += 1
        bought = {
            FACULTY_A1[0]: counts[FACULTY_A1[0]] + 25,
            STUDENT_A1[0]: counts[STUDENT_A1[0]] + 100,
            FACULTY_A3[0]: max(40, counts[FACULTY_A3[0]]),
            MINECRAFT[0]: max(30, counts[MINECRAFT[0]]),
        }
        for sku, part in (FACULTY_A1, STUDENT_A1, FACULTY_A3, MINECRAFT):
            self.skus.append(MicrosoftSku(sku, part, bought[sku], counts[sku]))

    def _apple(self, fleet: Fleet) -> None:
        tenant = self.tenant
        ipads = [
            fleet.facts(Table.JAMF_MOBILE, i)
            for i in fleet.listing(Table.JAMF_MOBILE)
            if fleet.facts(Table.JAMF_MOBILE, i).profile
            in (Profile.PUPIL_IPAD, Profile.PRESCHOOL_IPAD)
        ]
        short = int(len(ipads) * 0.85)
        plan = (
            (BOOK_CREATOR, "App", ipads[:short], short),
            (SCRATCHJR, "App", ipads, len(ipads) + 20),
            (KEYNOTE, "App", [d for d in ipads if d.profile is Profile.PUPIL_IPAD], len(ipads)),
        )
        extra = tuple(
            (adam_id, "App", ipads[n % 4 :: 4], len(ipads[n % 4 :: 4]) + 5)
            for n, (adam_id, _name) in enumerate(CATALOGUE)
        )
        for adam_id, kind, holders, total in (*plan, *extra):
            for device in holders:
                self.assignments.append(VppAssignment(adam_id, "STDQ", serial=device.serial))
            self.assets.append(AppleAsset(adam_id, "STDQ", kind, total, len(holders)))
        readers = [
            p.username
            for p in fleet.owner.people(include_children=False)
            if p.role is Role.TEACHER and _hash(tenant, p.seq, "book") % 4 == 0
        ]
        for pricing, share in (("STDQ", 2), ("PLUS", 1)):
            chosen = [u for n, u in enumerate(readers) if n % 3 < share]
            for username in chosen:
                self.assignments.append(
                    VppAssignment(BOOK, pricing, client_user_id=vpp_user_id(tenant, username))
                )
            self.assets.append(
                AppleAsset(BOOK, pricing, "Book", len(chosen) + 5, len(chosen), retired=1)
            )


_BOOKS: weakref.WeakKeyDictionary[Fleet, LicenceBook] = weakref.WeakKeyDictionary()
_BOOKS_LOCK = threading.Lock()


def licence_book(fleet: Fleet) -> LicenceBook:
    """The fleet's licences, built once and shared by every app that serves them."""
    with _BOOKS_LOCK:
        book = _BOOKS.get(fleet)
        if book is None:
            book = _BOOKS[fleet] = LicenceBook.build(fleet)
        return book


class HoldsLicences:
    """A sandbox app serving the licences of its tenants' fleets (`books`, per tenant)."""

    fleets: dict[str, Fleet]

    @property
    def books(self) -> dict[str, LicenceBook]:
        """Each tenant's `LicenceBook`."""
        return {tenant: licence_book(fleet) for tenant, fleet in self.fleets.items()}


def vpp_user_id(tenant: str, username: str) -> str:
    """The `clientUserId` the device-management service registered a user under."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vpp:{tenant}:{username}"))
