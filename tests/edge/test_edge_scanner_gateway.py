"""A running gateway serves the scanner API: scans wait as pending while the cloud is
unreachable and leave the pending list once the cloud acknowledged them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from edge.config import parse_config
from edge.gateway import Gateway
from tests.edge.fake_cloud import FakeCloud
from tests.edge.pty_gps import until

SCAN = {
    "scanner_id": "hh-7",
    "operator": "wang.fang",
    "operation": "receive",
    "code": "]C1010950600013435237" + "12",
    "location": "DOCK-2",
}


async def test_scans_are_pending_while_the_cloud_is_down_then_sync(tmp_path: Path) -> None:
    config = parse_config(
        {
            "gateway": {"id": "wh-2", "data_dir": "data"},
            "cloud": {"url": "https://cloud.example", "token": "secret-token"},
            "uplink": {
                "interval_s": 0.02,
                "backoff_initial_s": 0.05,
                "backoff_max_s": 0.1,
                "drain_timeout_s": 1,
            },
            "local_api": {"port": 0},
        },
        source=tmp_path / "gw.toml",
        environ={},
    )
    status_path = config.gateway.data_dir / "status.json"

    def status() -> dict[str, Any]:
        return json.loads(status_path.read_text()) if status_path.exists() else {}

    cloud = FakeCloud(token="secret-token", script=["refused"] * 1000)
    stop = asyncio.Event()
    task = asyncio.create_task(Gateway(config, transport=cloud.transport()).run(stop))
    try:
        await until(lambda: bool(status().get("local_api_url")), within=5)
        async with httpx.AsyncClient(base_url=status()["local_api_url"], timeout=5) as http:
            answer = (await http.post("/api/v1/scans", json=SCAN)).json()
            assert answer["seq"] == 1
            assert answer["gtin"] == "09506000134352"
            assert answer["quantity"] == 12
            assert answer["pending_sync"] is True
            pending = (await http.get("/api/v1/scans/pending")).json()
            assert pending["count"] == 1
            assert pending["scans"][0]["code"] == "(01)09506000134352(37)12"
            assert cloud.stored == {}

            cloud.script.clear()
            await until(lambda: 1 in cloud.stored, within=5)
            # last_acked_seq only grows, so an older status.json cannot satisfy this early
            # (records == 0 could: that was also true before the scan arrived).
            await until(lambda: status().get("buffer", {}).get("last_acked_seq", 0) >= 1, within=10)
            assert (await http.get("/api/v1/scans/pending")).json() == {"count": 0, "scans": []}
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    stored = cloud.stored[1]
    assert (stored["kind"], stored["operation"], stored["location"]) == (
        "scan",
        "receive",
        "DOCK-2",
    )
    assert (stored["scanner_id"], stored["quantity"]) == ("hh-7", 12)
