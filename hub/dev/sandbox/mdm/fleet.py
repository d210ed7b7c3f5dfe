"""One sandbox tenant's devices across its three MDMs, derived from the generated people.

`Fleet.build(owner)` takes any `hub.dev.sandbox.roster.Roster`: a Norwegian `SchoolOwner`, or
a Swedish owner's SS 12000 register (`swedish_roster`), whose F-class pupils get iPads
like grades 1-4 and whose gymnasium pupils Chromebooks like grades 5-9. It walks
`owner.people()` once and keeps, per MDM table, one compact row per device (owner, unit,
profile, twin) in `array`s; everything else about a device
(serial, model, OS, dates, compliance) is derived from a hash of (tenant, table, index)
when a vendor app renders it, so a 100,000-person tenant holds a few megabytes.

What it looks like (the follow-up's questions have answers in it):

- Pupils (about 94 % of them, from the first grade up) have a device: grades 1-4 an
  iPad in Jamf, grades 5-10 a Chromebook in Google. About 96 % of staff have a Windows
  laptop in Intune, or a MacBook in Jamf (IT pedagogues, one teacher in ten); one in
  eight staff has a personal phone enrolled in Intune (BYOD).
- Preschools have shared iPads in Jamf, one per 5, 5, 6, 7 or 8 children (chosen per
  preschool), so some meet the 1:5 target and some do not. Schools have a few shared
  lab desktops (Intune) and loaner Chromebooks (Google).
- About 25 % of devices were enrolled more than 36 months ago; 5 % have not checked in
  for two months or more; 8 % run an OS too old for digital national tests (Windows 10,
  iPadOS 15-16, macOS 12, Chromebooks past their auto-update expiration); about 7 %
  are noncompliant; 2 % are assigned to a username that is not in the directory.
- About 4 % of the pupils' iPads are enrolled in Intune too (same serial, same user).
- Users are named `<username>@<realm>` (Intune's UPN, Jamf's e-mail) except in Google,
  whose accounts live in the owner's `workspace_domain` (for Swedish owners
  `skola.<realm>`, so matching them needs the policy's domain rewrite). Category, org
  unit and room names are in the owner's language (`Elev`/`Ansatt` or `Elev`/`Personal`).

Changes for tests and demos: `reassign`, `retire` (the device disappears from its MDM)
and per-device raw-field overlays (`modify`), each bumping the table's version.
"""

from __future__ import annotations

import math
import threading
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

from hub.dev.sandbox._oauth import IssuesTokens, TokenStore
from hub.dev.sandbox.population import Role, SchoolLevel, Unit
from hub.dev.sandbox.roster import Roster

if TYPE_CHECKING:
    from hub.dev.sandbox.mdm.credentials import MdmCredentials

__all__ = ["DeviceFacts", "Fleet", "Profile", "Table", "Words"]


class Table(StrEnum):
    """The device tables of the three MDMs."""

    INTUNE = "intune"
    JAMF_COMPUTERS = "jamf_computers"
    JAMF_MOBILE = "jamf_mobile"
    GOOGLE = "google"


class Profile(IntEnum):
    """Why a device exists: whose it is and what it is."""

    PUPIL_IPAD = 1
    PRESCHOOL_IPAD = 2
    PUPIL_CHROMEBOOK = 3
    LOANER_CHROMEBOOK = 4
    STAFF_LAPTOP = 5
    LAB_DESKTOP = 6
    STAFF_MAC = 7
    STAFF_PHONE = 8
    #: A pupil's iPad enrolled in Intune as well as in Jamf.
    TWIN_IPAD = 9


#: Children per shared iPad, chosen per preschool.
PRESCHOOL_RATIOS = (5, 5, 6, 7, 8)
LEASING_DAYS = 36 * 30 + 15
#: The letter of a table in asset tags (`LADS-P00012`).
_TAG_LETTERS = {
    Table.INTUNE: "W",
    Table.JAMF_COMPUTERS: "M",
    Table.JAMF_MOBILE: "P",
    Table.GOOGLE: "C",
}
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

#: (manufacturer, model, serial prefix, serial length) per profile; `old` when outdated.
_HARDWARE: dict[Profile, tuple[tuple[str, str, str, int], ...]] = {
    Profile.PUPIL_IPAD: (
        ("Apple", "iPad (9th generation)", "", 10),
        ("Apple", "iPad (10th generation)", "", 10),
    ),
    Profile.PRESCHOOL_IPAD: (("Apple", "iPad (9th generation)", "", 10),),
    Profile.PUPIL_CHROMEBOOK: (
        ("HP", "HP Chromebook x360 11 G4 EE", "5CD", 7),
        ("Acer", "Acer Chromebook Spin 511", "NX", 10),
        ("Dell", "Dell Chromebook 3100", "", 7),
    ),
    Profile.LOANER_CHROMEBOOK: (("Acer", "Acer Chromebook Spin 511", "NX", 10),),
    Profile.STAFF_LAPTOP: (
        ("LENOVO", "ThinkPad L13 Gen 4", "PF", 6),
        ("Dell Inc.", "Latitude 3440", "", 7),
        ("HP", "HP ProBook 440 G10", "5CG", 7),
    ),
    Profile.LAB_DESKTOP: (("Dell Inc.", "OptiPlex 7010", "", 7),),
    Profile.STAFF_MAC: (
        ("Apple", "MacBook Air (M2, 2022)", "", 10),
        ("Apple", "MacBook Air (M1, 2020)", "", 10),
    ),
    Profile.STAFF_PHONE: (("Apple", "iPhone 13", "", 10), ("Samsung", "SM-A546B", "R5C", 8)),
    Profile.TWIN_IPAD: (("Apple", "iPad (9th generation)", "", 10),),
}
_OLD_HARDWARE: dict[Profile, tuple[str, str, str, int]] = {
    Profile.PUPIL_IPAD: ("Apple", "iPad (6th generation)", "", 12),
    Profile.PRESCHOOL_IPAD: ("Apple", "iPad (6th generation)", "", 12),
    Profile.PUPIL_CHROMEBOOK: ("Lenovo", "Lenovo 300e Chromebook 2nd Gen", "PF", 6),
    Profile.LOANER_CHROMEBOOK: ("Lenovo", "Lenovo 300e Chromebook 2nd Gen", "PF", 6),
    Profile.STAFF_MAC: ("Apple", "MacBook Air (Retina, 13-inch, 2018)", "", 12),
}
#: Auto-update expiration of the Chromebook models.
CHROMEBOOK_AUE: dict[str, date] = {
    "HP Chromebook x360 11 G4 EE": date(2031, 6, 1),
    "Acer Chromebook Spin 511": date(2030, 6, 1),
    "Dell Chromebook 3100": date(2027, 6, 1),
    "Lenovo 300e Chromebook 2nd Gen": date(2024, 6, 1),
}
#: (OS, current versions, versions too old for digital national tests).
_OS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "ipad": ("iPadOS", ("17.7.2", "18.1.1"), ("15.8.3", "16.7.10")),
    "iphone": ("iOS", ("17.7.2", "18.1.1"), ("15.8.3",)),
    "android": ("Android", ("14", "15"), ("11",)),
    "windows": ("Windows", ("10.0.22631.4460", "10.0.26100.2314"), ("10.0.19045.5131",)),
    "mac": ("macOS", ("14.7.1", "15.1.1"), ("12.7.6",)),
    "chromeos": ("ChromeOS", ("131.0.6778.99", "130.0.6723.126"), ("114.0.5735.350",)),
}


@dataclass(frozen=True, slots=True)
class Words:
    """What the vendor apps call things, in the owner's language."""

    #: Intune device categories (after the unit acronym): pupils', staff's, shared.
    pupil: str
    staff: str
    shared: str
    #: Google org units under a school: the pupils' Chromebooks and the loaners.
    pupils_unit: str
    loans_unit: str
    room: str
    #: A Jamf building's street (`{place}`: the unit's first word), country, first postcode.
    street: str
    country: str
    postcode: int


WORDS = {
    "NO": Words("Elev", "Ansatt", "Felles", "Elever", "Utlån", "Rom", "{place}veien",
                "Norway", 7000),
    "SE": Words("Elev", "Personal", "Gemensam", "Elever", "Lån", "Rum", "Skolvägen",
                "Sweden", 17000),
    "DK": Words("Elev", "Personale", "Fælles", "Elever", "Udlån", "Lokale", "Skolevej",
                "Denmark", 4000),
}  # fmt: skip


def _hash(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """Everything about one device, vendor-neutral; the vendor apps render it."""

    table: Table
    index: int
    profile: Profile
    serial: str
    manufacturer: str
    model: str
    os_name: str
    os_version: str
    #: The OS is too old for digital national tests.
    os_outdated: bool
    enrolled: datetime
    last_check_in: datetime
    #: `compliant`, `noncompliant`, `inGracePeriod` or `unknown`.
    compliance: str
    #: `managed`, `retiring`, `disabled` or `deprovisioned`.
    state: str
    #: The assigned user's username (None for shared devices).
    username: str | None
    #: False when `username` is not a person of the directory.
    in_directory: bool
    unit: Unit
    personal: bool
    asset_tag: str
    support_ends: date | None

    @property
    def shared(self) -> bool:
        """No assigned user."""
        return self.username is None


class _Columns:
    """One table's rows as compact columns."""

    def __init__(self) -> None:
        self.owner = array("i")
        self.unit = array("h")
        self.profile = array("b")
        self.twin = array("i")

    def add(self, owner: int, unit: int, profile: Profile, twin: int = -1) -> int:
        self.owner.append(owner)
        self.unit.append(unit)
        self.profile.append(int(profile))
        self.twin.append(twin)
        return len(self.owner) - 1

    def __len__(self) -> int:
        return len(self.owner)


class Fleet:
    """One tenant's devices in Intune, Jamf and Google, as of `reference` (a UTC day)."""

    def __init__(self, owner: Roster, reference: date | None = None) -> None:
        self.owner = owner
        self.tenant = owner.tenant
        self.realm = owner.realm
        self.words = WORDS[owner.country]
        self.units: tuple[Unit, ...] = owner.units
        self.reference = reference or datetime.now(UTC).date()
        #: The moment the fleet is "as of": 06:00 UTC on the reference day.
        self.now = datetime.combine(self.reference, time(6, 0), UTC)
        self.tag = f"{zlib.crc32(owner.tenant.encode()):08x}"
        self.usernames: list[str] = []
        self.tables: dict[Table, _Columns] = {table: _Columns() for table in Table}
        self._ghost_base = 0
        #: Overlays: a new user (None: unassigned), vanished devices, raw-field changes.
        self.assignments: dict[tuple[Table, int], str | None] = {}
        self.retired: dict[Table, set[int]] = {table: set() for table in Table}
        self.changes: dict[tuple[Table, int], dict[str, Any]] = {}
        self.versions: dict[Table, int] = dict.fromkeys(Table, 0)
        self._listings: dict[Table, tuple[int, Sequence[int]]] = {}
        self._directory: set[str] | None = None
        self._lock = threading.RLock()
        self._build()

    @classmethod
    def build(cls, owner: Roster, reference: date | None = None) -> Fleet:
        """The fleet of a generated school owner (Norwegian or Swedish)."""
        return cls(owner, reference)

    # -- building --------------------------------------------------------------------------

    def _build(self) -> None:
        tenant = self.tenant
        unit_of = {u.org_number: n for n, u in enumerate(self.units)}
        intune, computers = self.tables[Table.INTUNE], self.tables[Table.JAMF_COMPUTERS]
        mobile, google = self.tables[Table.JAMF_MOBILE], self.tables[Table.GOOGLE]
        top_seq = 0
        for person in self.owner.people(include_children=False):
            top_seq = max(top_seq, person.seq)
            unit = unit_of[person.primary_unit]
            roll = _hash(tenant, person.seq, "device") % 100
            if person.role is Role.PUPIL:
                if roll >= 94:
                    continue
                user = self._user(person.username)
                if (person.grade or 0) <= 4:
                    row = mobile.add(user, unit, Profile.PUPIL_IPAD)
                    if _hash(tenant, person.seq, "twin") % 100 < 4:
                        intune.add(user, unit, Profile.TWIN_IPAD, twin=row)
                else:
                    google.add(user, unit, Profile.PUPIL_CHROMEBOOK)
                continue
            if roll >= 96:
                continue
            user = self._user(person.username)
            mac = person.role is Role.IT_PEDAGOGUE or (
                person.role is Role.TEACHER and _hash(tenant, person.seq, "mac") % 10 == 0
            )
            if mac:
                computers.add(user, unit, Profile.STAFF_MAC)
            else:
                intune.add(user, unit, Profile.STAFF_LAPTOP)
            if _hash(tenant, person.seq, "phone") % 8 == 0:
                intune.add(user, unit, Profile.STAFF_PHONE)
        self._ghost_base = top_seq + 1000
        for n, unit_ in enumerate(self.units):
            if unit_.level is SchoolLevel.PRESCHOOL:
                for _ in range(math.ceil(unit_.child_count / self.preschool_ratio(unit_))):
                    mobile.add(-1, n, Profile.PRESCHOOL_IPAD)
            else:
                for _ in range(max(1, unit_.pupil_count // 40)):
                    intune.add(-1, n, Profile.LAB_DESKTOP)
                for _ in range(max(1, unit_.pupil_count // 60)):
                    google.add(-1, n, Profile.LOANER_CHROMEBOOK)

    def _user(self, username: str) -> int:
        self.usernames.append(username)
        return len(self.usernames) - 1

    def preschool_ratio(self, unit: Unit) -> int:
        """Children per shared iPad at a preschool."""
        return PRESCHOOL_RATIOS[
            _hash(self.tenant, unit.org_number, "ratio") % len(PRESCHOOL_RATIOS)
        ]

    # -- reading ---------------------------------------------------------------------------

    def count(self, table: Table) -> int:
        """Devices in a table, retired ones left out."""
        return len(self.tables[table]) - len(self.retired[table])

    def listing(self, table: Table) -> Sequence[int]:
        """The indexes a listing of the table returns, in order."""
        if not self.retired[table]:
            return range(len(self.tables[table]))
        with self._lock:
            version = self.versions[table]
            cached = self._listings.get(table)
            if cached is None or cached[0] != version:
                gone = self.retired[table]
                cached = (version, [i for i in range(len(self.tables[table])) if i not in gone])
                self._listings[table] = cached
            return cached[1]

    def facts(self, table: Table, index: int) -> DeviceFacts:
        """One device, derived from its row, its hash and the overlays."""
        columns = self.tables[table]
        if not 0 <= index < len(columns):
            raise KeyError(index)
        profile = Profile(columns.profile[index])
        twin = columns.twin[index]
        # A twin is the same physical iPad: its hardware comes from the Jamf row.
        seed_table, seed_index = (Table.JAMF_MOBILE, twin) if twin >= 0 else (table, index)

        def roll(attr: str, modulo: int = 1000) -> int:
            return _hash(self.tenant, seed_table, seed_index, attr) % modulo

        outdated = roll("os") < 80
        kind = Profile(self.tables[seed_table].profile[seed_index])
        choices = _HARDWARE[kind]
        hardware = (
            _OLD_HARDWARE[kind]
            if outdated and kind in _OLD_HARDWARE
            else choices[roll("model", len(choices))]
        )
        manufacturer, model, prefix, length = hardware
        os_key = _os_key(model)
        os_name, current, old = _OS[os_key]
        versions = old if outdated else current
        age = 1096 + roll("old", 700) if roll("age") < 250 else roll("young", 1080)
        enrolled = self.now - timedelta(days=age, seconds=roll("at", 86_400))
        silence = roll("silence")
        if silence < 50:
            ago = timedelta(days=60 + roll("silent", 340))
        elif silence < 80:
            ago = timedelta(days=8 + roll("quiet", 50))
        else:
            ago = timedelta(seconds=roll("recent", 3 * 86_400))
        last = max(self.now - ago, enrolled + timedelta(hours=1))
        state_roll = roll("state")
        state = (
            "retiring"
            if state_roll < 10
            else "disabled"
            if state_roll < 18 and table is Table.GOOGLE
            else "deprovisioned"
            if state_roll < 23 and table is Table.GOOGLE
            else "managed"
        )
        compliance_roll = roll("compliance")
        compliance = (
            "noncompliant"
            if compliance_roll < 70
            else "inGracePeriod"
            if compliance_roll < 85
            else "unknown"
            if compliance_roll < 100
            else "compliant"
        )
        owner = columns.owner[index]
        username = self.usernames[owner] if owner >= 0 else None
        in_directory = True
        if username is not None and roll("ghost") < 20:
            username, in_directory = self.ghost_username(username, seed_index), False
        if (table, index) in self.assignments:
            username = self.assignments[(table, index)]
            in_directory = username is None or username in self._known_usernames()
        serial_table = seed_table if twin >= 0 else table
        unit = self.units[columns.unit[index]]
        return DeviceFacts(
            table=table,
            index=index,
            profile=profile,
            serial=self.serial(serial_table, seed_index, prefix, length),
            manufacturer=manufacturer,
            model=model,
            os_name=os_name,
            os_version=versions[roll("version", len(versions))],
            os_outdated=outdated
            or (os_key == "chromeos" and CHROMEBOOK_AUE[model] < self.reference),
            enrolled=enrolled,
            last_check_in=last,
            compliance=compliance,
            state=state,
            username=username,
            in_directory=in_directory,
            unit=unit,
            personal=profile is Profile.STAFF_PHONE,
            asset_tag=f"{unit.acronym}-{_TAG_LETTERS[serial_table]}{seed_index + 1:05d}",
            support_ends=CHROMEBOOK_AUE.get(model),
        )

    def serial(self, table: Table, index: int, prefix: str, length: int) -> str:
        """A serial number unique within the tenant's table, shaped like the vendor's."""
        space = len(_ALPHABET) ** length
        step = int(space * 0.6180339887) | 1  # odd; made prime to 17 (34 = 2 * 17) below
        while step % 17 == 0:
            step += 2
        salt = _hash(self.tenant, table, "serial") * 0x9E3779B97F4A7C15 % space
        value = (salt + index * step) % space
        digits = []
        for _ in range(length):
            value, digit = divmod(value, len(_ALPHABET))
            digits.append(_ALPHABET[digit])
        marker = _ALPHABET[list(Table).index(table) + 10]
        return f"{prefix}{marker}{''.join(digits)}"

    def ghost_username(self, username: str, index: int) -> str:
        """A username shaped like the directory's but of nobody in it (someone who left)."""
        letters = "".join(c for c in username if not c.isdigit())
        return f"{letters}{self._ghost_base + index}"

    def _known_usernames(self) -> set[str]:
        if self._directory is None:  # only once a device was reassigned
            self._directory = {p.username for p in self.owner.people(include_children=False)}
        return self._directory

    def mail(self, username: str) -> str:
        """The user's email address (and eduPersonPrincipalName) in the tenant's realm."""
        return f"{username}@{self.realm}"

    def workspace_mail(self, username: str) -> str:
        """The user's Google Workspace account (the owner's `workspace_domain`)."""
        return f"{username}@{self.owner.workspace_domain}"

    # -- changes ---------------------------------------------------------------------------

    def reassign(self, table: Table, index: int, username: str | None) -> None:
        """Assign the device to another user (None: make it shared)."""
        with self._lock:
            self.facts(table, index)  # KeyError for a device that does not exist
            self.assignments[(table, index)] = username
            self.versions[table] += 1

    def retire(self, table: Table, index: int) -> None:
        """Remove the device from its MDM: only a full read notices it is gone."""
        with self._lock:
            self.facts(table, index)
            self.retired[table].add(index)
            self.versions[table] += 1

    def modify(self, table: Table, index: int, changes: dict[str, Any]) -> None:
        """Overlay raw vendor fields on the device's record."""
        with self._lock:
            self.facts(table, index)
            self.changes.setdefault((table, index), {}).update(changes)
            self.versions[table] += 1


def _os_key(model: str) -> str:
    name = model.lower()
    if "chromebook" in name:
        return "chromeos"
    if "ipad" in name:
        return "ipad"
    if "iphone" in name:
        return "iphone"
    if name.startswith("sm-"):
        return "android"
    if "macbook" in name or name.startswith("imac") or name.startswith("mac "):
        return "mac"
    return "windows"


class FleetApp(IssuesTokens):
    """A sandbox MDM app: the tenants' fleets, their credentials and the app's token store."""

    token_prefix = ""

    def __init__(
        self,
        fleets: Mapping[str, Fleet],
        *,
        credentials: Mapping[str, MdmCredentials],
        token_ttl: float = 3600.0,
    ) -> None:
        self.fleets = dict(fleets)
        self.tenants = tuple(self.fleets)
        self.credentials = dict(credentials)
        self.tokens = TokenStore(token_ttl, prefix=self.token_prefix)

    #: The fleet table this app's devices come from (Jamf serves two and has its own
    #: `control`).
    table: Table | None = None

    def index_of(self, tenant: str, device_id: str) -> int:
        """The fleet row a device id of this app names; KeyError if none."""
        raise NotImplementedError

    def control(self, tenant: str, action: str, payload: Any) -> Any:
        """`reassign`, `retire`, `modify` (by `device_id`), `revoke_tokens` or `token_ttl`."""
        data = payload or {}
        answer = self.control_tokens(tenant, action, data)
        if answer is not None:
            return answer
        if self.table is None:
            raise ValueError(f"unknown action {action!r}")
        index = self.index_of(tenant, data["device_id"])
        self.change_device(tenant, self.table, index, action, data)
        return {"device_id": data["device_id"], "done": action}

    def change_device(
        self, tenant: str, table: Table, index: int, action: str, data: Mapping[str, Any]
    ) -> None:
        """`reassign` (to `username`), `retire` or `modify` (with `changes`) one device."""
        fleet = self.fleets[tenant]
        if action == "reassign":
            fleet.reassign(table, index, data.get("username"))
        elif action == "retire":
            fleet.retire(table, index)
        elif action == "modify":
            fleet.modify(table, index, dict(data["changes"]))
        else:
            raise ValueError(f"unknown action {action!r}")
