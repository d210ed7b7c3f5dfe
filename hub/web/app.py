"""The hub's pages inside Airflow: a FastAPI app the plugin mounts under `/skolehub`.

Pages are rendered on the server (Jinja2, inline SVG charts, no script), so they work
in Airflow's iframe for external views and on machines without internet access.
Every route needs an authenticated Airflow user (`hub.web.access`); hub.yaml is read
per request, so a changed configuration shows without restarting the API server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from hub.followup.extract import MANIFEST
from hub.followup.presentation import HEADLINE, format_measure
from hub.followup.snapshots import SnapshotStore
from hub.settings import HubSettings, SettingsError, load_env_file, load_settings
from hub.store import ApprovalError
from hub.web import data
from hub.web.access import Action, Method, permits
from hub.web.followup_view import build_page, share_text

#: Where the plugin mounts the app in Airflow's API server.
URL_PREFIX = "/skolehub"

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


def require(action: Action) -> Callable[..., Any]:
    """A dependency that returns the user if they may do `action`, else 403 (401 if anonymous)."""

    # The user first: an anonymous request is refused before hub.yaml is even read.
    def dependency(user: Annotated[Any, Depends(_user_dependency())], settings: Settings) -> Any:
        if not permits(action, user, settings.web, _ask_auth_manager):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{user.get_name()} may not {action.name.lower().replace('_', ' ')} "
                f"({action.resource})",
            )
        return user

    return dependency


Viewer = Annotated[Any, Depends(require(Action.VIEW))]


def _render(request: Request, template: str, **context: Any) -> HTMLResponse:
    base = request.scope.get("root_path", "")
    page = _templates.get_template(template).render(base=base, request=request, **context)
    return HTMLResponse(page)


def _same_origin(request: Request) -> bool:
    """A form post from the hub's own pages (cookie auth needs this; a bearer token not)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    origin = request.headers.get("origin") or request.headers.get("referer")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


def create_app() -> FastAPI:
    """The app the Airflow plugin mounts."""
    app = FastAPI(title="Skolehub", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", include_in_schema=False)
    def index(request: Request, _user: Viewer) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/followup", status_code=303)

    @app.get("/followup", response_class=HTMLResponse)
    def followup_index(request: Request, settings: Settings, user: Viewer) -> HTMLResponse:
        tenants = []
        with data.open_store(settings) as store:
            snapshots = SnapshotStore(store.engine)
            for tenant in settings.tenants:
                days = snapshots.days(tenant.id)
                snapshot = snapshots.load(tenant.id, days[-1]) if days else None
                tenants.append((tenant, snapshot))
        return _render(
            request, "followup_index.html", tenants=tenants, user=user, headline=HEADLINE
        )

    @app.get("/followup/{tenant_id}", response_class=HTMLResponse)
    def followup(
        request: Request,
        tenant_id: str,
        settings: Settings,
        user: Viewer,
        as_of: date | None = None,
    ) -> HTMLResponse:
        tenant = _tenant(settings, tenant_id)
        with data.open_store(settings) as store:
            snapshots = SnapshotStore(store.engine)
            days = snapshots.days(tenant.id)
            day = as_of or (days[-1] if days else None)
            snapshot = snapshots.load(tenant.id, day) if day else None
        if snapshot is None:
            return _render(
                request, "followup_missing.html", tenant=tenant, as_of=as_of, user=user, days=days
            )
        page = build_page(snapshot, tenant.policy.min_cell_size)
        return _render(request, "followup.html", tenant=tenant, page=page, days=days, user=user)

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, settings: Settings, user: Viewer) -> HTMLResponse:
        sources, broker = data.run_overview(settings)
        may_approve = permits(Action.APPROVE_DELETES, user, settings.web, _ask_auth_manager)
        return _render(
            request,
            "runs.html",
            sources=sources,
            broker=broker,
            user=user,
            may_approve=may_approve,
            approved=request.query_params.get("approved"),
        )

    @app.get("/api/runs")
    def runs_json(settings: Settings, _user: Viewer) -> dict[str, Any]:
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

    @app.post("/runs/{run_id}/approve")
    def approve(
        request: Request,
        run_id: str,
        settings: Settings,
        user: Annotated[Any, Depends(require(Action.APPROVE_DELETES))],
    ) -> Response:
        if not _same_origin(request):
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

    @app.get("/extracts", response_class=HTMLResponse)
    def extracts(request: Request, settings: Settings, user: Viewer) -> HTMLResponse:
        entries = data.list_extracts(settings)
        may_download = permits(Action.DOWNLOAD_EXTRACT, user, settings.web, _ask_auth_manager)
        return _render(
            request, "extracts.html", entries=entries, user=user, may_download=may_download
        )

    @app.get("/extracts/{tenant_id}/{name}/{file_name}")
    def download(
        tenant_id: str,
        name: str,
        file_name: str,
        settings: Settings,
        user: Annotated[Any, Depends(require(Action.DOWNLOAD_EXTRACT))],
    ) -> FileResponse:
        tenant = _tenant(settings, tenant_id)
        entry = data.find_extract(settings, tenant.id, name)
        if entry is None or file_name not in (*entry.file_names, MANIFEST):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such extract file")
        if entry.identified and file_name != MANIFEST:
            if not tenant.policy.allow_identified_extracts:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"tenant {tenant.id} does not allow identified extracts",
                )
            if not permits(Action.DOWNLOAD_IDENTIFIED, user, settings.web, _ask_auth_manager):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    f"{user.get_name()} may not download identified extracts",
                )
        path: Path = entry.path / file_name
        return FileResponse(path, filename=f"{tenant.id}-{name}-{file_name}")

    @app.get("/api/health")
    def health(settings: Settings, _user: Viewer) -> JSONResponse:
        report = data.health(settings)
        code = 503 if report["status"] == "unhealthy" else 200
        return JSONResponse(report, status_code=code)

    return app


def _tenant(settings: HubSettings, tenant_id: str) -> Any:
    try:
        return settings.tenant(tenant_id)
    except SettingsError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
