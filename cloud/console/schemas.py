"""Response models of the console's JSON endpoints and of ``retailedge status``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cloud.order_read_schemas import AllocationDecisionPublic
from cloud.stock_schemas import MovementPublic, StockLevelPublic

AlarmState = Literal["open", "acknowledged", "resolved"]


class AlarmOut(BaseModel):
    key: str = Field(description="Stable id: acknowledge and resolve refer to it")
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
    comment: str = Field(min_length=1, max_length=2000)


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
    connectors: dict[str, str]
    config_version: str | None


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
