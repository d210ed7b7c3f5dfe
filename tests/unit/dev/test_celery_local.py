"""hub.dev.celery_local's reading of task instances: which worker ran what, and how many at once."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.dev.celery_local import DagRun, TaskRun, most_at_once, workers_used


def task(start: int, end: int, hostname: str = "worker-1@vm") -> TaskRun:
    """A finished task instance running from second `start` to second `end`."""
    return TaskRun.from_api(
        {
            "dag_id": "d",
            "task_id": "sync",
            "map_index": start,
            "state": "success",
            "hostname": hostname,
            "start_date": datetime.fromtimestamp(start, UTC).isoformat(),
            "end_date": datetime.fromtimestamp(end, UTC).isoformat(),
        }
    )


def test_most_at_once_counts_overlaps_and_not_tasks_that_only_touch():
    """Three overlapping tasks count three; one starting as another ends does not overlap."""
    assert 3 == most_at_once([task(0, 10), task(2, 5), task(4, 12), task(12, 20)])
    assert 1 == most_at_once([task(0, 5), task(5, 9)])
    assert 0 == most_at_once([])


def test_workers_used_counts_task_instances_per_hostname():
    """Each worker hostname with the number of task instances it ran, over several runs."""
    runs = [
        DagRun("a", "r", "success", None, None, (task(0, 1), task(1, 2, "worker-2@vm"))),
        DagRun("b", "r", "success", None, None, (task(0, 1, "worker-2@vm"),)),
    ]

    assert {"worker-1@vm": 1, "worker-2@vm": 2} == workers_used(runs)
