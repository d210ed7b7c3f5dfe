"""`/api/health`: the store, the broker and every source, 503 when unhealthy."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hub.web import data
from hub.web.dependencies import Settings, Viewer

router = APIRouter()


@router.get("/api/health")
def health(settings: Settings, _user: Viewer) -> JSONResponse:
    """The health report; the status code says whether it is unhealthy."""
    report = data.health(settings)
    code = 503 if report["status"] == "unhealthy" else 200
    return JSONResponse(report, status_code=code)
