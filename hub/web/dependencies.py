"""What every route of the hub's pages depends on: hub.yaml, the Airflow user, rendering.

Every route needs an authenticated Airflow user: `Viewer` for reading, `require(action)`
for more (`hub.web.access` says who may do what). hub.yaml is read per request, so a
changed configuration shows without restarting the API server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from hub.followup.presentation import format_measure
from hub.settings import HubSettings, SettingsError, TenantSettings, load_env_file, load_settings
from hub.web.access import Action, Method, permits
from hub.web.followup_view import share_text

_templates = Environment(
    loader=PackageLoader("hub.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(share=share_text, measure=format_measure)


def hub_settings() -> HubSettings:
    """hub.yaml as it is now; a broken file is a 500 that says what is wrong."""
    try:
        load_env_file()
        return load_settings()
    except SettingsError as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, str(exc)) from None


Settings = Annotated[HubSettings, Depends(hub_settings)]


def _ask_auth_manager(method: Method, resource: str, user: Any) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return bool(
        get_auth_manager().is_authorized_custom_view(
            method=method, resource_name=resource, user=user
        )
    )


def _user_dependency() -> Any:
    """Airflow's own `get_user` dependency: bearer JWT or the UI's `_token` cookie."""
    from airflow.api_fastapi.core_api.security import get_user

    return get_user


def may(action: Action, user: Any, settings: HubSettings) -> bool:
    """Whether `user` may do `action` (what a page shows or hides)."""
    return permits(action, user, settings.web, _ask_auth_manager)


def require(action: Action) -> Callable[..., Any]:
    """A dependency that returns the user if they may do `action`, else 403 (401 if anonymous)."""

    # The user first: an anonymous request is refused before hub.yaml is even read.
    def dependency(user: Annotated[Any, Depends(_user_dependency())], settings: Settings) -> Any:
        if not may(action, user, settings):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{user.get_name()} may not {action.name.lower().replace('_', ' ')} "
                f"({action.resource})",
            )
        return user

    return dependency


Viewer = Annotated[Any, Depends(require(Action.VIEW))]


def render(request: Request, template: str, **context: Any) -> HTMLResponse:
    """A page from `hub/web/templates`, its links under the app's mount point."""
    base = request.scope.get("root_path", "")
    page = _templates.get_template(template).render(base=base, request=request, **context)
    return HTMLResponse(page)


def same_origin(request: Request) -> bool:
    """A form post from the hub's own pages (cookie auth needs this; a bearer token not)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    origin = request.headers.get("origin") or request.headers.get("referer")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


def tenant_or_404(settings: HubSettings, tenant_id: str) -> TenantSettings:
    """The tenant of a URL; one hub.yaml does not name is a 404."""
    try:
        return settings.tenant(tenant_id)
    except SettingsError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
