"""A seeded network with stock, couriers with rider keys, orders, and a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from cloud.fleet_models import DeliveryTask
from cloud.services.dispatch_loop import DispatchLoop
from firmware_bridge.records import Measurement, Quantity, Unit
from tests.cloud.allocation.helpers import OPEN_HOURS, set_clock
from tests.cloud.cloud_helpers import Cloud, batch, wire
from tests.cloud.domain_seed import FW_XUHUI

SHIFT = {
    "start": (OPEN_HOURS - timedelta(hours=2)).isoformat(),
    "end": (OPEN_HOURS + timedelta(hours=6)).isoformat(),
}
XUHUI_NODE = (31.1880, 121.4370)


def courier_body(courier_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": courier_id,
        "kind": "rider",
        "capacity": 6,
        "skills": ["chilled"],
        "shifts": [SHIFT],
        "home_node_id": FW_XUHUI,
    }
    body.update(changes)
    return body


def reefer_body(courier_id: str, sensor: str) -> dict[str, Any]:
    return courier_body(
        courier_id,
        kind="reefer_van",
        capacity=40,
        skills=["chilled"],
        gps_device_id=f"{courier_id}-gps",
        compartments=[
            {
                "name": "chiller",
                "sensor_device_id": sensor,
                "temperature_class": "chilled",
                "min_c": 0.0,
                "max_c": 4.0,
            }
        ],
    )


async def add_courier(cloud: Cloud, body: dict[str, Any]) -> str:
    """Register the courier and return its rider app key."""
    response = await cloud.client.post(
        "/api/v1/couriers", json=body, headers=cloud.auth(cloud.operator)
    )
    assert response.status_code == 201, response.text
    response = await cloud.client.post(
        "/api/v1/users", json={"name": body["id"], "role": "rider"}, headers=cloud.auth(cloud.admin)
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def dispatch(cloud: Cloud) -> DispatchLoop:
    loop: DispatchLoop = cloud.client._transport.app.state.dispatch  # type: ignore[attr-defined]
    return loop


async def run_dispatch(cloud: Cloud) -> dict[str, Any]:
    response = await cloud.client.post("/api/v1/dispatch/run", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def advance(cloud: Cloud, moment: datetime) -> None:
    set_clock(cloud, moment)


async def rider_step(
    cloud: Cloud, key: str, task_id: str, step: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await cloud.client.post(
        f"/api/v1/rider/tasks/{task_id}/{step}", json=body, headers=cloud.auth(key)
    )


async def task_row(cloud: Cloud, task_id: str) -> DeliveryTask:
    async with cloud.database.sessions() as session:
        row = await session.scalar(select(DeliveryTask).where(DeliveryTask.id == task_id))
    assert row is not None
    return row


async def send_temperature(cloud: Cloud, device: str, value: float, at: datetime, seq: int) -> None:
    record = Measurement(device, at, Quantity.TEMPERATURE, value, Unit.CELSIUS)
    response = await cloud.client.post(
        "/api/v1/ingest",
        json=batch("gw-a", seq, seq, [wire(record, seq)], sent_at=at),
        headers=cloud.auth(cloud.gateway_a),
    )
    assert response.status_code == 200, response.text
