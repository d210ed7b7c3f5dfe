"""Who may do what on the hub's pages: Airflow's auth manager first, then a role floor.

Every route depends on `require(...)`. The user comes from Airflow's own `get_user`
dependency (a bearer JWT, or the `_token` cookie the Airflow UI sets at login), so an
anonymous request is refused with 401 before any page code runs.

Two checks follow, and both must pass:

1. The auth manager's `is_authorized_custom_view` for the action's resource (`Skolehub`,
   `Skolehub Extracts`, …). With FAB or Keycloak these are permissions an administrator
   grants to roles.
2. A role floor from hub.yaml's `web` section for the actions that expose more
   (downloading extracts, identified extracts, approving deletions). SimpleAuthManager
   answers every custom view with "any viewer", so without the floor a viewer could
   download extracts. A user whose auth manager reports no role names passes only
   the first check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from hub.settings import WebSettings

Method = Literal["GET", "POST", "PUT", "DELETE"]


@dataclass(frozen=True)
class _Action:
    resource: str
    method: Method
    #: The `WebSettings` field naming the roles that may do it; None: any signed-in user.
    roles_setting: str | None


class Action(Enum):
    """The things a user can do on the hub's pages."""

    VIEW = _Action("Skolehub", "GET", None)
    DOWNLOAD_EXTRACT = _Action("Skolehub Extracts", "GET", "extract_roles")
    DOWNLOAD_IDENTIFIED = _Action("Skolehub Identified Extracts", "GET", "identified_extract_roles")
    APPROVE_DELETES = _Action("Skolehub Runs", "PUT", "approve_roles")
    VIEW_ACCESS_LOG = _Action("Skolehub Access Log", "GET", "access_log_roles")

    @property
    def resource(self) -> str:
        """The custom-view resource the auth manager is asked about."""
        return self.value.resource

    @property
    def method(self) -> Method:
        """The method the auth manager is asked about."""
        return self.value.method

    def allowed_roles(self, web: WebSettings) -> tuple[str, ...] | None:
        """The role names that may do this, or None when any signed-in user may."""
        setting = self.value.roles_setting
        return None if setting is None else tuple(getattr(web, setting))


def role_names(user: Any) -> set[str] | None:
    """The user's role names, lower-cased, or None when the auth manager does not say.

    SimpleAuthManager users have one `role` (a string); FAB users a list of `roles`
    objects with a `name`.
    """
    role = getattr(user, "role", None)
    if isinstance(role, str):
        return {role.lower()}
    roles = getattr(user, "roles", None)
    if isinstance(roles, Iterable) and not isinstance(roles, str | bytes):
        return {str(getattr(r, "name", r)).lower() for r in roles}
    return None


def permits(
    action: Action,
    user: Any,
    web: WebSettings,
    ask_auth_manager: Callable[[Method, str, Any], bool],
) -> bool:
    """Whether `user` may do `action`: the auth manager agrees and the role floor holds."""
    if not ask_auth_manager(action.method, action.resource, user):
        return False
    allowed = action.allowed_roles(web)
    if allowed is None:
        return True
    names = role_names(user)
    return names is None or bool(names & {a.lower() for a in allowed})
