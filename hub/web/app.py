"""The hub's pages inside Airflow: a FastAPI app the plugin mounts under `/skolehub`.

Pages are rendered on the server (Jinja2, inline SVG charts, no script), so they work
in Airflow's iframe for external views and on machines without internet access.
The routes live on `APIRouter`s in `hub.web.routes`; what they depend on (hub.yaml read
per request, the authenticated Airflow user, rendering) in `hub.web.dependencies`.
"""

from __future__ import annotations

from fastapi import FastAPI

from hub.web.routes import access_log, extracts, followup, health, runs

#: Where the plugin mounts the app in Airflow's API server.
URL_PREFIX = "/skolehub"


def create_app() -> FastAPI:
    """The app the Airflow plugin mounts."""
    app = FastAPI(title="Skolehub", docs_url=None, redoc_url=None, openapi_url=None)
    for routes in (followup, runs, extracts, health, access_log):
        app.include_router(routes.router)
    return app
