"""The Skolehub plugin: the hub's pages in Airflow's UI.

Wiring only, like the DAG files: the FastAPI app lives in `hub.web` (installed, typed and
tested with the rest of the hub). Airflow mounts it at `/skolehub` in its API server,
and four external views put its pages in Airflow's navigation under "Skolehub"; with a
`url_route`, Airflow shows each page inside its own UI (an iframe), and the browser's
Airflow session cookie authenticates the page's requests.

External views rather than a React app: the pages are rendered on the server, so there
is no JavaScript bundle to build, pin or serve, and they work offline.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from hub.web.app import URL_PREFIX, create_app

_PAGES = (
    ("Follow-up", "followup", "skolehub-followup"),
    ("Run overview", "runs", "skolehub-runs"),
    ("Extracts", "extracts", "skolehub-extracts"),
    ("Access log", "access-log", "skolehub-access-log"),
)


class SkolehubPlugin(AirflowPlugin):
    """Mounts the hub's pages and links them from Airflow's navigation."""

    name = "skolehub"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Skolehub"}]
    external_views = [
        {
            "name": title,
            "href": f"{URL_PREFIX}/{path}",
            "url_route": route,
            "destination": "nav",
            "category": "Skolehub",
        }
        for title, path, route in _PAGES
    ]
