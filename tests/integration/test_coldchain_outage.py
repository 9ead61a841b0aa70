"""A cold-chain excursion while the cloud is unreachable: a real gateway process raises the
alarm and clears it on its own, from MQTT readings through the real Mosquitto, and both alarm
records reach the real cloud, once each, after the uplink returns."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from firmware_bridge.records import Alarm
from firmware_bridge.wire import format_time
from retailedge.processes import Child
from tests.integration.cluster import (
    cloud_records,
    gateway_status,
    run_gateway,
    start_cloud,
    stop_gently,
    wait_until,
)
from tests.integration.faults import FaultProxy
from tests.integration.test_wireless_to_cloud import device, publish, subscribed, write_config

GATEWAY = "store-outage-01"


def reading(client: paho.Client, prefix: str, value_c: float) -> None:
    body = {
        "msg_id": uuid.uuid4().hex,
        "time": format_time(datetime.now(UTC)),
        "readings": [{"quantity": "temperature", "value": value_c, "unit": "Cel"}],
    }
    publish(client, f"{prefix}/s1/probe-a/telemetry", json.dumps(body).encode())


def coldchain(data_dir: Path) -> dict[str, Any]:
    section = gateway_status(data_dir).get("coldchain", {})
    return section if isinstance(section, dict) else {}


def test_an_excursion_during_an_outage_is_raised_cleared_and_delivered_once(
    tmp_path: Path, mqtt_broker: tuple[str, int], free_port: int
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    cloud = start_cloud(tmp_path, free_port)
    gateway: Child | None = None
    try:
        token = cloud.create_gateway(GATEWAY)
        with FaultProxy(cloud.url) as proxy:
            proxy.down()
            config, data_dir = write_config(
                tmp_path,
                proxy.url,
                token,
                prefix,
                gateway_id=GATEWAY,
                coldchain=[
                    {
                        "zone": "chiller-1",
                        "devices": ["probe-a"],
                        "min_c": 0.0,
                        "max_c": 4.0,
                        "tolerance_s": 1.0,
                    }
                ],
                uplink={"backoff_max_s": 0.5},
            )
            gateway = run_gateway(tmp_path, config, data_dir)
            with device(*mqtt_broker) as client:
                subscribed(client, prefix, data_dir, gateway)
                reading(client, prefix, 3.0)
                reading(client, prefix, 9.5)

                def raised() -> bool:
                    gateway.ensure_running()
                    return coldchain(data_dir).get("raised") == 1

                wait_until(raised, 15, "the gateway to raise the excursion on its own")
                reading(client, prefix, 11.0)
                reading(client, prefix, 2.5)

                def cleared() -> bool:
                    gateway.ensure_running()
                    return coldchain(data_dir).get("cleared") == 1

                wait_until(cleared, 15, "the gateway to clear the excursion")
            uplink = gateway_status(data_dir)["uplink"]
            assert uplink["consecutive_failures"] > 0 and uplink["last_ack_seq"] in (None, 0)
            assert cloud_records(cloud, GATEWAY) == {}  # nothing got through the outage

            proxy.pass_through()

            def delivered() -> list[Alarm]:
                gateway.ensure_running()
                stored = cloud_records(cloud, GATEWAY).values()
                return [r for r in stored if isinstance(r, Alarm)]

            wait_until(lambda: len(delivered()) >= 2, 20, "both alarm records in the cloud")
            # let the gateway finish draining, then check nothing arrived twice
            wait_until(
                lambda: gateway_status(data_dir)["buffer"]["records"] == 0, 10, "an empty buffer"
            )
        alarms = sorted(delivered(), key=lambda a: a.ended_at is not None)
        assert len(alarms) == 2, alarms
        opened, closed = alarms
        assert (opened.rule, opened.subject, opened.ended_at) == (
            "coldchain.excursion",
            "chiller-1/probe-a",
            None,
        )
        assert (closed.rule, closed.subject) == ("coldchain.excursion", "chiller-1/probe-a")
        assert closed.started_at == opened.started_at and closed.ended_at is not None
        assert closed.ended_at > closed.started_at
        assert closed.evidence["peak"]["value_c"] == 11.0
        assert closed.evidence["first_out"]["value_c"] == 9.5
    finally:
        if gateway is not None and gateway.process.poll() is None:
            stop_gently(gateway)
        stop_gently(cloud.child)
