"""A GPS receiver on a pseudo-terminal, a real gateway process and a real cloud process: the cloud
must hold exactly the fixes the simulator emitted, value for value, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.integration.cluster import (
    gateway_status,
    read_jsonl,
    start_cloud,
    start_gateway,
    start_gps_van,
    wait_until,
)

pytestmark = pytest.mark.integration


def _run_van(tmp_path: Path, free_port: int, database_url: str | None, seconds: int) -> None:
    cloud = start_cloud(tmp_path, free_port, database_url)
    tty = tmp_path / "van-gps.tty"
    emitted_log = tmp_path / "emitted.jsonl"
    gateway, gateway_dir = start_gateway(tmp_path, cloud, "van-01", tty)
    simulator = start_gps_van(
        tmp_path, tty, seconds, "--faults", "--emit-log", str(emitted_log), "--seed", "7"
    )
    try:
        assert simulator.process.wait(timeout=seconds + 30) == 0, simulator.tail()
        emitted = read_jsonl(emitted_log)
        assert len(emitted) >= seconds * 5
        wait_until(
            lambda: gateway_status(gateway_dir).get("produced", {}).get("position") == len(emitted),
            timeout_s=10,
            what=f"the gateway to read all {len(emitted)} fixes",
        )
        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.process.wait(timeout=60) == 0, gateway.tail()
        status = gateway_status(gateway_dir)
        assert status["acknowledged"] == {"position": len(emitted)}
        assert status["buffer"]["records"] == 0

        with cloud.api() as api:
            track = api.get(
                "/api/v1/vehicles/van-01/track",
                params={"limit": 10000, "since": emitted[0]["time"]},
            ).json()
            latest = api.get("/api/v1/vehicles/van-01/position").json()
            stats = api.get("/api/v1/stats").json()
        stored = [
            {k: v for k, v in p.items() if k not in ("seq", "gateway_id")}
            for p in track["positions"]
        ]
        assert stored == emitted
        assert latest["time"] == emitted[-1]["time"]
        assert stats["stored"]["position"] == len(emitted)
        assert stats["rejected"] == 0
        assert stats["gaps"] == 0
    finally:
        for child in (simulator, gateway, cloud.child):
            asyncio.run(child.stop(timeout_s=10))


def test_every_emitted_fix_arrives_once_with_its_values_sqlite(
    tmp_path: Path, free_port: int
) -> None:
    _run_van(tmp_path, free_port, None, seconds=4)


def test_every_emitted_fix_arrives_once_with_its_values_postgres(
    tmp_path: Path, free_port: int, postgres_url: str
) -> None:
    _run_van(tmp_path, free_port, postgres_url, seconds=3)
