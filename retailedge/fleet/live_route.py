"""A rider app's view of its work (pure): its tasks as the cloud lists them, and the next stop to
ride to, in the order the dispatch plan set (planned pickup and drop times)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from simulators.fleet_motion import Spot

NEVER: Final = datetime.max.replace(tzinfo=UTC)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RiderTask:
    id: str
    order_id: str
    status: str
    node_id: str
    pickup: Spot
    drop: Spot
    ready_at: datetime
    window_end: datetime
    planned_pickup_at: datetime | None
    planned_drop_at: datetime | None
    temperature_class: str

    @classmethod
    def from_api(cls, task: Mapping[str, Any]) -> RiderTask:
        """A task of ``GET /api/v1/rider/tasks`` (or of a step's answer)."""
        ready = parse_time(task["ready_at"])
        window_end = parse_time(task["window_end"])
        assert ready is not None and window_end is not None
        return cls(
            id=str(task["id"]),
            order_id=str(task["order_id"]),
            status=str(task["status"]),
            node_id=str(task["pickup"]["node_id"]),
            pickup=Spot(float(task["pickup"]["lat"]), float(task["pickup"]["lon"])),
            drop=Spot(float(task["drop"]["lat"]), float(task["drop"]["lon"])),
            ready_at=ready,
            window_end=window_end,
            planned_pickup_at=parse_time(task.get("planned_pickup_at")),
            planned_drop_at=parse_time(task.get("planned_drop_at")),
            temperature_class=str(task["temperature_class"]),
        )


@dataclass(frozen=True, slots=True)
class Stop:
    kind: Literal["pickup", "drop"]
    spot: Spot
    tasks: tuple[RiderTask, ...]
    """A pickup takes every task the plan has fetched at that node before the next drop."""


def next_stop(tasks: Sequence[RiderTask]) -> Stop | None:
    """The earliest planned stop among the courier's tasks: the drop of goods on board or the
    pickup of an assigned or accepted task (a pickup first when both are planned together)."""
    entries: list[tuple[datetime, int, str, RiderTask]] = []
    for task in tasks:
        if task.status == "picked_up":
            entries.append((task.planned_drop_at or NEVER, 1, task.id, task))
        elif task.status in ("assigned", "accepted"):
            entries.append((task.planned_pickup_at or NEVER, 0, task.id, task))
    if not entries:
        return None
    entries.sort(key=lambda entry: entry[:3])
    first = entries[0][3]
    if first.status == "picked_up":
        return Stop("drop", first.drop, (first,))
    group = []
    for _, rank, _, task in entries:
        if rank != 0 or task.node_id != first.node_id:
            break
        group.append(task)
    return Stop("pickup", first.pickup, tuple(group))
