"""Order tables: orders from every channel, their status history, allocation decisions,
status webhooks to the channels, and the versioned member-tier service rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JSONType, UTCDateTime


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index(None, "status", "promise_by"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(128))
    # SHA-256 of the normalised order content: a resubmission with other content is a conflict.
    fingerprint: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("members.id"))
    # received | allocated | picking | packed | dispatched | delivered | cancelled | failed
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    # instant | same_day | next_day
    promise_class: Mapped[str] = mapped_column(String(16))
    promise_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # door_delivery, unboxing_inspection, free_shipping, ... as decided by the member rules
    service: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    delivery_lat: Mapped[float] = mapped_column(Float)
    delivery_lon: Mapped[float] = mapped_column(Float)
    address_enc: Mapped[str] = mapped_column(Text)
    recipient_name_enc: Mapped[str] = mapped_column(Text)
    recipient_phone_enc: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped on every change; status transitions are conditional on it.
    version: Mapped[int] = mapped_column(Integer, default=1)


class OrderLine(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(64), ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int | None] = mapped_column(Integer)
    # Set by allocation; a split order has lines at several nodes.
    node_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("nodes.id"))


class OrderEvent(Base):
    """Status history: every transition with its reason and who caused it."""

    __tablename__ = "order_events"
    __table_args__ = (Index(None, "order_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AllocationDecision(Base):
    """Why an order went where it went: every candidate node with its figures and verdict."""

    __tablename__ = "allocation_decisions"
    __table_args__ = (Index(None, "order_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id", ondelete="CASCADE"))
    # single | split | slower_promise | rejected
    outcome: Mapped[str] = mapped_column(String(16))
    node_ids: Mapped[list[str]] = mapped_column(JSONType)
    promise_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # [{"node_id", "distance_km", "eta_min", "has_stock", "capable", "open", "verdict"}, ...]
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    summary: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """A status change waiting to be pushed to its channel; retried with backoff."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # pending | delivered | failed (gave up after the last retry)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServiceRuleSet(Base):
    """One version of the member-tier service rules; the highest version is in force."""

    __tablename__ = "service_rule_sets"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
