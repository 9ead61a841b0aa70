"""Request and response models of the fleet, rider app, dispatch and tracking APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

CourierId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
ColdClass = Literal["chilled", "frozen"]


class ShiftIn(BaseModel):
    start: AwareDatetime
    end: AwareDatetime


class CompartmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    sensor_device_id: str = Field(min_length=1, max_length=128)
    temperature_class: ColdClass
    min_c: float = Field(ge=-60, le=30)
    max_c: float = Field(ge=-60, le=30)

    @model_validator(mode="after")
    def _band(self) -> Self:
        if self.min_c >= self.max_c:
            raise ValueError("min_c must be below max_c")
        return self


class CourierIn(BaseModel):
    id: str = CourierId
    kind: Literal["rider", "van", "reefer_van"]
    capacity: int = Field(ge=1, le=10_000, description="Units the courier can carry at once")
    skills: list[ColdClass] = Field(default_factory=list, max_length=2)
    shifts: list[ShiftIn] = Field(default_factory=list, max_length=200)
    home_node_id: str = Field(min_length=1, max_length=64)
    gps_device_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The vehicle gateway's GPS device (its row in /api/v1/vehicles)",
    )
    compartments: list[CompartmentIn] = Field(default_factory=list, max_length=8)
    active: bool = True


class PositionOut(BaseModel):
    lat: float
    lon: float
    time: datetime
    source: Literal["app", "gps", "home"]


class CompartmentStatus(BaseModel):
    name: str
    sensor_device_id: str
    temperature_class: str
    min_c: float
    max_c: float
    latest_c: float | None
    latest_at: datetime | None
    in_band: bool
    why: str | None


class CourierOut(BaseModel):
    id: str
    kind: str
    capacity: int
    skills: list[str]
    effective_skills: list[str] = Field(
        description="Skills minus cold classes whose compartment is out of band, stale or silent"
    )
    shifts: list[ShiftIn]
    home_node_id: str
    gps_device_id: str | None
    compartments: list[CompartmentStatus]
    active: bool
    position: PositionOut
    open_tasks: int


class RiderPositionIn(BaseModel):
    lat: float
    lon: float
    time: AwareDatetime


class PositionAccepted(BaseModel):
    courier_id: str
    lat: float
    lon: float
    time: datetime


class Place(BaseModel):
    lat: float
    lon: float


class PickupPlace(Place):
    node_id: str
    name: str


class TaskOut(BaseModel):
    id: str
    order_id: str
    status: str
    courier_id: str | None
    pickup: PickupPlace
    drop: Place
    ready_at: datetime
    window_end: datetime
    deadline: datetime
    priority: int
    service: dict[str, Any]
    temperature_class: str
    size: int
    planned_pickup_at: datetime | None
    planned_drop_at: datetime | None
    accepted_at: datetime | None
    arrived_at: datetime | None
    picked_up_at: datetime | None
    finished_at: datetime | None
    proof: dict[str, Any] | None
    failure_reason: str | None
    temperature_record: dict[str, Any] | None


class ProofIn(BaseModel):
    code: str | None = Field(default=None, min_length=4, max_length=32)
    photo_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.code is None) == (self.photo_sha256 is None):
            raise ValueError("give exactly one of code or photo_sha256")
        return self


class DeliveredIn(BaseModel):
    proof: ProofIn


class FailedIn(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PlanStop(BaseModel):
    task_id: str
    kind: str
    arrival: datetime
    service_start: datetime


class PlanOut(BaseModel):
    id: int
    created_at: datetime
    applied: bool
    error: str | None
    solve_ms: float
    cost_s: float
    routes: dict[str, list[PlanStop]]
    late: list[str]
    overflow: list[str]
    unassigned: list[str]
    rejected: list[dict[str, str]]
    reassigned: list[str]
    last_error: str | None = Field(
        default=None, description="The newest run's error when it kept this plan in force"
    )


class FlagOut(BaseModel):
    id: int
    kind: str
    courier_id: str
    task_id: str
    order_id: str
    message: str
    evidence: dict[str, Any]
    raised_at: datetime
    resolved_at: datetime | None


class DispatchRunOut(BaseModel):
    applied: bool
    error: str | None
    tasks: int
    couriers: int
    assigned: int
    overflow: int = Field(description="Tasks handed to the carrier in this run")
    solve_ms: float
    created_tasks: int
    flags_raised: int


class LatencyOut(BaseModel):
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class BackgroundSolveOut(BaseModel):
    enabled: bool = Field(
        description="A from-scratch solve runs in a worker process between re-plans"
    )
    busy: bool = Field(description="A background solve is running now")
    solves: int = Field(description="Background results handed to a re-plan")
    adopted: int = Field(description="Re-plans whose plan grew from a background result")
    last_error: str | None


class DispatchStatsOut(BaseModel):
    running: bool = Field(description="The loop runs on its cadence in this process")
    interval_s: float
    budget_s: float
    replans: int = Field(description="Re-plans since this process started")
    applied: int
    kept_previous: int = Field(description="Re-plans that failed and kept the plan in force")
    recent: int = Field(description="How many of the newest re-plans the latencies cover")
    solve: LatencyOut = Field(description="Wall time of the planner (the critical path)")
    round: LatencyOut = Field(description="Reading the fleet, solving and applying the plan")
    last_replan_at: datetime | None
    last_error: str | None
    background: BackgroundSolveOut


class TrackingLinkOut(BaseModel):
    token: str = Field(description="Shown once; only its SHA-256 is stored")
    url: str = Field(
        description="The link to give the customer: the tracking page, absolute when the cloud "
        "knows its public address (RETAILEDGE_PUBLIC_URL), else its path /t/<token>"
    )
    api_path: str = Field(description="/api/v1/track/<token>: the same facts as JSON")
    order_id: str


class TrackOut(BaseModel):
    status: str
    eta: datetime | None
    courier_position: Place | None = Field(
        description="Rounded to about 100 m, only while the goods are on their way to you"
    )
    updated_at: datetime
    ended_at: datetime | None = Field(
        default=None,
        description="When the order was delivered, cancelled or failed; the link answers for "
        "24 h after that, then 404",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the node that ships the order, for showing times; "
        "None before a node is chosen",
    )


class CarrierCallbackIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=128)
    status: Literal["picked_up", "delivered", "failed", "cancelled"]
    at: AwareDatetime
    reason: str | None = Field(default=None, max_length=500)
