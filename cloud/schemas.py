"""Request and response models (Create / Public per entity); times are ISO 8601 UTC with Z."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Identifier = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")


class HealthPublic(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class PositionWire(BaseModel):
    """A position in the :mod:`firmware_bridge.wire` form."""

    kind: Literal["position"] = "position"
    device_id: str
    time: str
    lat: float
    lon: float
    speed_mps: float | None
    course_deg: float | None
    fix_quality: str
    satellites: int | None
    hdop: float | None
    altitude_m: float | None


class PositionPublic(PositionWire):
    gateway_id: str
    seq: int


class VehiclePublic(BaseModel):
    id: str
    gateway_id: str
    last_seen: str
    position: PositionWire


class TrackPublic(BaseModel):
    vehicle_id: str
    positions: list[PositionPublic]


class GatewayCreate(BaseModel):
    id: str = Identifier


class GatewayCreated(BaseModel):
    id: str
    token: str = Field(description="Shown once; only its SHA-256 is stored.")


class GatewayPublic(BaseModel):
    id: str
    ack_seq: int
    last_seen: str | None
    clock_skew_s: float | None
    health: dict[str, Any] | None


UserRoleName = Literal["admin", "operator", "warehouse", "channel", "rider"]


class UserCreate(BaseModel):
    name: str = Identifier
    role: UserRoleName


class UserCreated(BaseModel):
    name: str
    role: UserRoleName
    api_key: str = Field(description="Shown once; only its SHA-256 is stored.")


class StoredCounts(BaseModel):
    position: int
    measurement: int
    tag_read: int
    scan: int
    alarm: int
    tag_event: int


class TelemetryStatus(BaseModel):
    """The telemetry store: for ``influx``, the outbox backlog and this process's writes."""

    store: Literal["sql", "influx"]
    pending_records: int = 0
    pending_batches: int = 0
    written_records: int = 0
    write_failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_write_at: str | None = None


class StatsPublic(BaseModel):
    stored: StoredCounts
    rejected: int
    gaps: int
    gateways: int
    telemetry: TelemetryStatus


class RejectedRecord(BaseModel):
    seq: int
    error: str


class IngestResult(BaseModel):
    ack_seq: int = Field(
        description="Highest seq stored contiguously; the gateway may delete up to it."
    )
    stored: int
    duplicates: int
    rejected: list[RejectedRecord]
    gaps: list[tuple[int, int]]
    server_time: str


class GapPublic(BaseModel):
    id: int
    from_seq: int
    to_seq: int
    reason: str
    recorded_at: str


class RejectPublic(BaseModel):
    id: int
    seq: int
    kind: str | None
    reason: str
    raw: Any
    received_at: str


class GapPage(BaseModel):
    gateway_id: str
    items: list[GapPublic]
    next_after: int | None = Field(
        description="Pass as ?after= for the next page; null when this page is the last."
    )


class RejectPage(BaseModel):
    gateway_id: str
    items: list[RejectPublic]
    next_after: int | None = Field(
        description="Pass as ?after= for the next page; null when this page is the last."
    )
