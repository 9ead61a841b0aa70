"""Stock tables: the per node × SKU balance, its ledger, cold-chain holds and projection state.

``stock_levels`` changes only through conditional atomic UPDATEs inside a transaction that
also inserts the matching ``stock_movements`` row, so the ledger always sums to the balance.
``reserved + on_hold`` may exceed ``on_hand`` only after a count found fewer units than were
promised; that shortfall is reported, never hidden by refusing the count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cloud.models import Base, JSONType, UTCDateTime

# A ledger-sized id: BIGINT, but INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
_ROW_ID = BigInteger().with_variant(Integer, "sqlite")


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("on_hold >= 0", name="on_hold_not_negative"),
    )

    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(64), ForeignKey("skus.id"), primary_key=True)
    # The zone the SKU is kept in at this node (by put-away, else by temperature class).
    zone_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("storage_zones.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    on_hold: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StockMovement(Base):
    """One change of a balance, with its source; ``idempotency_key`` makes replays no-ops."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index(None, "node_id", "sku_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # SHA-256 of the request content: the same key with different content is a conflict.
    fingerprint: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    sku_id: Mapped[str] = mapped_column(String(64), ForeignKey("skus.id"))
    kind: Mapped[str] = mapped_column(String(32))
    delta_on_hand: Mapped[int] = mapped_column(Integer, default=0)
    delta_reserved: Mapped[int] = mapped_column(Integer, default=0)
    delta_on_hold: Mapped[int] = mapped_column(Integer, default=0)
    # rfid | scan | pos | transfer | order | coldchain | manual
    source: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Reservation(Base):
    """Units of an order held at a node; consumed at dispatch, released on cancellation."""

    __tablename__ = "reservations"

    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(64), ForeignKey("skus.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    # held | consumed | released
    state: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ColdChainHold(Base):
    """Chilled/frozen stock of a zone put on hold by a cold-chain alarm, until closed."""

    __tablename__ = "coldchain_holds"
    __table_args__ = (Index(None, "node_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "<gateway_id>:<seq>" of the alarm record: one hold per alarm.
    alarm_ref: Mapped[str] = mapped_column(String(200), unique=True)
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    zone_id: Mapped[str] = mapped_column(String(64), ForeignKey("storage_zones.id"))
    # held | released | written_off
    status: Mapped[str] = mapped_column(String(16))
    # [{"sku_id": "...", "quantity": 3}, ...]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(Text)


class ProjectionCursor(Base):
    """How far the stock projector has applied one gateway's records of one kind."""

    __tablename__ = "projection_cursors"

    projection: Mapped[str] = mapped_column(String(32), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class StockException(Base):
    """A gateway record the stock projector could not apply (unknown SKU, location...)."""

    __tablename__ = "stock_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_ref: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StockTransfer(Base):
    """Units sent from one node to another: out at the sender now, in at the receiver later."""

    __tablename__ = "stock_transfers"
    __table_args__ = (Index(None, "to_node_id", "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    from_node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    to_node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    # [{"sku_id": "...", "quantity": 3}, ...]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # in_transit | received
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_by: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EpcState(Base):
    """Where an RFID tag was last seen passing a dock door, so in-then-in counts once."""

    __tablename__ = "epc_states"

    epc_hex: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    # in | out
    direction: Mapped[str] = mapped_column(String(8))
    # The tag event that set this state: "tag:<gateway_id>:<seq>".
    source_ref: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboundOpen(Base):
    """Units one side took off on-hand as they left a node — a dock door's ``rfid_out``
    (side ``door``) or an order's ``consume`` (side ``order``) — that the other side may
    still match within the window around ``at`` (the door pass or the dispatch)."""

    __tablename__ = "outbound_open"
    __table_args__ = (
        CheckConstraint("open_quantity >= 0", name="open_quantity_not_negative"),
        Index(None, "node_id", "sku_id", "side", "at"),
    )

    # The movement that took the units off on-hand.
    movement_id: Mapped[int] = mapped_column(
        _ROW_ID, ForeignKey("stock_movements.id"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    sku_id: Mapped[str] = mapped_column(String(64), ForeignKey("skus.id"))
    # door | order
    side: Mapped[str] = mapped_column(String(8))
    order_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("orders.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    quantity: Mapped[int] = mapped_column(Integer)
    open_quantity: Mapped[int] = mapped_column(Integer)


class OutboundMatch(Base):
    """Units a dock door's tag event and an order's dispatch both saw leave: booked off
    on-hand once, by whichever of the two movements came first."""

    __tablename__ = "outbound_matches"
    __table_args__ = (Index(None, "order_id"),)

    node_id: Mapped[str] = mapped_column(String(64), ForeignKey("nodes.id"))
    sku_id: Mapped[str] = mapped_column(String(64), ForeignKey("skus.id"))
    # The tag event's movement (rfid_out or rfid_out_matched) and the order's consume.
    door_movement_id: Mapped[int] = mapped_column(
        _ROW_ID, ForeignKey("stock_movements.id"), primary_key=True
    )
    order_movement_id: Mapped[int] = mapped_column(
        _ROW_ID, ForeignKey("stock_movements.id"), primary_key=True
    )
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime())
