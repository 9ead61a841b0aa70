"""A real gateway's health (buffer, uptime, connector status, clock skew) reaches the cloud with its
batches and is what the cloud shows at GET /api/v1/gateways."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.wire import parse_time
from retailedge.processes import Child
from tests.integration.cluster import (
    gateway_status,
    start_cloud,
    start_gateway,
    start_gps_van,
    wait_until,
)

pytestmark = pytest.mark.integration

BUFFER_KEYS = {
    "records",
    "bytes",
    "oldest_age_s",
    "growth_per_min",
    "max_records",
    "max_bytes",
    "next_seq",
    "last_acked_seq",
    "pending_commit",
    "dedupe_keys",
    "replayed",
}
UPLINK_KEYS = {
    "state",
    "last_ack_at",
    "last_ack_seq",
    "consecutive_failures",
    "last_error",
    "batches_sent",
    "batches_acked",
    "failed_attempts",
    "clock_skew_s",
    "rejected_by_cloud",
    "duplicates",
    "malformed_batches",
    "batch_limit",
    "heartbeats_sent",
    "last_heartbeat_at",
}


def _cloud_view(api: Any, gateway_id: str) -> dict[str, Any]:
    response = api.get("/api/v1/gateways")
    assert response.status_code == 200, response.text
    (entry,) = [g for g in response.json() if g["id"] == gateway_id]
    return dict(entry)


def _shows_a_live_connector(entry: dict[str, Any]) -> bool:
    health = entry.get("health") or {}
    gps = health.get("connectors", {}).get("van-01-gps", {})
    skew = health.get("uplink", {}).get("clock_skew_s")
    acked = health.get("acknowledged", {}).get("position", 0)
    return gps.get("status") == "connected" and skew is not None and acked > 0


def test_the_cloud_shows_the_gateways_health(tmp_path: Path, free_port: int) -> None:
    cloud = start_cloud(tmp_path, free_port)
    tty = tmp_path / "van-gps.tty"
    gateway, gateway_dir = start_gateway(tmp_path, cloud, "van-01", tty)
    simulator = start_gps_van(tmp_path, tty, 30, "--seed", "3")
    children: list[Child] = [simulator, gateway, cloud.child]
    try:
        with cloud.api() as api:
            views: list[dict[str, Any]] = []

            def live() -> bool:
                for child in children:
                    child.ensure_running()
                views.append(_cloud_view(api, "van-01"))
                return _shows_a_live_connector(views[-1])

            wait_until(live, timeout_s=30, what="the cloud to show van-01's live GPS and skew")
            first = views[-1]
            wait_until(
                lambda: (
                    _cloud_view(api, "van-01")["health"]["uptime_s"] > first["health"]["uptime_s"]
                ),
                timeout_s=10,
                what="a newer health report to reach the cloud",
            )
            later = _cloud_view(api, "van-01")
        local = gateway_status(gateway_dir)
    finally:
        for child in children:
            asyncio.run(child.stop(timeout_s=10))

    health = first["health"]
    assert health["gateway_id"] == "van-01"
    assert set(health["buffer"]) == BUFFER_KEYS
    assert set(health["uplink"]) == UPLINK_KEYS
    assert health["buffer"]["max_records"] == local["buffer"]["max_records"] > 0
    assert health["buffer"]["records"] >= 0 and health["buffer"]["bytes"] >= 0
    assert health["uptime_s"] > 0
    assert (health["evicted"], health["quarantined"]) == ({}, 0)
    assert health["connectors"]["van-01-gps"] == {
        **health["connectors"]["van-01-gps"],
        "type": "nmea_gps",
        "port": str(tty),
        "status": "connected",
        "last_error": None,
    }
    assert health["uplink"]["last_error"] is None
    assert health["uplink"]["consecutive_failures"] == 0
    assert abs(health["uplink"]["clock_skew_s"]) <= 1.0
    # The cloud's own measure (its clock minus the batch's sent_at) agrees within a second.
    assert first["clock_skew_s"] is not None and abs(first["clock_skew_s"]) <= 1.0
    assert parse_time(later["health"]["time"]) > parse_time(health["time"])
    assert later["health"]["uplink"]["batches_acked"] > health["uplink"]["batches_acked"]
    assert later["ack_seq"] >= health["uplink"]["last_ack_seq"]
    assert local["gateway_id"] == "van-01"
    assert parse_time(local["time"]) >= parse_time(later["health"]["time"])
