"""The live fleet simulation through the real path: a real cloud process with its dispatch loop,
a real gateway process subscribed to the real Mosquitto, and ``retailedge simulate live-fleet``
as a process: riders and reefer vans publish GPS fixes and compartment temperatures over MQTT,
the gateway uplinks them, the cloud plans and the riders deliver; one reefer's chiller fails."""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from retailedge.processes import Child, retailedge_command
from tests.integration.cluster import (
    Cloud,
    gateway_status,
    run_gateway,
    start_cloud,
    stop_gently,
    wait_until,
)

pytestmark = pytest.mark.integration

GATEWAY = "fleet-gw-1"
STORE_LAT, STORE_LON = 31.188, 121.437
STORE = {"id": "fw-test", "lat": STORE_LAT, "lon": STORE_LON}
EBIKE_MAX_MPS = 18 / 3.6 + 0.05  # the fastest e-bike, rounded as trackers send speed


def seed(api: httpx.Client) -> None:
    """A front warehouse open around the clock, ambient and chilled SKUs (and a case, which
    orders must not use), and one channel of each kind."""
    sku = {"category": "grocery", "weight_g": 500, "volume_cm3": 600}
    items: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/nodes", {**STORE, "name": "Test front warehouse", "kind": "front_warehouse",
                           "capabilities": ["ambient", "chilled"], "delivery_radius_km": 3}),
        ("/api/v1/skus", {**sku, "id": "water", "gtin": "6901234500011", "name": "Water",
                          "temperature_class": "ambient"}),
        ("/api/v1/skus", {**sku, "id": "noodles", "gtin": "6901234500028", "name": "Noodles",
                          "temperature_class": "ambient"}),
        ("/api/v1/skus", {**sku, "id": "milk", "gtin": "6901234500080", "name": "Milk",
                          "temperature_class": "chilled"}),
        ("/api/v1/skus", {**sku, "id": "yogurt", "gtin": "6901234500097", "name": "Yogurt",
                          "temperature_class": "chilled"}),
        ("/api/v1/skus", {**sku, "id": "water-x24", "gtin": "16901234500018", "name": "Water x24",
                          "temperature_class": "ambient", "pack_of": "water",
                          "pack_quantity": 24}),
        ("/api/v1/channels", {"id": "app", "kind": "app"}),
        ("/api/v1/channels", {"id": "tmall", "kind": "marketplace"}),
        ("/api/v1/channels", {"id": "meituan", "kind": "delivery_platform"}),
    ]  # fmt: skip
    for path, body in items:
        answer = api.post(path, json=body)
        assert answer.status_code == 201, (path, answer.text)


def start_fleet_gateway(
    tmp: Path, cloud: Cloud, api: httpx.Client, prefix: str
) -> tuple[Child, Path]:
    answer = api.post("/api/v1/gateways", json={"id": GATEWAY})
    assert answer.status_code == 201, answer.text
    data_dir = tmp / "gateways" / GATEWAY
    data_dir.mkdir(parents=True)
    config = {
        "gateway": {"id": GATEWAY, "data_dir": str(data_dir)},
        "cloud": {"url": cloud.url, "token": answer.json()["token"]},
        "uplink": {"interval_s": 0.05, "backoff_initial_s": 0.1, "backoff_max_s": 1.0,
                   "drain_timeout_s": 5.0},
        "local_api": {"enabled": False},
        "devices": [{"id": "fleet-mqtt", "type": "mqtt", "client_id": f"gw-{uuid.uuid4().hex[:12]}",
                     "topic_prefix": prefix, "session_expiry_s": 60, "max_speed_mps": 40.0}],
    }  # fmt: skip
    path = data_dir / "gateway.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    gateway = run_gateway(tmp, path, data_dir)

    def subscribed() -> bool:
        gateway.ensure_running()
        connector = gateway_status(data_dir).get("connectors", {}).get("fleet-mqtt", {})
        return bool(connector.get("status") == "connected")

    wait_until(subscribed, 30, "the fleet gateway to connect to the broker")
    return gateway, data_dir


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    north = (lat2 - lat1) * 111_320
    east = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(north, east)


def test_riders_and_reefers_deliver_through_the_gateway_and_a_failed_reefer_is_replanned(
    tmp_path: Path,
    mqtt_broker: tuple[str, int],
    free_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETAILEDGE_HANDLING_MINUTES", "0.25")  # ready 15 s after placement
    monkeypatch.setenv("RETAILEDGE_DISPATCH_INTERVAL_S", "2")
    monkeypatch.setenv("RETAILEDGE_WEBHOOK_SENDER", "false")
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    cloud = start_cloud(tmp_path, free_port)
    gateway: Child | None = None
    try:
        admin = cloud.create_admin()
        api = httpx.Client(
            base_url=cloud.url, headers={"Authorization": f"Bearer {admin}"}, timeout=10.0
        )
        seed(api)
        gateway, gateway_dir = start_fleet_gateway(tmp_path, cloud, api, prefix)
        argv = retailedge_command(
            "simulate", "live-fleet", "--cloud-url", cloud.url, "--api-key", admin,
            "--mqtt-host", mqtt_broker[0], "--mqtt-port", str(mqtt_broker[1]),
            "--topic-prefix", prefix, "--riders", "3", "--vans", "0", "--reefers", "2",
            "--orders", "6", "--duration", "10", "--finish-within", "60", "--radius-km", "0.15",
            "--fail-reefer", "2", "--pickup-s", "3", "--drop-s", "3", "--gps-period", "1",
            "--sensor-period", "1", "--chilled-share", "0.5", "--seed", "3", "--json",
        )  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        gateway.ensure_running()

        # Orders delivered with proof, as the couriers recorded them, and as the cloud has them.
        delivered = api.get("/api/v1/dispatch/tasks", params={"status": "delivered"}).json()
        assert report["delivered"] >= 2, report
        assert len({t["order_id"] for t in delivered}) == report["delivered"]
        orders = api.get("/api/v1/orders", params={"status": "delivered"}).json()["items"]
        assert len(orders) == report["delivered"] == report["checks"]["delivered_orders_in_cloud"]
        for task in delivered:
            assert set(task["proof"]) == {"code"} and len(task["proof"]["code"]) == 6, task
            assert task["picked_up_at"] < task["finished_at"]
        assert report["checks"]["tasks_taken_by_two_couriers"] == []
        assert report["checks"]["deliveries_not_as_recorded"] == []
        all_orders = api.get("/api/v1/orders", params={"limit": 100}).json()["items"]
        assert len(all_orders) == report["orders_placed"] == 6
        assert report["orders_allocated"] == sum(o["status"] != "failed" for o in all_orders)

        # Every GPS fix the trackers published went through the gateway, once; the cloud places
        # each courier by them, near the store, at e-bike or van speeds.
        stats = api.get("/api/v1/stats").json()
        assert stats["stored"]["position"] == report["gps_fixes"]

        def all_acknowledged() -> bool:
            acknowledged = gateway_status(gateway_dir).get("acknowledged", {})
            return bool(acknowledged.get("position") == report["gps_fixes"])

        wait_until(all_acknowledged, 10, "the gateway's status to show every fix acknowledged")
        counters = gateway_status(gateway_dir)["connectors"]["fleet-mqtt"]["counters"]
        assert counters["positions"] == report["gps_fixes"]
        assert (counters["positions_rejected"], counters["dead_letters"]) == (0, 0)
        couriers = {c["id"]: c for c in api.get("/api/v1/couriers").json()}
        assert len(couriers) == 5 and report["checks"]["positions_not_from_last_fix"] == []
        for courier in couriers.values():
            position = courier["position"]
            assert position["source"] == "gps", courier
            assert metres(STORE_LAT, STORE_LON, position["lat"], position["lon"]) < 400
            track = api.get(
                f"/api/v1/vehicles/{courier['gps_device_id']}/track", params={"limit": 10000}
            ).json()
            speeds = [fix["speed_mps"] for fix in track["positions"]]
            assert len(speeds) >= 10, courier["id"]
            top = 27 / 3.6 + 0.05 if courier["kind"] == "reefer_van" else EBIKE_MAX_MPS
            assert max(speeds) <= top, (courier["id"], max(speeds))
            assert not courier["active"]  # retired at the end of the run

        # The failed reefer: chilled skill gone in the cloud, its chilled work flagged, and what
        # it had not picked up went back to be planned for someone else.
        failure = report["reefer_failure"]
        failed = couriers[failure["courier_id"]]
        assert failed["skills"] == ["chilled"] and failed["effective_skills"] == []
        [chiller] = failed["compartments"]
        assert chiller["latest_c"] > chiller["max_c"] and not chiller["in_band"]
        assert failure["skill_lost_at"] is not None and failure["skill_lost_after_s"] < 30
        flags = api.get("/api/v1/dispatch/flags", params={"include_resolved": True}).json()
        flagged = {f["task_id"] for f in flags if f["courier_id"] == failed["id"]}
        assert flagged and flagged == set(failure["flagged"])
        assert all(f["kind"] == "cold_chain_out_of_band" for f in flags)
        not_on_board = [h for h in failure["chilled_tasks_held"] if h["when_failed"] != "picked_up"]
        assert not_on_board and failure["replanned"] == len(not_on_board)
        tasks = {t["id"]: t for t in api.get("/api/v1/dispatch/tasks").json()}
        for held in not_on_board:
            assert held["task_id"] in flagged
            assert tasks[held["task_id"]]["courier_id"] != failed["id"]
        other = next(c for c in couriers.values() if c["kind"] == "reefer_van" and c != failed)
        assert other["effective_skills"] == ["chilled"]

        # The figures agree with each other.
        # on time is a share of the allocated orders, rounded to 4 places like the report's
        delivered_share = round(report["delivered"] / report["orders_allocated"], 4)
        assert 0 < report["on_time_rate"] <= delivered_share
        assert report["km_per_order"] == pytest.approx(
            report["km_total"] / report["delivered"], abs=0.001
        )
        assert 0 <= report["batch_rate"] <= 1 and report["eta_mae_min"] is not None
        assert report["eta_mae_min"] > 0 and report["eta_p90_abs_error_min"] > 0
    finally:
        if gateway is not None and gateway.process.poll() is None:
            stop_gently(gateway)
        stop_gently(cloud.child)
