"""Where BLE advertisements come from: a real adapter through bleak, or a replay file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from edge.bounded_json import loads_bounded
from firmware_bridge.ble_advert import Advertisement, advert_from_json, normalize_uuid
from firmware_bridge.ble_errors import AdvertFormatError

log = logging.getLogger(__name__)

_QUEUE_MAX = 10_000
STOP_TIMEOUT_S = 5.0
SCAN_FORMATS = ("ruuvi", "atc", "pvvx", "bthome", "ibeacon")


class ScannerBackend(Protocol):
    """An async iterator of received advertisements; ends when the source ends."""

    def adverts(self) -> AsyncIterator[Advertisement]: ...


class BadAdvert(Exception):
    """A replay line that is not an advertisement record; carries the line number."""

    def __init__(self, line: int, error: AdvertFormatError | ValueError) -> None:
        super().__init__(f"line {line}: {error}")
        self.line = line
        self.error = error


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ReplayBackend:
    """JSON-lines advertisement records, heard again from now on: the first record at once,
    the others at their recorded distance from it divided by ``speed``, and stamped with that
    moment (rebased on ``clock``), as a scan would have heard them. ``speed=0`` delivers them as
    fast as possible, stamped as at speed 1. Bad lines are yielded as :class:`BadAdvert`;
    records without a time are delivered at once, unstamped."""

    def __init__(
        self, path: Path, *, speed: float = 1.0, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        if speed < 0:
            raise ValueError("replay speed must be >= 0")
        self._path = path
        self.speed = speed
        self._clock = clock
        self.delivered = 0
        """Advertisements handed on so far."""

    async def adverts(self) -> AsyncIterator[Advertisement]:
        async for item in self.items():
            if isinstance(item, Advertisement):
                yield item

    async def items(self) -> AsyncIterator[Advertisement | BadAdvert]:
        loop = asyncio.get_running_loop()
        lines = await asyncio.to_thread(self._path.read_text, encoding="utf-8")
        started, base = loop.time(), self._clock()
        first: datetime | None = None
        for number, line in enumerate(lines.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                advert = advert_from_json(loads_bounded(line))
            except (AdvertFormatError, ValueError) as exc:
                yield BadAdvert(number, exc)
                continue
            if advert.time is not None:
                first = first or advert.time
                offset = (advert.time - first).total_seconds()
                if self.speed > 0:
                    offset /= self.speed
                    delay = started + offset - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                advert = replace(advert, time=base + timedelta(seconds=offset))
            self.delivered += 1
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

    Passive scanning on BlueZ needs ``or_patterns`` (one per sensor format in ``formats``);
    where the adapter refuses passive mode the scan falls back to active with a warning. A failed
    start is retried with backoff (``errors`` and ``last_error`` report it); so is a failed stop
    (counted alike), which must not keep a restart from happening."""

    def __init__(
        self,
        *,
        adapter: str | None,
        passive: bool,
        clock: Callable[[], datetime],
        retry_initial_s: float = 1.0,
        retry_max_s: float = 30.0,
        formats: Iterable[str] = SCAN_FORMATS,
        scanner_factory: ScannerFactory | None = None,
    ) -> None:
        self._adapter = adapter
        self._formats = frozenset(formats)
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
            kwargs["bluez"] = {"or_patterns": or_patterns(self._formats)}
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
            await self._stop(scanner)

    async def _stop(self, scanner: Any) -> None:
        try:
            await asyncio.wait_for(scanner.stop(), STOP_TIMEOUT_S)
        except Exception as exc:  # a failed adapter may refuse or never answer
            self.errors += 1
            self.last_error = f"stopping the scan: {type(exc).__name__}: {exc}"
            log.error("BLE adapter: %s", self.last_error)


def or_patterns(formats: Iterable[str] = SCAN_FORMATS) -> list[Any]:
    """BlueZ advertisement monitor patterns for the sensor formats to hear: AD type 0x16
    (service data) of 0x181A (ATC, pvvx) or 0xFCD2 (BTHome); AD type 0xFF (manufacturer data)
    of Ruuvi (0x0499), or Apple's (0x004C) beginning with the iBeacon type 0x02, 0x15."""
    try:
        from bleak.args.bluez import OrPattern
        from bleak.assigned_numbers import AdvertisementDataType
    except ImportError:  # not Linux: the argument is unused
        return []
    service = AdvertisementDataType.SERVICE_DATA_UUID16
    maker = AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA
    wanted = set(formats)
    return [
        OrPattern(0, kind, prefix)
        for kind, prefix, heard_for in (
            (service, b"\x1a\x18", {"atc", "pvvx"}),
            (service, b"\xd2\xfc", {"bthome"}),
            (maker, b"\x99\x04", {"ruuvi"}),
            (maker, b"\x4c\x00\x02\x15", {"ibeacon"}),
        )
        if wanted & heard_for
    ]
