"""Small dispatch problems around one Shanghai street corner."""

from __future__ import annotations

from cloud.dispatch.eta import Point, SpeedModel, TravelModel
from cloud.dispatch.planner import Planner, PlannerConfig
from cloud.dispatch.problem import Rider, Task
from cloud.dispatch.vroom_engine import VroomEngine

ORIGIN = Point(31.2304, 121.4737)
SPEED_MPS = 5.0


def east(metres: float, north: float = 0.0) -> Point:
    return Point(ORIGIN.lat + north / 111_195, ORIGIN.lon + metres / 95_050)


def travel() -> TravelModel:
    return TravelModel(SpeedModel(default_mps=SPEED_MPS), detour=1.0)


def planner(**config: float | bool) -> Planner:
    return Planner(VroomEngine(), travel(), PlannerConfig(**config))  # type: ignore[arg-type]


def rider(rider_id: str, at: Point, **changes: object) -> Rider:
    fields: dict[str, object] = {
        "id": rider_id,
        "position": at,
        "available_s": 0.0,
        "shift_end_s": 8 * 3600.0,
        "capacity": 4,
    }
    fields.update(changes)
    return Rider(**fields)  # type: ignore[arg-type]


def task(task_id: str, pickup: Point, dropoff: Point, **changes: object) -> Task:
    fields: dict[str, object] = {
        "id": task_id,
        "pickup": pickup,
        "dropoff": dropoff,
        "ready_s": 0.0,
        "target_s": 3600.0,
        "deadline_s": 5400.0,
        "pickup_service_s": 60.0,
        "dropoff_service_s": 60.0,
    }
    fields.update(changes)
    return Task(**fields)  # type: ignore[arg-type]
