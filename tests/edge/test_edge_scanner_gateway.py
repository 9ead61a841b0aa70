"""A running gateway serves the scanner API: scans wait as pending while the cloud is
unreachable and leave the pending list once the cloud acknowledged them; and it checks MQTT
scans against the catalogue it downloaded, answering each."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from edge.config import parse_config
from edge.downlink import CATALOGUE_PATH
from edge.gateway import Gateway
from tests.edge.downlink_docs import MILK_GTIN, SNAPSHOT
from tests.edge.fake_cloud import FakeCloud
from tests.edge.mqtt_answers import AnswerListener
from tests.edge.mqtt_helpers import Publisher, forget_session
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


async def test_mqtt_scans_are_checked_against_the_catalogue_the_gateway_downloaded(
    tmp_path: Path, mqtt_broker: tuple[str, int]
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    client_id = f"gw-{uuid.uuid4().hex[:12]}"
    config = parse_config(
        {
            "gateway": {"id": "wh-2", "data_dir": "data"},
            "cloud": {"url": "https://cloud.example", "token": "secret-token"},
            "uplink": {"interval_s": 0.02, "drain_timeout_s": 1},
            "local_api": {"enabled": False},
            "devices": [
                {
                    "id": "mqtt-1",
                    "type": "mqtt",
                    "host": mqtt_broker[0],
                    "port": mqtt_broker[1],
                    "client_id": client_id,
                    "topic_prefix": prefix,
                    "session_expiry_s": 60,
                }
            ],
        },
        source=tmp_path / "gw.toml",
        environ={},
    )
    status_path = config.gateway.data_dir / "status.json"

    def subscribed() -> bool:
        if not status_path.exists():
            return False
        return bool(json.loads(status_path.read_text())["connectors"]["mqtt-1"]["subscribed"])

    cloud = FakeCloud(token="secret-token", downlink={CATALOGUE_PATH: ('"c1"', SNAPSHOT)})
    gateway = Gateway(config, transport=cloud.transport())
    ear = AnswerListener(mqtt_broker, f"{prefix}/+/+/scan/answer")
    publisher = Publisher(*mqtt_broker)
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    try:
        await until(lambda: gateway.downlink is not None and gateway.downlink.catalogue is not None)
        await until(subscribed, within=5)
        scan = {
            "time": "2026-03-01T08:00:09Z",
            "operator": "wang.fang",
            "operation": "pick",
            "code": MILK_GTIN,
            "quantity": 1,
        }
        topic = f"{prefix}/dc-1/hh-7/scan"
        publisher.publish(topic, json.dumps({**scan, "msg_id": "m-1", "location": "X"}).encode())
        publisher.publish(
            topic, json.dumps({**scan, "msg_id": "m-2", "location": "A-01-01"}).encode()
        )
        answers = await ear.wait_for(2)
        assert [(a.body["msg_id"], a.body["accepted"]) for a in answers] == [
            ("m-1", False),
            ("m-2", True),
        ]
        assert answers[0].body["error"]["code"] == "unknown_location"
        assert answers[1].body["product"]["name"] == "Fresh milk 1 L"
        await until(lambda: len(cloud.stored) == 1, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        publisher.close()
        ear.close()
        forget_session(mqtt_broker, client_id)
    [stored] = cloud.stored.values()
    assert (stored["kind"], stored["scanner_id"], stored["code"], stored["location"]) == (
        "scan",
        "hh-7",
        f"(01){MILK_GTIN}",
        "A-01-01",
    )
