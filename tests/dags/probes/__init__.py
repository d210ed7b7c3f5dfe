"""DAG files that only the DAG tests run; the repository's `dags/` never holds them."""
