"""MQTT field devices and handheld scanners through a real Mosquitto and a real gateway process
into a real cloud process: every record arrives once, scans (over HTTP and MQTT) are checked
against the catalogue the gateway downloaded and answered, and a cold-chain rule pushed from the
cloud takes effect without a restart."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import tomli_w
from paho.mqtt.enums import CallbackAPIVersion

from firmware_bridge.gs1 import with_check_digit
from firmware_bridge.records import Alarm, Measurement, Record, Scan
from firmware_bridge.wire import format_time, record_from_wire
from retailedge.processes import Child, retailedge_command, start_child
from tests.integration.cluster import (
    Cloud,
    cloud_records,
    gateway_status,
    read_jsonl,
    run_gateway,
    start_cloud,
    stop_gently,
    wait_local_api,
    wait_until,
)

GATEWAY = "store-wireless-01"
MILK = "09506000134352"
MILK_CASE = with_check_digit("1950600013435")


def create_gateway(cloud: Cloud, admin: str) -> str:
    with httpx.Client(base_url=cloud.url, timeout=10.0) as api:
        answer = api.post(
            "/api/v1/gateways", json={"id": GATEWAY}, headers={"Authorization": f"Bearer {admin}"}
        )
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def seed_catalogue(cloud: Cloud, admin: str) -> None:
    """A store with the gateway installed, a dock and a chilled bin, milk and its case."""
    items: list[tuple[str, dict[str, Any]]] = [
        (
            "/api/v1/nodes",
            {
                "id": "store-xh", "name": "Xuhui store", "kind": "store", "lat": 31.19,
                "lon": 121.44, "capabilities": ["ambient", "chilled"], "delivery_radius_km": 3,
                "gateways": [GATEWAY],
            },
        ),
        (
            "/api/v1/zones",
            {"id": "store-xh-chilled", "node_id": "store-xh", "name": "Chiller",
             "temperature_class": "chilled", "alarm_subjects": ["chiller-1"]},
        ),
        ("/api/v1/locations", {"node_id": "store-xh", "code": "DOCK-1"}),
        (
            "/api/v1/locations",
            {"node_id": "store-xh", "code": "C-01-01", "zone_id": "store-xh-chilled"},
        ),
        (
            "/api/v1/skus",
            {"id": "milk-1l", "gtin": MILK, "name": "Fresh milk 1 L", "category": "dairy",
             "temperature_class": "chilled", "weight_g": 1030, "volume_cm3": 1100},
        ),
        (
            "/api/v1/skus",
            {"id": "milk-1l-x12", "gtin": MILK_CASE, "name": "Fresh milk 1 L, case of 12",
             "category": "dairy", "temperature_class": "chilled", "weight_g": 12400,
             "volume_cm3": 14000, "pack_of": "milk-1l", "pack_quantity": 12},
        ),
    ]  # fmt: skip
    with httpx.Client(base_url=cloud.url, timeout=10.0) as api:
        for path, body in items:
            answer = api.post(path, json=body, headers={"Authorization": f"Bearer {admin}"})
            assert answer.status_code == 201, (path, answer.text)


def write_config(
    tmp: Path,
    cloud_url: str,
    token: str,
    prefix: str,
    *,
    gateway_id: str,
    coldchain: list[dict[str, Any]],
    uplink: dict[str, Any],
) -> tuple[Path, Path]:
    """A gateway hearing MQTT devices under ``prefix`` on the local Mosquitto, uploading to
    ``cloud_url`` with fast retries plus ``uplink``. Returns (config path, data folder)."""
    data_dir = tmp / "gateways" / gateway_id
    data_dir.mkdir(parents=True)
    config = {
        "gateway": {"id": gateway_id, "data_dir": str(data_dir)},
        "cloud": {"url": cloud_url, "token": token},
        "uplink": {"interval_s": 0.05, "backoff_initial_s": 0.1, "drain_timeout_s": 5.0, **uplink},
        "local_api": {"host": "127.0.0.1", "port": 0},
        "devices": [
            {
                "id": "mqtt-1",
                "type": "mqtt",
                "host": "127.0.0.1",
                "port": 1883,
                "client_id": f"gw-{uuid.uuid4().hex[:12]}",
                "topic_prefix": prefix,
                "session_expiry_s": 60,
            }
        ],
        "coldchain": coldchain,
    }
    path = data_dir / "gateway.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path, data_dir


@contextlib.contextmanager
def device(host: str, port: int) -> Iterator[paho.Client]:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish(client: paho.Client, topic: str, payload: bytes) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(5)
    assert info.is_published()


def mqtt_status(data_dir: Path, device_id: str) -> str | None:
    devices = gateway_status(data_dir).get("connectors", {}).get("mqtt-1", {}).get("devices", {})
    status = devices.get(device_id, {}).get("status")
    return status if isinstance(status, str) else None


def subscribed(client: paho.Client, prefix: str, data_dir: Path, gateway: Child) -> None:
    """Until the gateway hears a device (its subscriptions are in place)."""

    def heard() -> bool:
        gateway.ensure_running()
        publish(client, f"{prefix}/s1/handshake/status", b"online")
        return mqtt_status(data_dir, "handshake") == "online"

    wait_until(heard, 15, "the gateway to subscribe to the broker")


def finished(child: Child, timeout_s: float = 20) -> None:
    assert child.process.wait(timeout=timeout_s) == 0, child.tail()


def by_kind(records: dict[int, Record], kind: type) -> list[Any]:
    return [r for r in records.values() if isinstance(r, kind)]


def same_except_time(stored: Scan, logged: Scan) -> bool:
    return (stored.scanner_id, stored.operator, stored.operation, stored.code) == (
        logged.scanner_id,
        logged.operator,
        logged.operation,
        logged.code,
    ) and (stored.quantity, stored.location) == (logged.quantity, logged.location)


def test_devices_and_scanners_reach_the_cloud_once_and_a_pushed_rule_takes_effect(
    tmp_path: Path, mqtt_broker: tuple[str, int], free_port: int
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    cloud = start_cloud(tmp_path, free_port)
    gateway: Child | None = None
    try:
        admin = cloud.create_admin()
        token = create_gateway(cloud, admin)
        seed_catalogue(cloud, admin)
        config, data_dir = write_config(
            tmp_path,
            cloud.url,
            token,
            prefix,
            gateway_id=GATEWAY,
            # In band for the simulated chiller probe (2-4 °C): no alarm until the cloud's rule.
            coldchain=[
                {
                    "zone": "chiller-1",
                    "devices": ["chiller-probe"],
                    "min_c": 0.0,
                    "max_c": 8.0,
                    "tolerance_s": 0,
                }
            ],
            uplink={"backoff_max_s": 1.0, "config_poll_s": 0.3},
        )
        gateway = run_gateway(tmp_path, config, data_dir)
        local_url = wait_local_api(gateway, data_dir)

        def catalogue_applied() -> bool:
            gateway.ensure_running()
            return bool(gateway_status(data_dir).get("downlink", {}).get("catalogue_etag"))

        wait_until(catalogue_applied, 15, "the gateway to download its catalogue")
        assert (data_dir / "catalogue.json").exists()

        with device(*mqtt_broker) as client:
            subscribed(client, prefix, data_dir, gateway)
            broker = ["--host", mqtt_broker[0], "--port", str(mqtt_broker[1])]
            topics = ["--topic-prefix", prefix, "--site", "s1"]
            devices = start_child(
                "mqtt devices",
                retailedge_command(
                    "simulate", "mqtt-devices", *broker, *topics, "--readings", "5",
                    "--period", "0.1", "--silent-after", "2",
                    "--emit-log", str(tmp_path / "devices.jsonl"),
                ),
                tmp_path / "logs" / "devices.log",
            )  # fmt: skip
            scanner = start_child(
                "scanner",
                retailedge_command(
                    "simulate", "scanner", "--via", "both", "--gateway-url", local_url,
                    *broker, *topics, "--scanner-id", "hh-1", "--mistakes",
                    "--catalogue", str(data_dir / "catalogue.json"),
                    "--emit-log", str(tmp_path / "scans.jsonl"),
                ),
                tmp_path / "logs" / "scanner.log",
            )  # fmt: skip
            finished(devices)
            finished(scanner)
            measurements = [record_from_wire(r) for r in read_jsonl(tmp_path / "devices.jsonl")]
            scan_lines = read_jsonl(tmp_path / "scans.jsonl")
            expected = len(measurements) + len(scan_lines)
            assert (len(measurements), len(scan_lines)) == (5 * 4 + 2, 8)

            def all_stored() -> bool:
                gateway.ensure_running()
                return len(cloud_records(cloud, GATEWAY)) >= expected

            wait_until(all_stored, 20, f"the cloud to store {expected} records")
            stored = cloud_records(cloud, GATEWAY)
            assert len(stored) == expected  # nothing twice (a seq is one record)

            # Telemetry: exactly the readings the devices had confirmed by the broker.
            assert Counter(map(repr, by_kind(stored, Measurement))) == Counter(
                map(repr, measurements)
            )
            # Each accepted scan at the seq the gateway answered, as it answered: over MQTT
            # exactly (the time is the handheld's), over HTTP but for the time (the gateway's).
            mqtt_lines = [r for r in scan_lines if r["scanner_id"] == "hh-1-mqtt"]
            http_scans = [r for r in scan_lines if r["scanner_id"] == "hh-1-http"]
            assert (len(mqtt_lines), len(http_scans)) == (4, 4)
            mqtt_scans = [record_from_wire({k: v for k, v in line.items() if k != "seq"})
                          for line in mqtt_lines]  # fmt: skip
            assert [stored[line["seq"]] for line in mqtt_lines] == mqtt_scans
            assert sorted(map(repr, mqtt_scans)) == sorted(
                repr(s) for s in by_kind(stored, Scan) if s.scanner_id == "hh-1-mqtt"
            )
            for line in http_scans:
                logged = record_from_wire({k: v for k, v in line.items() if k != "seq"})
                assert isinstance(logged, Scan)
                assert same_except_time(stored[line["seq"]], logged), (stored[line["seq"]], line)
            assert {s.location for s in mqtt_scans} == {"DOCK-1", "C-01-01"}
            mqtt_report, report = map(json.loads, scanner.log_path.read_text().splitlines()[-2:])
            products = [
                None,  # the pallet (SSCC)
                "Fresh milk 1 L, case of 12",
                "Fresh milk 1 L",
                "Fresh milk 1 L",
            ]
            assert report["via"] == "http" and report["products"] == products
            assert [msg.split(":")[0] for msg in report["refused"]] == ["422 unknown_location"]
            # The mistake over MQTT is refused too: answered, dead-lettered, not stored.
            assert (mqtt_report["via"], mqtt_report["sent"], mqtt_report["accepted"]) == (
                "mqtt",
                5,
                4,
            )
            assert mqtt_report["products"] == products and mqtt_report["unanswered"] == 0
            assert [msg.split(":")[0] for msg in mqtt_report["refused"]] == ["unknown_location"]

            def refusal_counted() -> bool:
                counters = gateway_status(data_dir)["connectors"]["mqtt-1"]["counters"]
                return (counters["scans_refused"], counters["dead_letters"]) == (1, 1)

            wait_until(refusal_counted, 5, "the gateway to count the refused MQTT scan")
            assert by_kind(stored, Alarm) == []
            wait_until(
                lambda: mqtt_status(data_dir, "dying-probe") == "offline",
                10,
                "the silent probe's Last Will",
            )

            # The cloud tightens the chiller's band; the running gateway applies it.
            rule = {"zone": "chiller-1", "devices": ["chiller-probe"], "max_c": 1.0,
                    "tolerance_s": 0}  # fmt: skip
            with httpx.Client(base_url=cloud.url, timeout=10.0) as api:
                answer = api.put(
                    f"/api/v1/gateways/{GATEWAY}/config",
                    json={"coldchain": [rule]},
                    headers={"Authorization": f"Bearer {admin}"},
                )
            assert (answer.status_code, answer.headers["etag"]) == (200, '"1"'), answer.text

            def applied() -> bool:
                gateway.ensure_running()
                downlink = gateway_status(data_dir).get("downlink", {})
                return downlink.get("config_version") == 1

            wait_until(applied, 10, "the gateway to apply config version 1")
            reading = {
                "msg_id": f"after-push-{uuid.uuid4().hex[:6]}",
                "time": format_time(datetime.now(UTC).replace(microsecond=0)),
                "readings": [{"quantity": "temperature", "value": 3.0, "unit": "Cel"}],
            }
            publish(client, f"{prefix}/s1/chiller-probe/telemetry", json.dumps(reading).encode())

            def alarm_stored() -> list[Alarm]:
                gateway.ensure_running()
                return by_kind(cloud_records(cloud, GATEWAY), Alarm)

            wait_until(lambda: bool(alarm_stored()), 15, "the excursion alarm in the cloud")
        [alarm] = alarm_stored()
        assert (alarm.rule, alarm.subject, alarm.ended_at) == (
            "coldchain.excursion",
            "chiller-1/chiller-probe",
            None,
        )
        assert alarm.evidence["band"] == {"min_c": None, "max_c": 1.0, "tolerance_s": 0.0}
        assert alarm.evidence["peak"]["value_c"] == 3.0
    finally:
        if gateway is not None and gateway.process.poll() is None:
            stop_gently(gateway)
        stop_gently(cloud.child)
