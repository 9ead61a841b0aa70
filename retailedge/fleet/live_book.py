"""What a live fleet run records as it goes: each order placed, each task's steps as the riders
took them and the ETAs the cloud gave, each courier's distance, busy time and last GPS fix, and
the reefer that failed. Written by the agents, read by :mod:`retailedge.fleet.live_metrics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class OrderLog:
    external_id: str
    channel: str
    at_s: float
    placed_at: datetime
    http_status: int = 0
    order_id: str | None = None
    status: str | None = None
    """allocated, or failed (no node can fulfil it); None when the cloud refused the payload."""
    reason: str | None = None
    promise_by: datetime | None = None


@dataclass
class TaskLog:
    task_id: str
    order_id: str
    temperature_class: str = "ambient"
    first_eta: datetime | None = None
    """The first planned drop time the cloud showed for the task."""
    eta_at_pickup: datetime | None = None
    accepted_by: list[str] = field(default_factory=list)
    picked_up_by: list[str] = field(default_factory=list)
    delivered_by: list[str] = field(default_factory=list)
    picked_up_at: datetime | None = None
    delivered_at: datetime | None = None
    """The cloud's ``finished_at`` of the delivery."""
    proof_code: str | None = None
    batched: bool = False
    """On board together with another task at some moment."""


@dataclass(frozen=True, slots=True)
class FixLog:
    time: datetime
    lat: float
    lon: float


@dataclass
class CourierLog:
    courier_id: str
    kind: str
    metres: float = 0.0
    busy_s: float = 0.0
    fixes: int = 0
    last_fix: FixLog | None = None
    max_load: int = 0


@dataclass
class ReeferFailure:
    courier_id: str
    failed_at: datetime
    held: dict[str, str] = field(default_factory=dict)
    """Its chilled tasks and their status when the compartment started to warm."""
    out_of_band_at: datetime | None = None
    """The first reading out of band the sensor published."""
    skill_lost_at: datetime | None = None
    """When ``GET /api/v1/couriers`` first showed it without the chilled skill."""


@dataclass
class RunBook:
    started_at: datetime
    orders: dict[str, OrderLog] = field(default_factory=dict)
    tasks: dict[str, TaskLog] = field(default_factory=dict)
    couriers: dict[str, CourierLog] = field(default_factory=dict)
    failure: ReeferFailure | None = None
    ordering_ended_at: datetime | None = None
    ended_at: datetime | None = None

    def task(self, task_id: str, order_id: str) -> TaskLog:
        log = self.tasks.get(task_id)
        if log is None:
            log = self.tasks[task_id] = TaskLog(task_id, order_id)
        return log
