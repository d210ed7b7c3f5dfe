"""The follow-up pages: every tenant's latest headline figures, and one tenant's snapshot."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.access_log import ALL_TENANTS, AccessAction
from hub.followup.presentation import HEADLINE, page_labels
from hub.followup.snapshots import SnapshotStore
from hub.web import data
from hub.web.dependencies import Settings, Viewer, render, tenant_or_404
from hub.web.followup_view import build_page
from hub.web.routes.access_log import note_access

router = APIRouter()


@router.get("/", include_in_schema=False)
def index(request: Request, _user: Viewer) -> RedirectResponse:
    """The follow-up is the hub's first page."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}/followup", status_code=303)


@router.get("/followup", response_class=HTMLResponse)
def followup_index(request: Request, settings: Settings, user: Viewer) -> HTMLResponse:
    """Every tenant with its latest snapshot's headline figures."""
    tenants = []
    with data.open_store(settings) as store:
        snapshots = SnapshotStore(store.engine)
        for tenant in settings.tenants:
            days = snapshots.days(tenant.id)
            snapshot = snapshots.load(tenant.id, days[-1]) if days else None
            tenants.append((tenant, snapshot.summary() if snapshot else None))
    note_access(settings, user, ALL_TENANTS, AccessAction.VIEW_FOLLOWUP_INDEX, "followup index")
    return render(request, "followup_index.html", tenants=tenants, user=user, headline=HEADLINE)


@router.get("/followup/{tenant_id}", response_class=HTMLResponse)
def followup(
    request: Request,
    tenant_id: str,
    settings: Settings,
    user: Viewer,
    as_of: date | None = None,
) -> HTMLResponse:
    """One tenant's snapshot of `as_of` (default: the latest) as charts and tables."""
    tenant = tenant_or_404(settings, tenant_id)
    with data.open_store(settings) as store:
        snapshots = SnapshotStore(store.engine)
        days = snapshots.days(tenant.id)
        day = as_of or (days[-1] if days else None)
        snapshot = snapshots.load(tenant.id, day) if day else None
        if snapshot is None:
            return render(
                request, "followup_missing.html", tenant=tenant, as_of=as_of, user=user, days=days
            )
        page = build_page(snapshot, tenant.policy.min_cell_size, page_labels(tenant.country))
    what = f"followup page as of {snapshot.as_of.isoformat()}"
    note_access(settings, user, tenant.id, AccessAction.VIEW_FOLLOWUP, what)
    return render(request, "followup.html", tenant=tenant, page=page, days=days, user=user)
