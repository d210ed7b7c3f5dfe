"""A Danish tenant's OS2skoledata persons are its directory, as Feide and SS 12000 are elsewhere."""

from hub.followup._identity import build_directory
from hub.followup._state import Org, PersonRow, TenantState
from hub.policy import Policy


def person(source: str, key: str, roles: tuple[str, ...], unit: str) -> PersonRow:
    """A person row of one source at one unit."""
    return PersonRow(source, key, None, None, None, roles, (unit,), unit, None, ())


def test_os2skoledata_people_and_institutions_make_the_directory() -> None:
    """With only OS2skoledata and an LMS, the directory is OS2skoledata's people and units."""
    state = TenantState(
        "sohavn",
        orgs=[
            Org(
                "os2skoledata/os2skoledata", "100", "school_unit", "Bakkeskolen", None, "951001", ()
            ),
            Org("oneroster/oneroster", "s1", "school_unit", "Bakkeskolen", None, "951001", ()),
        ],
        people=[
            person("os2skoledata/os2skoledata", "5000", ("pupil",), "100"),
            person("os2skoledata/os2skoledata", "5002", ("teacher",), "100"),
            person("oneroster/oneroster", "u1", ("pupil",), "s1"),
        ],
    )
    directory = build_directory(state, Policy(), b"k" * 32)
    assert frozenset({"os2skoledata/os2skoledata"}) == directory.sources
    assert {"5000", "5002"} == set(directory.people)
    assert {"100"} == set(directory.units)
