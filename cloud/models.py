"""ORM tables (SQLAlchemy 2 typed declarative). The Alembic migrations mirror this file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
Seq = BigInteger


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Gateway(Base):
    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_seq: Mapped[int] = mapped_column(Seq, default=0, server_default="0")
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_health: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    clock_skew_s: Mapped[float | None] = mapped_column(Float)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class _GatewayRecord:
    """Columns every stored record carries; (gateway_id, seq) is the primary key."""

    gateway_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("gateways.id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Seq, primary_key=True)


class PositionRow(_GatewayRecord, Base):
    __tablename__ = "positions"
    __table_args__ = (Index(None, "device_id", "time"),)

    device_id: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    course_deg: Mapped[float | None] = mapped_column(Float)
    fix_quality: Mapped[str] = mapped_column(String(16))
    satellites: Mapped[int | None] = mapped_column(Integer)
    hdop: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)


class MeasurementRow(_GatewayRecord, Base):
    __tablename__ = "measurements"
    __table_args__ = (Index(None, "device_id", "time"),)

    device_id: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    quantity: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    quality: Mapped[str | None] = mapped_column(String(16))
    """``good`` or ``out_of_range`` (see MeasurementQuality); null for rows stored before."""


class TagReadRow(_GatewayRecord, Base):
    __tablename__ = "tag_reads"
    __table_args__ = (Index(None, "epc_hex", "time"),)

    reader_id: Mapped[str] = mapped_column(String(128))
    antenna: Mapped[int] = mapped_column(Integer)
    epc_hex: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    rssi_dbm: Mapped[float | None] = mapped_column(Float)
    epc_uri: Mapped[str | None] = mapped_column(String(256))


class TagEventRow(_GatewayRecord, Base):
    __tablename__ = "tag_events"
    __table_args__ = (Index(None, "epc_hex", "time"), Index(None, "zone", "time"))

    reader_id: Mapped[str] = mapped_column(String(128))
    zone: Mapped[str] = mapped_column(String(128))
    epc_hex: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(16))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    read_count: Mapped[int] = mapped_column(Integer)
    epc_uri: Mapped[str | None] = mapped_column(String(256))
    direction: Mapped[str | None] = mapped_column(String(16))
    peak_rssi_dbm: Mapped[float | None] = mapped_column(Float)


class ScanRow(_GatewayRecord, Base):
    __tablename__ = "scans"
    __table_args__ = (Index(None, "code", "time"),)

    scanner_id: Mapped[str] = mapped_column(String(128))
    operator: Mapped[str] = mapped_column(String(128))
    operation: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(128))
    time: Mapped[datetime] = mapped_column(UTCDateTime())


class AlarmRow(_GatewayRecord, Base):
    __tablename__ = "alarms"
    __table_args__ = (Index(None, "subject", "started_at"),)

    rule: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Vehicle(Base):
    """Latest known position per device that reports positions; upserted on ingest."""

    __tablename__ = "vehicles"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(128), ForeignKey("gateways.id"))
    seq: Mapped[int] = mapped_column(Seq)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    course_deg: Mapped[float | None] = mapped_column(Float)
    fix_quality: Mapped[str] = mapped_column(String(16))
    satellites: Mapped[int | None] = mapped_column(Integer)
    hdop: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class IngestReject(Base):
    __tablename__ = "ingest_rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway_id: Mapped[str] = mapped_column(String(128), ForeignKey("gateways.id"), index=True)
    seq: Mapped[int] = mapped_column(Seq)
    kind: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[Any] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IngestGap(Base):
    __tablename__ = "ingest_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway_id: Mapped[str] = mapped_column(String(128), ForeignKey("gateways.id"), index=True)
    from_seq: Mapped[int] = mapped_column(Seq)
    to_seq: Mapped[int] = mapped_column(Seq)
    reason: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TelemetryOutbox(Base):
    """Line-protocol points of one ingested batch, waiting for the InfluxDB telemetry store.

    Written in the ingest transaction, so the gateway's ack covers them; deleted only after
    the InfluxDB write succeeded.
    """

    __tablename__ = "telemetry_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gateway_id: Mapped[str] = mapped_column(String(128))
    first_seq: Mapped[int] = mapped_column(Seq)
    last_seq: Mapped[int] = mapped_column(Seq)
    records: Mapped[int] = mapped_column(Integer)
    lines: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
