"""A real gateway with nothing to send stays visible: its heartbeats move the cloud's last_seen
and bring fresh health, while no record flows and ack_seq stays where it was."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.wire import parse_time
from tests.integration.cluster import (
    run_gateway,
    start_cloud,
    wait_until,
    write_gateway_toml,
)

pytestmark = pytest.mark.integration

HEARTBEAT_S = 0.5


def _view(api: Any, gateway_id: str) -> dict[str, Any]:
    response = api.get("/api/v1/gateways")
    assert response.status_code == 200, response.text
    (entry,) = [g for g in response.json() if g["id"] == gateway_id]
    return dict(entry)


def _seen(entry: dict[str, Any]) -> datetime | None:
    return None if entry["last_seen"] is None else parse_time(entry["last_seen"])


def test_an_idle_gateway_keeps_its_last_seen_and_health_fresh(
    tmp_path: Path, free_port: int
) -> None:
    cloud = start_cloud(tmp_path, free_port)
    config, gateway_dir = write_gateway_toml(
        tmp_path, cloud, "store-07", uplink={"heartbeat_s": HEARTBEAT_S}
    )
    gateway = run_gateway(tmp_path, config, gateway_dir)
    try:
        with cloud.api() as api:

            def seen() -> bool:
                gateway.ensure_running()
                return _seen(_view(api, "store-07")) is not None

            wait_until(seen, timeout_s=30, what="store-07's first heartbeat")
            first = _view(api, "store-07")
            first_seen = _seen(first)
            assert first_seen is not None

            def advanced() -> bool:
                gateway.ensure_running()
                entry = _view(api, "store-07")
                later_seen = _seen(entry)
                # The health a heartbeat carries is the status snapshot of up to 1 s before.
                beats = entry["health"]["uplink"]["heartbeats_sent"]
                return later_seen is not None and later_seen > first_seen and beats >= 2

            wait_until(advanced, timeout_s=15, what="later heartbeats to move last_seen")
            later = _view(api, "store-07")
            stats = api.get("/api/v1/stats").json()
    finally:
        asyncio.run(gateway.stop(timeout_s=15))
        asyncio.run(cloud.child.stop(timeout_s=15))

    assert (first["ack_seq"], later["ack_seq"]) == (0, 0)
    assert sum(stats["stored"].values()) == 0
    health, later_health = first["health"], later["health"]
    assert health["gateway_id"] == later_health["gateway_id"] == "store-07"
    assert parse_time(later_health["time"]) > parse_time(health["time"])
    assert later_health["uptime_s"] > health["uptime_s"]
    uplink = later_health["uplink"]
    assert uplink["batches_sent"] == 0
    assert uplink["heartbeats_sent"] >= 2
    assert uplink["consecutive_failures"] == 0 and uplink["last_error"] is None
    assert uplink["last_heartbeat_at"] is not None
    # The gateway's clock and the cloud's are the same machine's.
    assert later["clock_skew_s"] is not None and abs(later["clock_skew_s"]) < 1.0
    assert uplink["clock_skew_s"] is not None and abs(uplink["clock_skew_s"]) < 1.0
    # Heartbeats come about every HEARTBEAT_S while idle, not at the uplink's 50 ms polling.
    assert uplink["heartbeats_sent"] <= later_health["uptime_s"] / HEARTBEAT_S + 1
