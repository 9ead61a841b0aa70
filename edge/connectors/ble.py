"""BLE advertising sensors: advertisements -> Measurements, with duplicate suppression.

Sensors repeat each advertisement many times a second; a sensor's reading is taken at most once
per ``min_interval_s``, and the same payload bytes inside that interval count as a duplicate.
Readings outside the profile's valid range are emitted flagged ``out_of_range`` (their
``quality``) and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from device_profiles import DeviceProfile, flag_out_of_range, load_profile
from edge.config import BLE_DEFAULT_PROFILES, BleDevice, BleSensor
from edge.connectors.ble_backends import BadAdvert, BleakBackend, ReplayBackend, ScannerBackend
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_decode import decode_measurements
from firmware_bridge.ble_errors import BleDecodeError
from firmware_bridge.records import Measurement, MeasurementQuality, Quantity, Record

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Record]], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SensorState:
    config: BleSensor
    profile: DeviceProfile
    bindkey: bytes | None
    adverts: int = 0
    decoded: int = 0
    duplicates: int = 0
    throttled: int = 0
    out_of_range: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)
    last_payload: bytes | None = None
    last_taken: datetime | None = None
    last_seen: datetime | None = None
    ranges: dict[Quantity, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ranges = self.profile.valid_ranges()

    def counters(self) -> dict[str, Any]:
        return {
            "id": self.config.id,
            "adverts": self.adverts,
            "decoded": self.decoded,
            "duplicates": self.duplicates,
            "throttled": self.throttled,
            "decode_errors": dict(sorted(self.decode_errors.items())),
            "out_of_range": self.out_of_range,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
        }


def payload_of(advert: Advertisement) -> bytes:
    """The data bytes of an advertisement, in a stable order, for duplicate detection."""
    parts = [
        key.to_bytes(2, "big") + value for key, value in sorted(advert.manufacturer_data.items())
    ]
    parts += [key.encode() + value for key, value in sorted(advert.service_data.items())]
    return b"\x00".join(parts)


def admit(state: SensorState, payload: bytes, when: datetime, min_interval_s: float) -> str:
    """``"take"``, ``"duplicate"`` (same bytes within the interval) or ``"throttled"``
    (new bytes, too soon); updates the state when taken."""
    if state.last_taken is not None:
        age = (when - state.last_taken).total_seconds()
        if 0 <= age < min_interval_s:
            return "duplicate" if payload == state.last_payload else "throttled"
    state.last_taken = when
    state.last_payload = payload
    return "take"


class BleConnector:
    def __init__(
        self,
        device: BleDevice,
        sink: Sink,
        *,
        backend: ScannerBackend | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._device = device
        self._sink = sink
        self._clock = clock
        self._backend = backend or _default_backend(device, clock)
        self._sensors = {
            sensor.address: SensorState(
                sensor,
                load_profile(sensor.profile or BLE_DEFAULT_PROFILES[sensor.format]),
                None if sensor.bindkey is None else bytes.fromhex(sensor.bindkey),
            )
            for sensor in device.sensors
        }
        self._ignored = 0
        self._bad_adverts = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def name(self) -> str:
        return self._device.id

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {
            "type": "ble",
            "backend": self._device.backend,
            "ignored_adverts": self._ignored,
            "bad_adverts": self._bad_adverts,
            "sensors": {addr: state.counters() for addr, state in self._sensors.items()},
        }
        if isinstance(self._backend, BleakBackend):
            snap["scan_mode"] = self._backend.mode
            snap["adapter_errors"] = self._backend.errors
            snap["queue_dropped"] = self._backend.dropped
            snap["last_adapter_error"] = self._backend.last_error
        return snap

    def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()

    async def run(self) -> None:
        """Until :meth:`stop`, or until a replay ends."""
        self._task = asyncio.create_task(self._consume())
        try:
            await self._task
        except asyncio.CancelledError:
            if not self._stopping:
                raise

    async def _consume(self) -> None:
        if isinstance(self._backend, ReplayBackend):
            async for item in self._backend.items():
                if isinstance(item, BadAdvert):
                    self._bad_adverts += 1
                    log.warning("%s: replay %s", self.name, item)
                else:
                    self.handle(item)
            return
        async for advert in self._backend.adverts():
            self.handle(advert)

    def handle(self, advert: Advertisement) -> list[Measurement]:
        """Count, filter and decode one advertisement; emit and return its measurements."""
        state = self._sensors.get(advert.address)
        if state is None:
            self._ignored += 1
            return []
        when = advert.time or self._clock()
        state.adverts += 1
        state.last_seen = when
        verdict = admit(state, payload_of(advert), when, self._device.min_interval_s)
        if verdict == "duplicate":
            state.duplicates += 1
            return []
        if verdict == "throttled":
            state.throttled += 1
            return []
        try:
            readings = decode_measurements(
                advert, when, state.config.format, device_id=state.config.id, bindkey=state.bindkey
            )
        except BleDecodeError as exc:
            state.decode_errors[type(exc).__name__] += 1
            # A bad advert must not hide the next good one inside the interval.
            state.last_taken = None
            log.debug("%s: %s: %s", self.name, advert.address, exc)
            return []
        state.decoded += 1
        readings = flag_out_of_range(readings, state.ranges)
        state.out_of_range += sum(m.quality is MeasurementQuality.OUT_OF_RANGE for m in readings)
        if readings:
            self._sink(readings)
        return readings


def _default_backend(device: BleDevice, clock: Callable[[], datetime]) -> ScannerBackend:
    if device.backend == "replay":
        assert device.replay_file is not None  # the config refuses replay without a file
        return ReplayBackend(device.replay_file)
    return BleakBackend(
        adapter=device.adapter,
        passive=device.passive,
        clock=clock,
        retry_initial_s=device.retry_initial_s,
        retry_max_s=device.retry_max_s,
    )
