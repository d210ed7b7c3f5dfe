"""The extract list and downloads; identified extracts need the tenant's and the role's consent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse

from hub.access_log import AccessAction, Outcome
from hub.followup.extract import MANIFEST
from hub.web import data
from hub.web.access import Action
from hub.web.dependencies import Settings, Viewer, may, render, require, tenant_or_404
from hub.web.routes.access_log import note_access

router = APIRouter()

DOWNLOAD = AccessAction.DOWNLOAD_EXTRACT
REFUSED = Outcome.REFUSED


@router.get("/extracts", response_class=HTMLResponse)
def extracts(request: Request, settings: Settings, user: Viewer) -> HTMLResponse:
    """Every tenant's extract folders and their files."""
    entries = data.list_extracts(settings)
    may_download = may(Action.DOWNLOAD_EXTRACT, user, settings)
    return render(request, "extracts.html", entries=entries, user=user, may_download=may_download)


@router.get("/extracts/{tenant_id}/{name}/{file_name}")
def download(
    tenant_id: str,
    name: str,
    file_name: str,
    settings: Settings,
    user: Annotated[Any, Depends(require(Action.DOWNLOAD_EXTRACT))],
) -> FileResponse:
    """One file of an extract folder, or its manifest."""
    tenant = tenant_or_404(settings, tenant_id)
    entry = data.find_extract(settings, tenant.id, name)
    if entry is None or file_name not in (*entry.file_names, MANIFEST):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such extract file")
    identified = entry.identified and file_name != MANIFEST
    what = f"extract {name}/{file_name}"
    if identified:
        refusal = None
        if not tenant.policy.allow_identified_extracts:
            refusal = f"tenant {tenant.id} does not allow identified extracts"
        elif not may(Action.DOWNLOAD_IDENTIFIED, user, settings):
            refusal = f"{user.get_name()} may not download identified extracts"
        if refusal is not None:
            note_access(settings, user, tenant.id, DOWNLOAD, what, identified=True, outcome=REFUSED)
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    note_access(settings, user, tenant.id, DOWNLOAD, what, identified=identified)
    path: Path = entry.path / file_name
    return FileResponse(path, filename=f"{tenant.id}-{name}-{file_name}")
