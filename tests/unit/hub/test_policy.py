import pytest

from hub.policy import Policy
from hub.settings import SettingsError, parse_settings


def tenant(policy: dict) -> dict:
    return {"tenants": [{"id": "t", "name": "T", "policy": policy}]}


def test_defaults_follow_the_strategies():
    """Without a policy a tenant gets 1:1 devices, 1:5 in preschool, 36 months, cells of 5."""
    policy = parse_settings(tenant({})).tenant("t").policy
    assert 1.0 == policy.device_targets.pupils.per_pupil
    assert 5 == policy.device_targets.preschool.children_per_device
    assert 36 == policy.leasing_months
    assert 5 == policy.min_cell_size
    assert not policy.allow_identified_extracts


def test_overrides_are_validated_with_their_path():
    """A wrong policy value fails naming its path in hub.yaml."""
    with pytest.raises(SettingsError, match="tenants.0.policy.device_targets.preschool"):
        parse_settings(tenant({"device_targets": {"preschool": {"children_per_device": 0}}}))
    with pytest.raises(SettingsError, match="tenants.0.policy.competence_requirements.0.area"):
        parse_settings(
            tenant(
                {
                    "competence_requirements": [
                        {"area": "cooking", "roles": ["teacher"], "within_months": 12}
                    ]
                }
            )
        )


def test_fingerprint_changes_with_the_policy():
    """The policy hash that extracts record changes when a target changes."""
    assert Policy().fingerprint() == Policy().fingerprint()
    assert Policy().fingerprint() != Policy(leasing_months=48).fingerprint()
