"""Skolehub: the engine that the Airflow DAGs and the `hub` CLI call."""

__version__ = "0.1.0"
