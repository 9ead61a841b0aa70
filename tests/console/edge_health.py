"""Gateway health documents made by the edge's own code (connector snapshots, the health
builder, the downlink section), so the console's tests read the shapes a gateway really sends."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.buffer import BufferStats
from edge.config import NmeaGpsDevice
from edge.connectors.serial_nmea import SerialNmeaConnector
from edge.health import health_snapshot
from edge.uplink import UplinkStats
from tests.edge.pty_gps import Pty, until


async def gps_snapshots(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """A GPS connector reading a real pseudo-terminal ("connected") and one never started."""
    link = tmp_path / "gps0"
    pty = Pty(link)
    device = NmeaGpsDevice(
        id="gps", type="nmea_gps", port=str(link), vehicle_id="van-7", reopen_initial_s=0.05
    )
    idle = NmeaGpsDevice(id="gps-spare", type="nmea_gps", port=str(link), vehicle_id="van-8")
    running = SerialNmeaConnector(device, lambda records: None)
    task = asyncio.create_task(running.run())
    try:
        await until(lambda: running.status.value == "connected")
        snapshots = {
            "gps": running.snapshot(),
            "gps-spare": SerialNmeaConnector(idle, lambda records: None).snapshot(),
        }
    finally:
        running.stop()
        await asyncio.wait_for(task, 2)
        pty.close()
    return snapshots


def health(
    gateway_id: str,
    *,
    records: int = 0,
    oldest_age_s: float | None = None,
    connectors: Mapping[str, Mapping[str, Any]] | None = None,
    downlink: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What a gateway sends in a batch's ``health`` (the gateway adds ``downlink`` to the
    builder's snapshot, as edge/gateway.py does)."""
    moment = now or datetime.now(UTC)
    oldest = None if oldest_age_s is None else moment.timestamp() - oldest_age_s
    snapshot = health_snapshot(
        gateway_id=gateway_id,
        now=moment,
        started_at=moment - timedelta(hours=1),
        buffer=BufferStats(records, records * 200, oldest, records + 1, 0),
        pending=0,
        produced={},
        uplink=UplinkStats(state="connected"),
        batch_limit=500,
        connectors=connectors or {},
    )
    return snapshot if downlink is None else {**snapshot, "downlink": dict(downlink)}
