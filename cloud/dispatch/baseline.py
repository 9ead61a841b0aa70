"""The baseline dispatcher: each ready-to-assign order to the nearest idle rider, one at a time."""

from __future__ import annotations

from collections.abc import Sequence

from cloud.dispatch.eta import haversine_m
from cloud.dispatch.problem import Rider, Task


def assign_nearest_idle(idle: Sequence[Rider], tasks: Sequence[Task]) -> list[tuple[str, str]]:
    """(task id, rider id) pairs: tasks in order of their target time, each to the nearest idle
    rider (straight line to the pickup) that has the task's skills and room for it."""
    pool = list(idle)
    pairs: list[tuple[str, str]] = []
    for task in sorted(tasks, key=lambda t: (t.target_s, t.id)):
        fit = [r for r in pool if task.skills <= r.skills and r.capacity >= task.size]
        if not fit:
            continue
        nearest = min(fit, key=lambda r: (haversine_m(r.position, task.pickup), r.id))
        pairs.append((task.id, nearest.id))
        pool.remove(nearest)
    return pairs
