"""The hub pages' access rules: the auth manager's answer and the role floor together."""

from types import SimpleNamespace

import pytest

from hub.settings import WebSettings
from hub.web.access import Action, permits, role_names


def simple_user(role: str | None) -> SimpleNamespace:
    """A SimpleAuthManager-shaped user: one role name."""
    return SimpleNamespace(role=role, get_name=lambda: "someone")


def fab_user(*roles: str) -> SimpleNamespace:
    """A FAB-shaped user: a list of role objects with names."""
    return SimpleNamespace(roles=[SimpleNamespace(name=r) for r in roles])


def yes(method, resource, user) -> bool:
    return True


@pytest.mark.parametrize(
    ("role", "view", "extract", "identified", "approve"),
    [
        ("viewer", True, False, False, False),
        ("user", True, False, False, False),
        ("op", True, True, False, True),
        ("admin", True, True, True, True),
    ],
)
def test_default_role_floor_for_simple_auth_manager_roles(role, view, extract, identified, approve):
    """With the defaults, viewers only look; operators download and approve; admins all."""
    web = WebSettings()
    user = simple_user(role)
    assert (view, extract, identified, approve) == tuple(
        permits(action, user, web, yes)
        for action in (
            Action.VIEW,
            Action.DOWNLOAD_EXTRACT,
            Action.DOWNLOAD_IDENTIFIED,
            Action.APPROVE_DELETES,
        )
    )


def test_role_names_compare_without_case_and_fab_roles_count():
    """FAB's `Op` matches the setting's `op`; a custom role can be granted extracts."""
    web = WebSettings(extract_roles=("Auditor",))
    assert permits(Action.DOWNLOAD_EXTRACT, fab_user("Viewer", "auditor"), web, yes)
    assert not permits(Action.DOWNLOAD_EXTRACT, fab_user("Viewer"), web, yes)
    assert {"op"} == role_names(simple_user("Op"))


def test_the_auth_manager_can_always_refuse():
    """An admin whom the auth manager refuses the resource does not get it."""
    asked = []

    def only_view(method, resource, user) -> bool:
        asked.append((method, resource))
        return resource == "Skolehub"

    admin = simple_user("admin")
    assert permits(Action.VIEW, admin, WebSettings(), only_view)
    assert not permits(Action.DOWNLOAD_EXTRACT, admin, WebSettings(), only_view)
    assert not permits(Action.APPROVE_DELETES, admin, WebSettings(), only_view)
    assert [("GET", "Skolehub"), ("GET", "Skolehub Extracts"), ("PUT", "Skolehub Runs")] == asked


def test_a_user_without_role_names_is_left_to_the_auth_manager():
    """Auth managers whose users carry no role names decide alone."""
    user = SimpleNamespace()
    assert role_names(user) is None
    assert permits(Action.DOWNLOAD_IDENTIFIED, user, WebSettings(), yes)
    assert not permits(Action.DOWNLOAD_IDENTIFIED, user, WebSettings(), lambda *a: False)


def test_a_user_with_no_role_gets_nothing_beyond_viewing():
    """A SimpleAuthManager user with an empty role is refused every role-floored action."""
    user = simple_user("")
    assert not permits(Action.DOWNLOAD_EXTRACT, user, WebSettings(), yes)
