"""The access log page for admins, its CSV export, and how the other routes write to it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from hub.access_log import (
    ALL_TENANTS,
    AccessAction,
    AccessEntry,
    Outcome,
    access_entries,
    record_access,
)
from hub.access_log import to_csv as entries_csv
from hub.settings import HubSettings
from hub.web import data
from hub.web.access import Action, role_names
from hub.web.dependencies import Settings, render, require, tenant_or_404

router = APIRouter()

#: The newest rows the page shows; the CSV export has them all.
PAGE_ROWS = 500

Auditor = Annotated[Any, Depends(require(Action.VIEW_ACCESS_LOG))]


def note_access(
    settings: HubSettings,
    user: Any,
    tenant: str,
    action: AccessAction,
    what: str,
    *,
    identified: bool = False,
    outcome: Outcome = Outcome.SERVED,
) -> AccessEntry:
    """Record that `user` saw or fetched `what`; a store that refuses the row is a 503."""
    try:
        with data.open_store(settings) as store:
            return record_access(
                store.engine,
                user_name=str(user.get_name()),
                roles=role_names(user),
                tenant=tenant,
                action=action,
                what=what,
                identified=identified,
                outcome=outcome,
            )
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the access log could not be written ({type(exc).__name__}), so nothing is served",
        ) from None


def _entries(settings: HubSettings, tenant: str | None, limit: int | None) -> list[AccessEntry]:
    if tenant and tenant != ALL_TENANTS:
        tenant_or_404(settings, tenant)
    with data.open_store(settings) as store:
        return access_entries(store.engine, tenant=tenant or None, limit=limit)


@router.get("/access-log", response_class=HTMLResponse)
def access_log_page(
    request: Request, settings: Settings, user: Auditor, tenant: str | None = None
) -> HTMLResponse:
    """The newest rows of the access log, optionally of one tenant."""
    entries = _entries(settings, tenant, PAGE_ROWS)
    return render(
        request,
        "access_log.html",
        entries=entries,
        tenant=tenant or "",
        tenants=[t.id for t in settings.tenants],
        limit=PAGE_ROWS,
        user=user,
    )


@router.get("/access-log.csv")
def access_log_csv(settings: Settings, _user: Auditor, tenant: str | None = None) -> Response:
    """The whole access log (or one tenant's) as CSV."""
    body = entries_csv(_entries(settings, tenant, None))
    name = f"skolehub-access-log{'-' + tenant if tenant else ''}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
