"""Config entries of the simulated store's BLE sensors, and running a connector in a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from edge.config import BleDevice
from edge.connectors.ble import BleConnector
from simulators.ble_sensors import (
    ASSET_BEACON,
    CHILLER,
    DAIRY,
    DOOR,
    DOOR_BINDKEY,
    FREEZER,
    FRIDGE,
    SHELF,
)
from tests.edge.pty_gps import until


def sensor_entries() -> list[dict[str, Any]]:
    """Every sensor of ``simulators.ble_sensors``, as ``sensors = [...]`` entries."""
    return [
        {"address": CHILLER.address, "id": CHILLER.id, "format": "ruuvi"},
        {"address": SHELF.address, "id": SHELF.id, "format": "atc"},
        {"address": FRIDGE.address, "id": FRIDGE.id, "format": "pvvx"},
        {
            "address": DOOR.address.lower(),
            "id": DOOR.id,
            "format": "bthome",
            "bindkey": DOOR_BINDKEY.hex(),
        },
        {
            "address": DAIRY.address,
            "id": DAIRY.id,
            "format": "bthome",
            "profile": "bthome-thermometer",
        },
        {"address": FREEZER.address, "id": FREEZER.id, "format": "atc"},
        {
            "id": "asset-ibeacon",
            "format": "ibeacon",
            "uuid": ASSET_BEACON.uuid.upper(),
            "major": ASSET_BEACON.major,
            "minor": ASSET_BEACON.minor,
        },
    ]


def ble_device(replay: Path, **extra: Any) -> BleDevice:
    return BleDevice.model_validate(
        {
            "id": "ble-1",
            "type": "ble",
            "backend": "replay",
            "replay_file": str(replay),
            "min_interval_s": 5.0,
            "sensors": sensor_entries(),
            **extra,
        }
    )


@contextlib.asynccontextmanager
async def running(connector: BleConnector) -> AsyncIterator[asyncio.Task[None]]:
    """The connector running as a task; stopped (and its end awaited) on exit."""
    task = asyncio.create_task(connector.run())
    try:
        yield task
    finally:
        connector.stop()
        await asyncio.wait_for(task, 5)


async def replay_to_the_end(connector: BleConnector, within: float = 10.0) -> None:
    """Run a replay connector until its file is done; it must then still be running."""
    async with running(connector) as task:
        await until(lambda: connector.status == "replay finished", within=within)
        await asyncio.sleep(0.05)
        assert not task.done(), "a finished replay must idle until stopped"
