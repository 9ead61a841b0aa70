"""The BLE scanner watchdog: a scanner that stops delivering is restarted, with backoff."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from edge.config import BleDevice
from edge.connectors.ble import BleConnector
from edge.connectors.ble_backends import BleakBackend
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_ruuvi import MANUFACTURER_ID, RuuviData, encode_ruuvi
from firmware_bridge.records import Measurement, Quantity, Record
from simulators.ble_sensors import CHILLER
from tests.edge.ble_helpers import running
from tests.edge.pty_gps import until

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def device(**extra: Any) -> BleDevice:
    return BleDevice.model_validate(
        {
            "id": "ble-1",
            "type": "ble",
            "min_interval_s": 0.0,
            "sensors": [{"address": CHILLER.address, "id": CHILLER.id, "format": "ruuvi"}],
            **extra,
        }
    )


def reading(sequence: int) -> Advertisement:
    data = RuuviData(3.0, 50.0, 1000.0, (0, 0, 0), 3.0, 4, 0, sequence, CHILLER.address)
    return Advertisement(CHILLER.address, -60, None, {MANUFACTURER_ID: encode_ruuvi(data)}, {})


class StallingBackend:
    """Session n delivers ``script[n]`` adverts, then hangs like a dead adapter."""

    def __init__(self, script: Sequence[int]) -> None:
        self.script = script
        self.opened = 0
        self.closed = 0

    async def adverts(self) -> AsyncIterator[Advertisement]:
        session = self.opened
        self.opened += 1
        try:
            count = self.script[session] if session < len(self.script) else 0
            for i in range(count):
                yield reading(session * 100 + i)
            await asyncio.Event().wait()
        finally:
            self.closed += 1


def temperatures(got: list[Record]) -> int:
    return sum(isinstance(r, Measurement) and r.quantity is Quantity.TEMPERATURE for r in got)


async def test_a_silent_scanner_is_restarted_with_backoff_until_sensors_come_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.connectors.ble")
    backend = StallingBackend([1, 0, 0, 2, 0])
    got: list[Record] = []
    conn = BleConnector(
        device(stall_after_s=0.2, retry_initial_s=0.1, retry_max_s=0.4),
        got.extend,
        backend=backend,
    )
    async with running(conn):
        await until(lambda: backend.opened == 5, within=5)
        snap = conn.snapshot()
        assert snap["watchdog"]["restarts"] == 4
        assert snap["watchdog"]["last_restart_at"] is not None
        # Every restart closed the stalled session first (the real backend stops its scanner).
        assert backend.closed == 4
        assert temperatures(got) == 3  # one from the first session, two after the restarts
    delays = [
        float(found) for found in re.findall(r"restarting the scanner in ([\d.]+) s", caplog.text)
    ]
    # Doubling while restarts bring nothing back, from the start again once a sensor is heard.
    assert delays[:4] == [0.1, 0.2, 0.4, 0.1]
    assert backend.closed == backend.opened


@dataclass
class FakeScanner:
    callback: Any
    kwargs: dict[str, Any]
    stop_error: Exception | None = None
    started: bool = False
    stopped: bool = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        if self.stop_error is not None:
            raise self.stop_error


@dataclass
class Adapter:
    """Makes scanners; the first one's adapter dies after its first advert."""

    made: list[FakeScanner] = field(default_factory=list)

    def __call__(self, detection_callback: Any, **kwargs: Any) -> FakeScanner:
        error = OSError("org.bluez.Error.NotReady") if not self.made else None
        scanner = FakeScanner(detection_callback, kwargs, stop_error=error)
        self.made.append(scanner)
        return scanner

    def hear(self, scanner: int, sequence: int) -> None:
        """The scanner's bleak callback with a (duck-typed) BLEDevice and AdvertisementData."""
        data = SimpleNamespace(
            rssi=-60,
            local_name=None,
            manufacturer_data=reading(sequence).manufacturer_data,
            service_data={},
        )
        self.made[scanner].callback(SimpleNamespace(address=CHILLER.address), data)


async def test_a_bleak_scanner_whose_adapter_died_is_stopped_and_started_again() -> None:
    adapter = Adapter()
    settings = device(stall_after_s=0.3, retry_initial_s=0.05, retry_max_s=0.1)
    backend = BleakBackend(
        adapter=None, passive=True, clock=lambda: T0, formats={"ruuvi"}, scanner_factory=adapter
    )
    got: list[Record] = []
    conn = BleConnector(settings, got.extend, backend=backend, clock=lambda: T0)
    async with running(conn):
        await until(lambda: len(adapter.made) == 1 and adapter.made[0].started)
        adapter.hear(0, 1)
        await until(lambda: temperatures(got) == 1)
        assert conn.snapshot()["status"] == "scanning"
        # The adapter is gone: nothing more comes, and stopping the scan fails.
        await until(lambda: len(adapter.made) == 2 and adapter.made[1].started, within=3)
        assert adapter.made[0].stopped
        adapter.hear(1, 2)
        await until(lambda: temperatures(got) == 2)
        snap = conn.snapshot()
        assert (snap["status"], snap["watchdog"]["restarts"]) == ("scanning", 1)
        assert (snap["adapter_errors"], snap["last_adapter_error"]) == (
            1,
            "stopping the scan: OSError: org.bluez.Error.NotReady",
        )
        assert snap["watchdog"]["silent_for_s"] < 0.3


async def test_the_watchdog_can_be_switched_off() -> None:
    backend = StallingBackend([1])
    conn = BleConnector(device(stall_after_s=0), lambda records: None, backend=backend)
    async with running(conn):
        await asyncio.sleep(0.3)
        assert (backend.opened, conn.restarts, conn.status) == (1, 0, "scanning")
