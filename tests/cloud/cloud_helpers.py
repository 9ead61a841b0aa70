"""Batch builders shared by the cloud tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cloud.db import Database
from firmware_bridge.records import (
    Alarm,
    FixQuality,
    Measurement,
    Position,
    Quantity,
    Record,
    Scan,
    ScanOperation,
    Severity,
    TagDirection,
    TagEvent,
    TagEventType,
    TagRead,
    Unit,
)
from firmware_bridge.wire import format_time, record_to_wire

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
MAX_BATCH_BYTES = 4 * 1024 * 1024

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For a ``cloud`` test whose requests are refused or answered before any SQL that could differ
between the dialects (no writes, locking, upserts, RETURNING, JSON or concurrency): a PostgreSQL
copy would prove nothing more."""


@dataclass
class Cloud:
    client: httpx.AsyncClient
    database: Database
    admin: str
    operator: str
    warehouse: str
    gateway_a: str
    gateway_b: str

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def position(device: str, minute: int, lat: float = 52.52, lon: float = 13.405) -> Position:
    return Position(
        device_id=device,
        time=T0 + timedelta(minutes=minute),
        lat=lat,
        lon=lon,
        speed_mps=8.25,
        course_deg=91.5,
        fix_quality=FixQuality.GPS,
        satellites=9,
        hdop=0.9,
        altitude_m=34.0,
    )


MEASUREMENT = Measurement("fridge-1", T0, Quantity.TEMPERATURE, 3.75, Unit.CELSIUS)
SCAN = Scan("hh-1", "op-7", ScanOperation.PICK, "09506000134352", 2, "A-01-03", T0)
ALARM = Alarm("cold_chain", "fridge-1", Severity.WARNING, T0, None, {"max_c": 8.5})
TAG_READ = TagRead("rdr-1", 2, "3034257BF7194E4000001A85", T0, -61.5, None)
TAG_PASSED = TagEvent(
    reader_id="dock-1",
    zone="door-3",
    epc_hex="3034257BF7194E4000001A85",
    event=TagEventType.PASSED,
    time=T0 + timedelta(seconds=2, microseconds=250_000),
    first_seen=T0,
    last_seen=T0 + timedelta(seconds=4, microseconds=500_000),
    read_count=37,
    epc_uri="urn:epc:id:sgtin:0614141.812345.6789",
    direction=TagDirection.OUT,
    peak_rssi_dbm=-48.5,
)
TAG_ARRIVED = TagEvent(
    reader_id="shelf-2",
    zone="cold-room",
    epc_hex="E2801160600002084F6B5A11",
    event=TagEventType.ARRIVED,
    time=T0 + timedelta(minutes=1),
    first_seen=T0 + timedelta(minutes=1),
    last_seen=T0 + timedelta(minutes=1),
    read_count=1,
)


def wire(record: Record, seq: int) -> dict[str, Any]:
    return record_to_wire(record, seq)


def batch(
    gateway_id: str,
    first_seq: int,
    last_seq: int,
    records: list[dict[str, Any]],
    *,
    health: dict[str, Any] | None = None,
    sent_at: datetime | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "gateway_id": gateway_id,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "sent_at": format_time(sent_at or datetime.now(UTC)),
        "records": records,
    }
    if health is not None:
        body["health"] = health
    return body


def positions(device: str, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
    return [wire(position(device, seq), seq) for seq in range(first_seq, last_seq + 1)]


def stored_view(record: Position, *, gateway_id: str, seq: int) -> dict[str, Any]:
    """What the position and track endpoints return for a stored position."""
    return {**record_to_wire(record), "gateway_id": gateway_id, "seq": seq}


def stored_row(record: Record, *, seq: int, gateway_id: str = "gw") -> dict[str, Any]:
    """The row dict ingest stores for ``record``: ``record_row`` with canonical UTC times."""
    from cloud.ingest.plan import record_row
    from cloud.ingest.times import canonical_utc

    row = record_row(record, gateway_id=gateway_id, seq=seq)
    return {k: canonical_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
