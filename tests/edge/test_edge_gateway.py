"""The whole gateway: a GPS on a real pty, the outbox on disk, a contract-speaking cloud."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edge.config import GatewayConfig, parse_config
from edge.gateway import Gateway
from firmware_bridge.wire import record_to_wire
from tests.edge.fake_cloud import FakeCloud
from tests.edge.pty_gps import Pty, decoded, epoch, until

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def gateway_config(tmp_path: Path, *, devices: list[dict[str, Any]]) -> GatewayConfig:
    data = {
        "gateway": {"id": "van-01", "data_dir": "data"},
        "cloud": {"url": "https://cloud.example", "token": "secret-token"},
        "uplink": {
            "interval_s": 0.02,
            "backoff_initial_s": 0.02,
            "backoff_max_s": 0.05,
            "drain_timeout_s": 0.3,
        },
        "devices": devices,
        "local_api": {"port": 0},  # a free port: other tests may run a gateway at the same time
    }
    return parse_config(data, source=tmp_path / "gw.toml", environ={})


def gps(link: Path) -> dict[str, Any]:
    return {"id": "gps", "type": "nmea_gps", "port": str(link), "reopen_initial_s": 0.05}


def status(config: GatewayConfig) -> dict[str, Any]:
    path = config.gateway.data_dir / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


async def test_positions_flow_from_the_port_to_the_cloud(tmp_path: Path) -> None:
    link = tmp_path / "gps0"
    pty = Pty(link)
    config = gateway_config(tmp_path, devices=[gps(link)])
    cloud = FakeCloud()
    stop = asyncio.Event()
    task = asyncio.create_task(Gateway(config, transport=cloud.transport()).run(stop))
    try:
        await until(
            lambda: status(config).get("connectors", {}).get("gps", {}).get("status") == "connected"
        )
        stream = epoch(0) + epoch(1) + epoch(2)
        pty.write(stream)
        await until(lambda: len(cloud.stored) == 3, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        pty.close()
    assert [cloud.stored[seq] for seq in (1, 2, 3)] == [
        record_to_wire(p, seq) for seq, p in enumerate(decoded(stream, "van-01"), start=1)
    ]
    final = status(config)
    assert (final["produced"], final["acknowledged"]) == ({"position": 3}, {"position": 3})
    assert final["buffer"]["records"] == 0
    assert final["buffer"]["last_acked_seq"] == 3
    assert final["connectors"]["gps"]["status"] == "stopped"
    assert final["connectors"]["gps"]["counters"]["positions"] == 3
    assert all(body["gateway_id"] == "van-01" for body in cloud.bodies)
    assert cloud.bodies[-1]["health"]["gateway_id"] == "van-01"


async def test_unsent_records_survive_a_restart_and_seqs_continue(tmp_path: Path) -> None:
    link = tmp_path / "gps0"
    pty = Pty(link)
    config = gateway_config(tmp_path, devices=[gps(link)])
    down = FakeCloud(script=["500"] * 10_000)
    stop = asyncio.Event()
    task = asyncio.create_task(Gateway(config, transport=down.transport()).run(stop))
    try:
        await until(
            lambda: status(config).get("connectors", {}).get("gps", {}).get("status") == "connected"
        )
        pty.write(epoch(0) + epoch(1))
        await until(lambda: status(config).get("produced") == {"position": 2}, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)  # the drain gives up after 0.3 s
        pty.close()
    assert status(config)["buffer"]["records"] == 2
    assert status(config)["uplink"]["last_error"] == "500: internal: database unavailable"

    up = FakeCloud()
    config = gateway_config(tmp_path, devices=[])
    stop = asyncio.Event()
    task = asyncio.create_task(Gateway(config, transport=up.transport()).run(stop))
    await until(lambda: up.ack_seq == 2, within=5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [(b["first_seq"], b["last_seq"]) for b in up.bodies] == [(1, 2)]
    final = status(config)
    assert (final["produced"], final["acknowledged"]) == ({}, {"position": 2})
    assert (final["buffer"]["records"], final["buffer"]["next_seq"]) == (0, 3)


def test_cli_exits_0_on_sigterm_and_writes_status(tmp_path: Path, free_port: int) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(
        f"""
[gateway]
id = "wh-01"
data_dir = "data"

[cloud]
url = "http://127.0.0.1:{free_port}"
token_env = "GW_TOKEN"

[uplink]
drain_timeout_s = 0.2

[local_api]
port = 0
""",
        encoding="utf-8",
    )
    status_path = tmp_path / "data" / "status.json"
    env = {**os.environ, "GW_TOKEN": "t"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Start-up is mostly imports: seconds on a loaded shared machine, so allow 30 s.
        deadline = time.monotonic() + 30
        while not status_path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status_path.exists()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "received SIGTERM: stopping" in stderr
    assert json.loads(status_path.read_text())["gateway_id"] == "wh-01"


def test_cli_reports_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text('[gateway]\nid = "x"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "edge", "run", "--config", str(config)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"Error: {config}: gateway.data_dir: Field required" in result.stderr
    assert f"{config}: cloud: Field required" in result.stderr
