"""Airflow's plugin manager finds the Skolehub plugin in plugins/ without import errors."""

from airflow import plugins_manager


def test_the_plugin_manager_loads_the_plugin_without_errors():
    """`get_plugin_info` (what `airflow plugins` prints) lists it with its app and views."""
    info = {p["name"]: p for p in plugins_manager.get_plugin_info()}
    assert {} == {
        path: error
        for path, error in plugins_manager.get_import_errors().items()
        if "skolehub" in path
    }
    plugin = info["skolehub"]
    assert ["/skolehub"] == [app["url_prefix"] for app in plugin["fastapi_apps"]]
    assert ["Follow-up", "Run overview", "Extracts", "Access log"] == [
        view["name"] for view in plugin["external_views"]
    ]
