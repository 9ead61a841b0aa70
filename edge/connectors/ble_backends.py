"""Where BLE advertisements come from: a real adapter through bleak, or a replay file."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from firmware_bridge.ble_advert import Advertisement, advert_from_json, normalize_uuid
from firmware_bridge.ble_errors import AdvertFormatError

log = logging.getLogger(__name__)

_QUEUE_MAX = 10_000


class ScannerBackend(Protocol):
    """An async iterator of received advertisements; ends when the source ends."""

    def adverts(self) -> AsyncIterator[Advertisement]: ...


class BadAdvert(Exception):
    """A replay line that is not an advertisement record; carries the line number."""

    def __init__(self, line: int, error: AdvertFormatError | ValueError) -> None:
        super().__init__(f"line {line}: {error}")
        self.line = line
        self.error = error


class ReplayBackend:
    """JSON-lines advertisement records, paced by their ``time`` (scaled by ``speed``;
    ``speed=0`` replays as fast as possible). Bad lines are yielded as :class:`BadAdvert`."""

    def __init__(self, path: Path, *, speed: float = 1.0) -> None:
        self._path = path
        self._speed = speed

    async def adverts(self) -> AsyncIterator[Advertisement]:
        async for item in self.items():
            if isinstance(item, Advertisement):
                yield item

    async def items(self) -> AsyncIterator[Advertisement | BadAdvert]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first: datetime | None = None
        lines = await asyncio.to_thread(self._path.read_text, encoding="utf-8")
        for number, line in enumerate(lines.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                advert = advert_from_json(json.loads(line))
            except (AdvertFormatError, ValueError) as exc:
                yield BadAdvert(number, exc)
                continue
            if advert.time is not None and self._speed > 0:
                first = first or advert.time
                due = started + (advert.time - first).total_seconds() / self._speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield advert


def advert_from_bleak(address: str, data: Any, time: datetime) -> Advertisement:
    """Our :class:`Advertisement` from bleak's ``AdvertisementData`` (duck-typed)."""
    return Advertisement(
        address=address.upper(),
        rssi=data.rssi,
        local_name=data.local_name,
        manufacturer_data={int(k): bytes(v) for k, v in data.manufacturer_data.items()},
        service_data={normalize_uuid(k): bytes(v) for k, v in data.service_data.items()},
        time=time,
    )


ScannerFactory = Callable[..., Any]
"""Builds a bleak-like scanner: ``factory(detection_callback=, scanning_mode=, **kw)`` with
async ``start()`` and ``stop()``."""


def _bleak_scanner_factory() -> ScannerFactory:
    from bleak import BleakScanner

    return BleakScanner


class BleakBackend:
    """Scans with ``bleak.BleakScanner``; its detection callback feeds an asyncio.Queue.

    Passive scanning on BlueZ needs ``or_patterns``; where the adapter refuses passive mode the
    scan falls back to active with a warning. A failed start is retried with backoff
    (``errors`` and ``last_error`` report it)."""

    def __init__(
        self,
        *,
        adapter: str | None,
        passive: bool,
        clock: Callable[[], datetime],
        retry_initial_s: float = 1.0,
        retry_max_s: float = 30.0,
        scanner_factory: ScannerFactory | None = None,
    ) -> None:
        self._adapter = adapter
        self._passive = passive
        self._clock = clock
        self._retry = (retry_initial_s, retry_max_s)
        self._factory = scanner_factory
        self.errors = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.mode: str | None = None

    def _scanner_kwargs(self, passive: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"scanning_mode": "passive" if passive else "active"}
        if self._adapter is not None:
            kwargs["adapter"] = self._adapter
        if passive:
            kwargs["bluez"] = {"or_patterns": _or_patterns()}
        return kwargs

    async def _start(self, callback: Callable[[Any, Any], None]) -> Any:
        factory = self._factory or _bleak_scanner_factory()
        if self._passive:
            try:
                scanner = factory(detection_callback=callback, **self._scanner_kwargs(True))
                await scanner.start()
                self.mode = "passive"
                return scanner
            except Exception as exc:  # bleak raises backend-specific types
                log.warning("passive BLE scan unavailable (%s); scanning actively", exc)
        scanner = factory(detection_callback=callback, **self._scanner_kwargs(False))
        await scanner.start()
        self.mode = "active"
        return scanner

    async def adverts(self) -> AsyncGenerator[Advertisement, None]:
        queue: asyncio.Queue[Advertisement] = asyncio.Queue(_QUEUE_MAX)

        def on_detect(device: Any, data: Any) -> None:
            advert = advert_from_bleak(device.address, data, self._clock())
            if queue.full():
                self.dropped += 1  # the event loop is not keeping up with the radio
            else:
                queue.put_nowait(advert)

        delay = self._retry[0]
        while True:
            try:
                scanner = await self._start(on_detect)
            except Exception as exc:  # adapter missing, busy, powered off ...
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("BLE adapter: %s; retrying in %.1f s", self.last_error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry[1])
                continue
            break
        try:
            while True:
                yield await queue.get()
        finally:
            await scanner.stop()


def _or_patterns() -> list[Any]:
    """BlueZ advertisement monitor patterns matching the sensor formats we decode: AD type
    0x16 (service data) with 0x181A / 0xFCD2, and 0xFF (manufacturer data) of Ruuvi."""
    try:
        from bleak.args.bluez import OrPattern
        from bleak.assigned_numbers import AdvertisementDataType
    except ImportError:  # not Linux: the argument is unused
        return []
    service = AdvertisementDataType.SERVICE_DATA_UUID16
    maker = AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA
    return [
        OrPattern(0, service, b"\x1a\x18"),
        OrPattern(0, service, b"\xd2\xfc"),
        OrPattern(0, maker, b"\x99\x04"),
    ]
