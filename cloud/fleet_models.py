"""Fleet and dispatch tables: couriers and their live state, delivery tasks made from allocated
orders, the plans the dispatch loop stored, operator flags, customer tracking links and
third-party carrier shipments. Migration 0007 mirrors this file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JSONType, UTCDateTime


class Courier(Base):
    __tablename__ = "couriers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # rider | van | reefer_van
    kind: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)
    # subset of ["chilled", "frozen"]
    skills: Mapped[list[str]] = mapped_column(JSONType)
    # [{"start": iso, "end": iso}, ...] in UTC, sorted, not overlapping
    shifts: Mapped[list[dict[str, str]]] = mapped_column(JSONType)
    home_node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    # The `vehicles` row the vehicle gateway's GPS updates (vans); null for app-only riders.
    gps_device_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    # [{"name", "sensor_device_id", "temperature_class", "min_c", "max_c"}, ...]
    compartments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CourierState(Base):
    """The latest position a rider app reported (vans' GPS stays in ``vehicles``)."""

    __tablename__ = "courier_states"

    courier_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("couriers.id", ondelete="CASCADE"), primary_key=True
    )
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    # app | gps
    source: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryTask(Base):
    """One pickup at a node and one drop at the customer, for an order's lines at that node."""

    __tablename__ = "delivery_tasks"
    __table_args__ = (
        UniqueConstraint("order_id", "pickup_node_id"),
        Index(None, "status"),
        Index(None, "courier_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id", ondelete="CASCADE"))
    pickup_node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    drop_lat: Mapped[float] = mapped_column(Float)
    drop_lon: Mapped[float] = mapped_column(Float)
    ready_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # promise_by of the order (on time if dropped by then) and the latest acceptable drop
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    priority: Mapped[int] = mapped_column(Integer)
    service: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # ambient | chilled | frozen (the coldest line)
    temperature_class: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    # open | assigned | accepted | picked_up | delivered | failed | carrier
    status: Mapped[str] = mapped_column(String(16))
    courier_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("couriers.id"))
    planned_pickup_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    planned_drop_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # {"code": ...} or {"photo_sha256": ...}
    proof: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # Couriers that gave the task back before pickup: it is not planned for them again.
    declined_by: Mapped[list[str]] = mapped_column(JSONType)
    # {"compartment", "device_id", "min_c", "max_c", "readings": [[iso, value], ...], ...}
    temperature_record: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped on every change; the dispatch loop's writes are conditional on it.
    version: Mapped[int] = mapped_column(Integer, default=1)


class DispatchPlanRow(Base):
    """One run of the dispatch loop: the plan it applied, or the error that kept the old one."""

    __tablename__ = "dispatch_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    applied: Mapped[bool] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    solve_ms: Mapped[float] = mapped_column(Float)
    cost_s: Mapped[float] = mapped_column(Float)
    # {"routes": {courier: [{"task_id", "kind", "arrival", "service_start"}]}, "late": [...],
    #  "overflow": [...], "unassigned": [...], "rejected": [...], "reassigned": [...]}
    routes: Mapped[dict[str, Any]] = mapped_column(JSONType)


class DispatchFlag(Base):
    """Something an operator must look at (a reefer out of band holding chilled goods)."""

    __tablename__ = "dispatch_flags"
    __table_args__ = (Index(None, "resolved_at", "raised_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    courier_id: Mapped[str] = mapped_column(String(64), ForeignKey("couriers.id"))
    task_id: Mapped[str] = mapped_column(String(160), ForeignKey("delivery_tasks.id"))
    order_id: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TrackingLink(Base):
    __tablename__ = "tracking_links"

    # SHA-256 hex of the token; the token itself is shown once.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the delivery ends (delivered, failed, cancelled); the link answers 404 after.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CarrierShipment(Base):
    __tablename__ = "carrier_shipments"
    __table_args__ = (UniqueConstraint("carrier", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    carrier: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[str] = mapped_column(String(160), ForeignKey("delivery_tasks.id"), unique=True)
    # created | picked_up | delivered | failed | cancelled
    status: Mapped[str] = mapped_column(String(16))
    pickup_eta: Mapped[datetime | None] = mapped_column(UTCDateTime())
    drop_eta: Mapped[datetime | None] = mapped_column(UTCDateTime())
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
