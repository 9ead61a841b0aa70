"""Response models of the console's JSON endpoints and of ``retailedge status``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from cloud.order_read_schemas import AllocationDecisionPublic
from cloud.stock_schemas import MovementPublic, StockLevelPublic

AlarmState = Literal["open", "acknowledged", "resolved"]


class AlarmOut(BaseModel):
    key: str = Field(description="One incident's id: acknowledge and resolve refer to it")
    kind: str = Field(description="cold_chain rule name, gateway_offline, gateway_backlog, ...")
    subject: str
    severity: Literal["info", "warning", "critical"]
    message: str
    started_at: datetime | None
    ended_at: datetime | None
    evidence: dict[str, Any]
    state: AlarmState
    comment: str | None = None
    by: str | None = None


class AckIn(BaseModel):
    action: Literal["acknowledge", "resolve"]
    # Stripped before the length check: a comment of blanks is no comment.
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class StopOut(BaseModel):
    task_id: str
    kind: str
    lat: float
    lon: float
    arrival: str | None


class VehicleDot(BaseModel):
    id: str
    kind: str = Field(description="vehicle (GPS), van, reefer_van or rider")
    lat: float
    lon: float
    speed_mps: float | None
    course_deg: float | None
    last_seen: datetime
    courier_id: str | None


class NodeOut(BaseModel):
    id: str
    name: str
    kind: str
    lat: float
    lon: float
    delivery_radius_km: float


class FleetOut(BaseModel):
    vehicles: list[VehicleDot]
    routes: dict[str, list[StopOut]]
    nodes: list[NodeOut]
    tile_url: str | None


class ChartPoint(BaseModel):
    t: datetime
    c: float
    out: bool = Field(description="Outside the compartment's band")


class CompartmentChart(BaseModel):
    name: str
    sensor_device_id: str
    temperature_class: str
    min_c: float
    max_c: float
    points: list[ChartPoint]
    excursions: list[AlarmOut]


class TaskBrief(BaseModel):
    id: str
    order_id: str
    status: str
    temperature_class: str
    window_end: datetime
    planned_drop_at: datetime | None


class VehicleDetail(BaseModel):
    id: str
    courier_id: str | None
    kind: str
    lat: float
    lon: float
    speed_mps: float | None
    last_seen: datetime
    tasks: list[TaskBrief]
    compartments: list[CompartmentChart]


class GatewayOut(BaseModel):
    id: str
    last_seen: datetime | None
    online: bool
    ack_seq: int
    clock_skew_s: float | None
    buffer_records: int | None
    oldest_unsent_s: float | None
    evicted: int
    quarantined: int | None
    uplink_state: str | None
    connectors: dict[str, str] = Field(description="Each connector's status, as reported")
    config_version: str | None = Field(description="The cloud's config document version for it")
    reported_config_version: int | None = Field(
        description="The config version the gateway says it runs (its health's downlink)"
    )
    config_source: str | None = Field(description='"cloud" or "local file", as the gateway says')
    config_status: str | None = Field(
        description="The gateway's last config fetch: applied, unchanged, cached, error, ..."
    )


class OrderCard(BaseModel):
    id: str
    channel: str
    status: str
    promise_class: str
    promise_by: datetime | None
    nodes: list[str]
    late_risk: bool
    minutes_left: float | None
    why: AllocationDecisionPublic | None
    courier_id: str | None


class OrdersBoard(BaseModel):
    counts: dict[str, int]
    orders: list[OrderCard]


class StockOut(BaseModel):
    levels: list[StockLevelPublic]
    movements: list[MovementPublic]


class StatusOut(BaseModel):
    """The whole health picture: what ``retailedge status`` prints."""

    generated_at: datetime
    gateways: list[GatewayOut]
    vehicles: list[VehicleDot]
    alarms: list[AlarmOut]
    orders_by_status: dict[str, int]


class DispatchStop(BaseModel):
    task_id: str
    order_id: str
    kind: Literal["pickup", "dropoff"]
    node_id: str | None = Field(description="The pickup node; None for a drop")
    place: str = Field(description="The node's id and name, or the drop rounded to about 100 m")
    lat: float
    lon: float
    arrival: datetime | None = Field(description="Planned arrival; None when not in the plan")
    promise_by: datetime = Field(description="The order's promise: on time if dropped by then")
    deadline: datetime = Field(description="The latest acceptable drop")
    task_status: str
    late: bool = Field(description="Planned after the promise, or the planner says late")


class CourierPlan(BaseModel):
    id: str
    kind: str
    state: Literal["inactive", "off_shift", "idle", "to_pickup", "delivering"]
    vehicle_id: str | None = Field(description="The GPS device that tracks it (vans)")
    skills: list[str] = Field(
        description="What it can carry now: a cold class whose compartment is out of band, "
        "silent or unread is not among them"
    )
    lost_skills: list[str] = Field(
        default_factory=list, description="Configured skills lost to a compartment's state"
    )
    capacity: int
    on_board: int = Field(description="Size of what it carries (picked up)")
    load: int = Field(description="Size of all its active tasks")
    shift_end: datetime | None
    stops: list[DispatchStop] = Field(description="The newest plan's stops, in order")
    unplanned: list[DispatchStop] = Field(
        description="Its active tasks the newest plan has no stop for (assigned since)"
    )


class CarrierTask(BaseModel):
    task_id: str
    order_id: str
    carrier: str
    external_id: str
    status: str
    pickup_node_id: str
    pickup_eta: datetime | None
    drop_eta: datetime | None
    promise_by: datetime
    late: bool


class WaitingTask(BaseModel):
    task_id: str
    order_id: str
    pickup_node_id: str
    promise_by: datetime
    why: str


class DispatchOut(BaseModel):
    """The Dispatch tab: every courier's plan, carrier-assigned tasks, tasks nobody has."""

    version: str = Field(
        description="Changes when what this view shows changes (arrivals to the minute)"
    )
    plan_id: int | None
    planned_at: datetime | None
    solve_ms: float | None
    error: str | None = Field(description="The newest run's error when it kept an older plan")
    couriers: list[CourierPlan]
    carrier: list[CarrierTask]
    waiting: list[WaitingTask]
