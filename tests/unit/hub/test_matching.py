import pytest

from hub.matching import Candidate, DirectoryPerson, Match, Matcher
from hub.policy import DomainRewrite, Matching, MatchingRule

KEY = b"pseudonym-key-0123456789"
DIRECTORY = [
    DirectoryPerson(
        "ola@lillevik.kommune.no",
        eppn="ola@lillevik.kommune.no",
        username="ola",
        email="ola.nordmann@lillevik.kommune.no",
        external_ids=("sis:1001",),
    ),
    DirectoryPerson(
        "kari@lillevik.kommune.no",
        eppn="kari@lillevik.kommune.no",
        username="kari",
        email="kari.hansen@lillevik.kommune.no",
    ),
    DirectoryPerson(
        "per1@lillevik.kommune.no",
        eppn="per1@lillevik.kommune.no",
        username="per",
        email="per@lillevik.kommune.no",
    ),
    DirectoryPerson(
        "per2@lillevik.kommune.no",
        eppn="per2@lillevik.kommune.no",
        username="per",
        email="per.b@lillevik.kommune.no",
    ),
]


def matcher(*rules: str, rewrites: tuple[DomainRewrite, ...] = ()) -> Matcher:
    matching = (
        Matching(
            rules=tuple(MatchingRule(name=r) for r in rules),  # type: ignore[arg-type]
            domain_rewrites=rewrites,
        )
        if rules
        else Matching(domain_rewrites=rewrites)
    )
    return Matcher(DIRECTORY, matching, KEY)


@pytest.mark.parametrize(
    ("rule", "value", "person"),
    [
        ("eppn", "OLA@lillevik.kommune.no", "ola@lillevik.kommune.no"),
        ("username", "kari", "kari@lillevik.kommune.no"),
        ("email", "ola.nordmann@lillevik.kommune.no", "ola@lillevik.kommune.no"),
        ("upn", "kari@lillevik.kommune.no", "kari@lillevik.kommune.no"),
        ("annotated_user", "kari.hansen@lillevik.kommune.no", "kari@lillevik.kommune.no"),
        ("external_id", "sis:1001", "ola@lillevik.kommune.no"),
    ],
)
def test_each_rule_matches_its_identifier(rule: str, value: str, person: str):
    """Every rule links a candidate by its own identifier, case-insensitively."""
    result = matcher(rule).match(Candidate("lms", "u1", {rule: value}))
    assert Match("lms", "u1", person, rule) == result


def test_first_rule_in_order_wins():
    """When two rules would match different people, the earlier rule decides."""
    candidate = Candidate(
        "mdm", "d1", {"username": "kari", "email": "ola.nordmann@lillevik.kommune.no"}
    )
    assert "kari@lillevik.kommune.no" == matcher("username", "email").match(candidate).person_key
    assert "ola@lillevik.kommune.no" == matcher("email", "username").match(candidate).person_key


def test_ambiguous_identifier_falls_through_to_the_next_rule():
    """A username shared by two people matches nobody by that rule; the next rule may."""
    candidate = Candidate("lms", "u2", {"username": "per", "email": "per.b@lillevik.kommune.no"})
    result = matcher("username", "email").match(candidate)
    assert Match("lms", "u2", "per2@lillevik.kommune.no", "email") == result
    assert "ambiguous" == matcher("username").match(Candidate("lms", "u3", {"username": "per"}))


def test_domain_rewrite_links_school_addresses_to_the_owner_domain():
    """`@skole.lillevik.kommune.no` is matched as `@lillevik.kommune.no` when configured."""
    rewrite = DomainRewrite(
        from_domain="skole.lillevik.kommune.no", to_domain="lillevik.kommune.no"
    )
    candidate = Candidate("mdm", "d2", {"upn": "kari@skole.lillevik.kommune.no"})
    assert "not_found" == matcher("upn").match(candidate)
    assert (
        "kari@lillevik.kommune.no"
        == matcher("upn", rewrites=(rewrite,)).match(candidate).person_key
    )


def test_unmatched_report_counts_by_source_and_reason_with_pseudonyms():
    """Unmatched candidates are counted per source and reason, with pseudonymised samples."""
    candidates = [
        Candidate("lms", "u1", {"eppn": "ola@lillevik.kommune.no"}),
        Candidate("lms", "ghost-1", {"eppn": "ghost@lillevik.kommune.no"}),
        Candidate("lms", "ghost-2", {"username": "nobody"}),
        Candidate("mdm", "dev-9", {}),
        Candidate("mdm", "dev-10", {"username": "per"}),
    ]
    matches, report = matcher().match_all(candidates)
    assert ["u1"] == [m.candidate_key for m in matches]
    assert [("lms", "not_found", 2), ("mdm", "ambiguous", 1), ("mdm", "no_identifier", 1)] == [
        (r["source"], r["reason"], r["count"]) for r in report.rows()
    ]
    samples = [s for r in report.rows() for s in r["samples"]]
    assert 4 == len(samples)
    assert all(len(s) == 16 and "ghost" not in s and "dev" not in s for s in samples)


def test_rules_may_not_repeat():
    """A policy that lists a rule twice is refused."""
    with pytest.raises(ValueError, match="once"):
        Matching(rules=(MatchingRule(name="eppn"), MatchingRule(name="eppn")))


def test_rule_order_holds_across_all_external_ids():
    """An earlier rule on a later external id wins over a later rule on the first one."""
    candidate = Candidate("lms", "u4", {"username": "kari"}, external_ids=("lms:77", "sis:1001"))
    result = matcher("external_id", "username").match(candidate)
    assert Match("lms", "u4", "ola@lillevik.kommune.no", "external_id") == result


def test_external_ids_naming_two_people_make_that_rule_ambiguous():
    """A rule finds exactly one person over all of a candidate's ids, or it does not decide."""
    both = Candidate("lms", "u5", {}, external_ids=("sis:1001", "sis:2002"))
    directory = [*DIRECTORY, DirectoryPerson("kari2", external_ids=("sis:2002",))]
    found = Matcher(directory, Matching(rules=(MatchingRule(name="external_id"),)), KEY)
    assert "ambiguous" == found.match(both)
