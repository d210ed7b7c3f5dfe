"""Each connector's fuzz harness: its seed records and its real parsing path, offline."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import requests
from requests.structures import CaseInsensitiveDict

from connectors.base import Item
from connectors.http import HttpSource, HttpStream
from connectors.identity.feide_ldap import GREP_URN, GROUP_URN, _Page
from connectors.licences import apple_vpp, jamf_volume_purchasing, microsoft
from connectors.lms import google_classroom, graph_education
from connectors.mdm.google_chromeos import _ChromeOsDevices
from connectors.mdm.intune import _ManagedDevices
from connectors.mdm.jamf import _Computers, _MobileDevices
from tests.fuzz.suite import FuzzHarness
from tests.unit.connectors import test_canvas_connector as canvas_tests
from tests.unit.connectors import test_itslearning_parsing as itslearning_tests
from tests.unit.connectors import test_licence_parsing as licence_tests
from tests.unit.connectors import test_moodle_connector as moodle_tests
from tests.unit.connectors import test_oneroster_parsing as oneroster_tests
from tests.unit.connectors import test_ss12000_parsing as ss12000_tests
from tests.unit.connectors._mdm import intune
from tests.unit.connectors.test_bad_input import feide
from tests.unit.connectors.test_google_parsing import source as google
from tests.unit.connectors.test_jamf_parsing import source as jamf

DATA = Path(__file__).parents[1] / "unit" / "connectors" / "data"


def _records(path: str, key: str) -> list[Any]:
    return list(json.loads((DATA / path).read_text(encoding="utf-8"))[key])


def http_parser(
    source: HttpSource, streams: dict[str, HttpStream[Any, Any]]
) -> Callable[[str, Any], list[Item | None]]:
    """A parser of one record's JSON text as a page of its stream, as `read_stream` reads it.

    The bounded body reader (`page_of`), then the stream's `parse`.
    """

    def parse(what: str, text: str) -> list[Item | None]:
        stream = streams[what]
        body = f"[{text}]" if not stream.records_key else f'{{"{stream.records_key}": [{text}]}}'
        response = requests.Response()
        response.status_code = 200
        response._content = body.encode("utf-8")
        response.url = source.url(stream.path)
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        page = source.page_of(stream, response)
        items: list[Item | None] = []
        for index, record in enumerate(page.records):
            items.extend(stream.parse(record, index))
        return items

    return parse


def oneroster_harness() -> FuzzHarness:
    """OneRoster 1.2: every rostering and gradebook stream, from the example records."""
    source = oneroster_tests.source()
    streams = {name: kind(source) for name, kind in oneroster_tests.STREAMS.items()}
    files = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
    seeds = [
        (name, record)
        for name in (*files, "lineItems", "results")
        for record in _records(f"oneroster/{name}.json", name)
    ]
    return FuzzHarness("oneroster", seeds, http_parser(source, streams), ("sourcedId",))


def itslearning_harness() -> FuzzHarness:
    """The itslearning Data Warehouse: every entity set, lookups included, from example rows."""
    source = itslearning_tests.source()
    source.full_snapshot = False  # deleted users and courses are deletes, not left out
    streams = {name: kind(source) for name, kind in itslearning_tests.STREAMS.items()}
    examples = json.loads((DATA / "itslearning.json").read_text(encoding="utf-8"))
    seeds = [(name, record) for name, rows in examples.items() for record in rows]
    lookups = tuple(n for n, s in streams.items() if s.dead_letter_entity == "lookup")
    return FuzzHarness(
        "itslearning",
        seeds,
        http_parser(source, streams),
        ("UserId", "CourseId"),
        lookups=lookups,
    )


def _no_pages(*_args: Any, **_kwargs: Any) -> Iterator[Any]:
    return iter(())


def _native_harness(name: str, tests: Any, id_fields: tuple[str, ...]) -> FuzzHarness:
    source = tests.source()
    # A course reads its child collections while it is mapped; offline they are empty
    # (the children's own records are fuzzed as seeds of their streams).
    source.pages = _no_pages
    streams = {stream: kind(source) for stream, kind in tests.STREAMS.items()}
    examples = json.loads((DATA / "canvas_moodle.json").read_text(encoding="utf-8"))[name]
    seeds = [(stream, record) for stream, rows in examples.items() for record in rows]
    return FuzzHarness(name, seeds, http_parser(source, streams), id_fields)


def canvas_harness() -> FuzzHarness:
    """Canvas: accounts, users, courses and the per-course collections, from example records."""
    return _native_harness("canvas", canvas_tests, ("id",))


def moodle_harness() -> FuzzHarness:
    """Moodle: every function's answer, from example records."""
    return _native_harness("moodle", moodle_tests, ("id", "userid"))


def ss12000_harness() -> FuzzHarness:
    """SS 12000: organisations, persons, duties, placements, groups and activities."""
    source = ss12000_tests.source()
    names = ("organisations", "persons", "duties", "placements", "groups", "activities")
    streams = {name: ss12000_tests.STREAMS[name](source) for name in names}
    seeds = [
        (name, record) for name in names for record in _records(f"ss12000/{name}.json", "data")
    ]
    return FuzzHarness("ss12000", seeds, http_parser(source, streams), ("id",))


def intune_harness() -> FuzzHarness:
    """Intune managed devices from Graph."""
    source = intune()
    streams: dict[str, HttpStream[Any, Any]] = {"managedDevices": _ManagedDevices(source)}
    seeds = [("managedDevices", r) for r in _records("mdm/graph_managed_devices.json", "value")]
    return FuzzHarness("intune", seeds, http_parser(source, streams), ("id",))


def jamf_harness() -> FuzzHarness:
    """Jamf Pro computers and mobile devices."""
    source = jamf()
    streams: dict[str, HttpStream[Any, Any]] = {
        "computers": _Computers(source),
        "mobileDevices": _MobileDevices(source),
    }
    seeds = [
        *(("computers", r) for r in _records("mdm/jamf_computers_inventory.json", "results")),
        *(("mobileDevices", r) for r in _records("mdm/jamf_mobile_devices_detail.json", "results")),
    ]
    return FuzzHarness("jamf", seeds, http_parser(source, streams), ("id", "mobileDeviceId"))


def google_chromeos_harness() -> FuzzHarness:
    """Google Admin ChromeOS devices."""
    source = google()
    streams: dict[str, HttpStream[Any, Any]] = {"chromeosdevices": _ChromeOsDevices(source)}
    seeds = [
        ("chromeosdevices", r)
        for r in _records("mdm/google_chromeosdevices.json", "chromeosdevices")
    ]
    return FuzzHarness("google_chromeos", seeds, http_parser(source, streams), ("deviceId",))


# -- Feide: entries through `read()`, the directory's searches answered offline ----------

BASE = "o=lillevik,dc=skolehub,dc=test"
UNIT_DN = f"ou=lade,ou=units,{BASE}"
OWNER: dict[str, list[str]] = {
    "o": ["Lillevik kommune"],
    "noreduorguniqueidentifier": ["974557746"],
    "noreduorgnin": ["NO974557746"],
}
UNIT: dict[str, list[str]] = {
    "ou": ["Lade"],
    "cn": ["Lade skole"],
    "noreduorgunituniqueidentifier": ["NO912345678"],
    "businesscategory": ["grunnskole"],
    "modifytimestamp": ["20250914133751Z"],
}
PUPIL: dict[str, list[str]] = {
    "uid": ["kari"],
    "edupersonprincipalname": ["kari@lillevik.no"],
    "edupersonaffiliation": ["student", "member"],
    "edupersonprimaryaffiliation": ["student"],
    "givenname": ["Kari"],
    "sn": ["Nordmann"],
    "cn": ["Kari Nordmann"],
    "mail": ["kari@lillevik.no"],
    "edupersonorgunitdn": [UNIT_DN],
    "edupersonprimaryorgunitdn": [UNIT_DN],
    "norEduPersonNIN".lower(): ["01890110009"],
    "edupersonentitlement": [
        f"{GROUP_URN}u:MAT0010:NO912345678:7a-mat:2025-08-15:2026-06-20:student:Matte%207A",
        f"{GROUP_URN}b::NO912345678:7a:::student:7A",
        f"{GREP_URN}uri:aarstrinn7",
    ],
    "modifytimestamp": ["20250914133751Z"],
}
TEACHER: dict[str, list[str]] = {
    **PUPIL,
    "uid": ["ola"],
    "edupersonprincipalname": ["ola@lillevik.no"],
    "edupersonaffiliation": ["faculty", "employee", "member"],
    "edupersonprimaryaffiliation": ["faculty"],
    "title": ["lærer"],
    "edupersonentitlement": [f"{GROUP_URN}b::NO912345678:7a:::faculty:7A"],
}


#: A second person in every fuzzed directory: a read that finds the owner without people
#: fails (a wrong search base), so the mutated entry is never the owner's only person.
COMPANION = "companion@lillevik.no"


def feide_parse(what: str, entry: dict[str, list[str]]) -> list[Item | None]:
    """A directory of the owner, the unit and one entry (`unit` or `person`), read in full.

    Returns the items of the fuzzed entry: the owner (always the same) and the companion
    person's items are left out.
    """
    connector = feide()
    units = [(UNIT_DN, entry if what == "unit" else UNIT)]
    companion = {
        **PUPIL,
        "uid": ["companion"],
        "edupersonprincipalname": [COMPANION],
        "edupersonentitlement": [],
    }
    people = [(f"uid=companion,ou=people,{BASE}", companion)]
    if what == "person":
        people.insert(0, (f"uid=x,ou=people,{BASE}", entry))

    def search(
        search_filter: str,
        attributes: list[str],
        scope: str = ldap3.SUBTREE,
        base: str | None = None,
    ) -> Iterator[_Page]:
        if "norEduOrgUnit" in search_filter:
            return iter([_Page(units, b"")])
        if "norEduOrg" in search_filter:
            return iter([_Page([(BASE, OWNER)], b"")])
        return iter([_Page(people, b"")])

    connector._search = search  # type: ignore[method-assign]
    items: list[Item | None] = list(connector.read())
    return [i for i in items[1:] if getattr(i, "key", None) != COMPANION]


def feide_harness() -> FuzzHarness:
    """Feide LDAP: a unit entry and person entries, values as lists of text."""
    seeds = [("unit", UNIT), ("person", PUPIL), ("person", TEACHER)]
    return FuzzHarness(
        "feide_ldap",
        seeds,
        feide_parse,
        ("edupersonprincipalname", "noreduorgunituniqueidentifier"),
        ldap=True,
    )


def _settings(entry: dict[str, Any]) -> Any:
    from hub.settings import parse_settings

    return (
        parse_settings({"tenants": [{"id": "t", "name": "T", "sources": [entry]}]})
        .tenant("t")
        .sources[0]
    )


def graph_education_harness() -> FuzzHarness:
    """Graph education: class members (educationUser), as one class's `/members` page."""
    settings = _settings(
        {
            "type": "graph_education",
            "id": "teams",
            "auth": {
                "kind": "oauth_client_credentials",
                "token_url": "https://login.microsoftonline.com/d1/oauth2/v2.0/token",
                "client_id": "c1",
                "secret": {"env": "UNUSED"},
                "scope": "https://graph.microsoft.com/.default",
            },
        }
    )
    source = graph_education.GraphEducation(settings, tenant="t", secret="s")
    source.prepare()
    streams = {"members": graph_education._Members(source, "class-1")}
    seeds = [("members", r) for r in _records("graph_education/members.json", "value")]
    return FuzzHarness("graph_education", seeds, http_parser(source, streams), ("id",))


def google_classroom_harness() -> FuzzHarness:
    """Google Classroom: students, teachers and submissions of one course.

    Course work is a lookup that yields no entity; its records are read as the
    submissions' titles (the seeds' course work is loaded first, unmutated).
    """
    settings = _settings(
        {
            "type": "google_classroom",
            "id": "classroom",
            "auth": {
                "kind": "google_service_account",
                "secret": {"env": "UNUSED"},
                "subject": "admin@skola.solberga.se",
            },
        }
    )
    source = google_classroom.GoogleClassroom(settings, tenant="t", secret="{}")
    source.prepare()
    kinds = {
        "students": google_classroom._Students,
        "teachers": google_classroom._Teachers,
        "studentSubmissions": google_classroom._Submissions,
    }
    streams = {name: kind(source, "604042323237") for name, kind in kinds.items()}
    lookup = google_classroom._CourseWorks(source, "604042323237")
    for index, work in enumerate(_records("google_classroom/courseWork.json", "courseWork")):
        lookup.parse(work, index)
    seeds = [
        (name, record)
        for name in kinds
        for record in _records(f"google_classroom/{name}.json", name)
    ]
    return FuzzHarness(
        "google_classroom", seeds, http_parser(source, streams), ("id", "userId", "courseWorkId")
    )


# -- licences: Microsoft 365, Apple Apps and Books, Google Workspace, Jamf Pro --------------


def microsoft_licences_harness() -> FuzzHarness:
    """Microsoft 365: subscribed SKUs and users' assigned licences, from Graph examples."""
    source = licence_tests.microsoft()
    streams: dict[str, HttpStream[Any, Any]] = {
        "subscribedSkus": microsoft._SubscribedSkus(source),
        "users": microsoft._Users(source),
    }
    seeds = [
        *(("subscribedSkus", r) for r in _records("licences/graph_subscribed_skus.json", "value")),
        *(("users", r) for r in _records("licences/graph_users_licences.json", "value")),
    ]
    return FuzzHarness("microsoft_licences", seeds, http_parser(source, streams), ("id", "skuId"))


def apple_vpp_harness() -> FuzzHarness:
    """Apple Apps and Books: assets and assignments (`mdm/v2`), from Apple's examples."""
    source = licence_tests.vpp()
    source.pseudonymise_with(b"k" * 32)  # as the hub does: Clips' adamId is CPR-shaped
    streams: dict[str, HttpStream[Any, Any]] = {
        "assets": apple_vpp._Assets(source),
        "assignments": apple_vpp._Assignments(source),
    }
    seeds = [
        *(("assets", r) for r in _records("licences/vpp_assets.json", "assets")),
        *(("assignments", r) for r in _records("licences/vpp_assignments.json", "assignments")),
    ]
    return FuzzHarness("apple_vpp", seeds, http_parser(source, streams), ("adamId", "serialNumber"))


def google_workspace_licences_harness() -> FuzzHarness:
    """Google's License Manager: one product's assignments (the address is only ever hashed)."""
    source = licence_tests.workspace()
    source.prepare()
    (stream,) = source.streams_to_read()
    streams: dict[str, HttpStream[Any, Any]] = {"users": stream(source)}
    seeds = [("users", r) for r in _records("licences/google_license_assignments.json", "items")]
    return FuzzHarness(
        "google_workspace_licences", seeds, http_parser(source, streams), ("userId", "skuId")
    )


def jamf_volume_purchasing_harness() -> FuzzHarness:
    """Jamf Pro volume purchasing: one location's content."""
    source = licence_tests.jamf_source()
    source.locations = [jamf_volume_purchasing._Location(id="3", name="Grundskolor")]
    (stream,) = source.streams_to_read()
    streams: dict[str, HttpStream[Any, Any]] = {"content": stream(source)}
    seeds = [("content", r) for r in _records("licences/jamf_vpp_content.json", "results")]
    return FuzzHarness("jamf_volume_purchasing", seeds, http_parser(source, streams), ("adamId",))
