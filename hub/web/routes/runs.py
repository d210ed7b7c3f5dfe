"""The run overview, as a page and as JSON, and approving a run the deletion guard held."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from hub.store import ApprovalError
from hub.web import data
from hub.web.access import Action
from hub.web.dependencies import Settings, Viewer, may, render, require, same_origin

router = APIRouter()


@router.get("/runs", response_class=HTMLResponse)
def runs(request: Request, settings: Settings, user: Viewer) -> HTMLResponse:
    """Every source's last runs, held runs to approve, and the broker."""
    sources, broker = data.run_overview(settings)
    return render(
        request,
        "runs.html",
        sources=sources,
        broker=broker,
        user=user,
        may_approve=may(Action.APPROVE_DELETES, user, settings),
        approved=request.query_params.get("approved"),
    )


@router.get("/api/runs")
def runs_json(settings: Settings, _user: Viewer) -> dict[str, Any]:
    """The run overview as JSON."""
    sources, broker = data.run_overview(settings)
    return {
        "sources": [
            {
                "tenant": s.tenant,
                "source": s.source,
                "type": s.source_type,
                "held": s.held,
                "approved_by": s.approved_by,
                "open_approval": s.open_approval,
                "last_success_at": s.last_success_at,
                "last_run": s.last_run,
            }
            for s in sources
        ],
        "broker": {"bootstrap": broker.bootstrap, "reachable": broker.reachable},
        "compiler_lag": {t.topic: t.lag for t in broker.topics},
    }


@router.post("/runs/{run_id}/approve")
def approve(
    request: Request,
    run_id: str,
    settings: Settings,
    user: Annotated[Any, Depends(require(Action.APPROVE_DELETES))],
) -> Response:
    """Approve a held run: JSON for a bearer-token client, back to the runs page for a form."""
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site form post refused")
    with data.open_store(settings) as store:
        try:
            approval = store.approve_held_run(run_id, user.get_name())
        except ApprovalError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if request.headers.get("authorization"):
        return JSONResponse(
            {
                "run_id": approval.run_id,
                "tenant": approval.tenant,
                "source": approval.source,
                "planned_deletes": approval.planned_deletes,
                "approved_by": approval.approved_by,
                "approved_at": approval.approved_at.isoformat(),
            }
        )
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/runs?approved={run_id}", status_code=303)
