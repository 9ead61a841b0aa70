"""BleakBackend's bridge from bleak's detection callback to an async iterator (fake scanner:
CI has no Bluetooth adapter)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.connectors.ble_backends import BleakBackend
from firmware_bridge.ble_advert import Advertisement

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass
class FakeDevice:
    address: str


@dataclass
class FakeAdvertisementData:
    rssi: int
    local_name: str | None
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)


class FakeScanner:
    """Records how it was made; ``refuse`` lists scanning modes whose start() fails."""

    def __init__(self, refuse: set[str], detection_callback: Any, **kwargs: Any) -> None:
        self.callback = detection_callback
        self.kwargs = kwargs
        self.refuse = refuse
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        if self.kwargs["scanning_mode"] in self.refuse:
            raise OSError(f"{self.kwargs['scanning_mode']} scanning not supported")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


def factory(refuse: set[str], made: list[FakeScanner]) -> Any:
    def build(**kwargs: Any) -> FakeScanner:
        scanner = FakeScanner(refuse, **kwargs)
        made.append(scanner)
        return scanner

    return build


def backend(refuse: set[str], made: list[FakeScanner], passive: bool = True) -> BleakBackend:
    return BleakBackend(
        adapter="hci1",
        passive=passive,
        clock=lambda: T0,
        retry_initial_s=0.01,
        retry_max_s=0.02,
        scanner_factory=factory(refuse, made),
    )


async def test_callbacks_become_adverts_and_the_scanner_is_stopped() -> None:
    made: list[FakeScanner] = []
    scan = backend(set(), made)
    adverts = scan.adverts()
    first = asyncio.ensure_future(anext(adverts))
    await asyncio.sleep(0.01)
    (scanner,) = made
    assert scanner.started and scanner.kwargs["scanning_mode"] == "passive"
    assert scanner.kwargs["adapter"] == "hci1"
    assert [
        (p.ad_data_type, p.content_of_pattern) for p in scanner.kwargs["bluez"]["or_patterns"]
    ] == [
        (0x16, b"\x1a\x18"),  # service data: ATC, pvvx
        (0x16, b"\xd2\xfc"),  # BTHome
        (0xFF, b"\x99\x04"),  # manufacturer data: Ruuvi
        (0xFF, b"\x4c\x00\x02\x15"),  # Apple's, iBeacon frames only
    ]
    data = FakeAdvertisementData(
        -61, "ATC_000002", service_data={"0000181a-0000-1000-8000-00805f9b34fb": b"\x01\x02"}
    )
    scanner.callback(FakeDevice("a4:c1:38:00:00:02"), data)
    scanner.callback(
        FakeDevice("C7:3B:11:22:33:01"), FakeAdvertisementData(-70, None, {0x0499: b"\x05"})
    )
    assert await asyncio.wait_for(first, 1) == Advertisement(
        "A4:C1:38:00:00:02",
        -61,
        "ATC_000002",
        {},
        {"0000181a-0000-1000-8000-00805f9b34fb": b"\x01\x02"},
        T0,
    )
    assert await asyncio.wait_for(anext(adverts), 1) == Advertisement(
        "C7:3B:11:22:33:01", -70, None, {0x0499: b"\x05"}, {}, T0
    )
    await adverts.aclose()
    assert scanner.stopped
    assert scan.mode == "passive"


async def test_passive_refused_falls_back_to_active() -> None:
    made: list[FakeScanner] = []
    scan = backend({"passive"}, made)
    adverts = scan.adverts()
    pending = asyncio.ensure_future(anext(adverts))
    await asyncio.sleep(0.01)
    assert [s.kwargs["scanning_mode"] for s in made] == ["passive", "active"]
    assert "bluez" not in made[1].kwargs
    assert (scan.mode, scan.errors) == ("active", 0)
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
    assert made[1].stopped


async def test_adapter_errors_are_retried_with_backoff_and_reported() -> None:
    made: list[FakeScanner] = []
    scan = backend({"active"}, made, passive=False)
    adverts = scan.adverts()
    pending = asyncio.ensure_future(anext(adverts))
    await asyncio.sleep(0.1)
    assert scan.errors >= 3
    assert scan.last_error == "OSError: active scanning not supported"
    assert scan.mode is None
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
