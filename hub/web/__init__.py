"""The hub's pages in Airflow's UI: run overview, follow-up charts, extracts and health.

`hub.web.app.create_app()` builds the FastAPI app that `plugins/skolehub_plugin.py`
mounts in Airflow's API server; docs/operations.md describes the pages and who may
do what on them.
"""
