"""BLE advertising sensors: advertisements -> Measurements.

Sensors are matched by address, iBeacon asset tags by their identity (uuid, major, minor).
Which adverts become readings (interval, events, encrypted counters) is decided by
:mod:`edge.connectors.ble_admission`. Readings outside the profile's valid range are emitted
flagged ``out_of_range`` (their ``quality``) and counted.

A replay backend plays its file, then the device idles (``replay finished``) until the gateway
stops. A live scanner is watched: no advert from any sensor for ``stall_after_s`` restarts it,
with backoff while restarts bring nothing back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from device_profiles import DeviceProfile, flag_out_of_range, load_profile
from edge.config import BLE_DEFAULT_PROFILES, BleDevice, BleSensor
from edge.connectors.ble_admission import AdmissionMemory, Heard, admit
from edge.connectors.ble_backends import BadAdvert, BleakBackend, ReplayBackend, ScannerBackend
from edge.connectors.ble_reading import decode_sensor_advert
from firmware_bridge import ble_ibeacon
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_errors import BleDecodeError
from firmware_bridge.records import Measurement, MeasurementQuality, Quantity, Record
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Record]], None]
Beacon = tuple[str, int, int]
VERDICT_COUNTERS = {
    "duplicate": "duplicates",
    "throttled": "throttled",
    "replayed": "replayed",
    "event": "events",
    "counter_reset": "counter_resets",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sensor_key(sensor: BleSensor) -> str:
    """How a sensor is named in the status: its address, or ``uuid/major/minor`` for a tag."""
    if sensor.beacon is not None:
        return "/".join(map(str, sensor.beacon))
    assert sensor.address is not None  # the config insists on one or the other
    return sensor.address


@dataclass
class SensorState:
    config: BleSensor
    profile: DeviceProfile
    bindkey: bytes | None
    adverts: int = 0
    decoded: int = 0
    """Adverts taken as readings."""
    verdicts: Counter[str] = field(default_factory=Counter)
    out_of_range: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)
    memory: AdmissionMemory = field(default_factory=AdmissionMemory)
    last_seen: datetime | None = None
    last_address: str | None = None
    ranges: dict[Quantity, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ranges = self.profile.valid_ranges()

    def counters(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "id": self.config.id,
            "adverts": self.adverts,
            "decoded": self.decoded,
            **{name: self.verdicts[verdict] for verdict, name in VERDICT_COUNTERS.items()},
            "decode_errors": dict(sorted(self.decode_errors.items())),
            "out_of_range": self.out_of_range,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
        }
        if self.config.beacon is not None:
            counts["last_address"] = self.last_address
        return counts


def payload_of(advert: Advertisement) -> bytes:
    """The data bytes of an advertisement, in a stable order, for duplicate detection."""
    parts = [
        key.to_bytes(2, "big") + value for key, value in sorted(advert.manufacturer_data.items())
    ]
    parts += [key.encode() + value for key, value in sorted(advert.service_data.items())]
    return b"\x00".join(parts)


def beacon_of(advert: Advertisement) -> Beacon | None:
    """(uuid, major, minor) when ``advert`` is an iBeacon frame."""
    payload = advert.manufacturer_data.get(ble_ibeacon.MANUFACTURER_ID)
    if payload is None:
        return None
    try:
        beacon = ble_ibeacon.decode_ibeacon(payload)
    except BleDecodeError:  # Apple's other frames (phones, AirTags ...): not ours
        return None
    return beacon.uuid, beacon.major, beacon.minor


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
        self._time_scale = 1.0
        """A replay at speed k compresses the sensors' time k-fold: so do the intervals, and it
        takes the readings it would take at speed 1."""
        if isinstance(self._backend, ReplayBackend) and self._backend.speed > 0:
            self._time_scale = self._backend.speed
        self._sensors = {sensor_key(sensor): _sensor_state(sensor) for sensor in device.sensors}
        self._by_address = {s.config.address: s for s in self._sensors.values() if s.config.address}
        self._by_beacon = {s.config.beacon: s for s in self._sensors.values() if s.config.beacon}
        self._ignored = 0
        self._bad_adverts = 0
        self._status = "starting"
        self._heard_at = time.monotonic()
        self._sensor_adverts = 0
        self.restarts = 0
        """Scanner restarts by the watchdog."""
        self._last_restart: datetime | None = None
        self._replay_finished: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def name(self) -> str:
        return self._device.id

    @property
    def status(self) -> str:
        return self._status

    def snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {
            "type": "ble",
            "status": self._status,
            "backend": self._device.backend,
            "ignored_adverts": self._ignored,
            "bad_adverts": self._bad_adverts,
            "sensors": {key: state.counters() for key, state in self._sensors.items()},
        }
        if isinstance(self._backend, ReplayBackend):
            snap["replay"] = {
                "speed": self._backend.speed,
                "adverts": self._backend.delivered,
                "finished_at": _time(self._replay_finished),
            }
        else:
            snap["watchdog"] = {
                "stall_after_s": self._device.stall_after_s,
                "silent_for_s": round(time.monotonic() - self._heard_at, 1),
                "restarts": self.restarts,
                "last_restart_at": _time(self._last_restart),
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
        """Until :meth:`stop`; a finished replay idles."""
        self._task = asyncio.create_task(self._run_backend())
        try:
            await self._task
        except asyncio.CancelledError:
            if not self._stopping:
                raise

    async def _run_backend(self) -> None:
        if isinstance(self._backend, ReplayBackend):
            await self._replay(self._backend)
            await asyncio.Event().wait()  # idle: the gateway keeps running until stopped
        elif self._device.stall_after_s > 0:
            await self._scan_watched()
        else:
            self._status = "scanning"
            await self._scan()
            raise RuntimeError("the BLE scanner ended")

    async def _replay(self, backend: ReplayBackend) -> None:
        self._status = "replaying"
        try:
            async for item in backend.items():
                if isinstance(item, BadAdvert):
                    self._bad_adverts += 1
                    log.warning("%s: replay %s", self.name, item)
                else:
                    self.handle(item)
        except (OSError, UnicodeDecodeError) as exc:  # the file: missing, unreadable, binary
            self._status = f"replay failed: {exc}"
            log.error("%s: cannot replay %s: %s", self.name, self._device.replay_file, exc)
            return
        self._status = "replay finished"
        self._replay_finished = self._clock()
        log.info("%s: replay finished (%d adverts); idling", self.name, backend.delivered)

    async def _scan(self) -> None:
        async for advert in self._backend.adverts():
            self.handle(advert)

    async def _scan_watched(self) -> None:
        """Scan; restart the scanner whenever no sensor was heard for ``stall_after_s`` (or the
        scan ended), waiting ``retry_initial_s`` doubling up to ``retry_max_s`` while restarts
        bring no sensor back."""
        delay = self._device.retry_initial_s
        while True:
            heard_before = self._sensor_adverts
            self._heard_at = time.monotonic()
            self._status = "scanning"
            scanning = asyncio.create_task(self._scan(), name=f"{self.name} scan")
            try:
                await self._until_stalled(scanning)
            finally:
                scanning.cancel()
                await asyncio.gather(scanning, return_exceptions=True)
            if self._sensor_adverts > heard_before:
                delay = self._device.retry_initial_s
            self.restarts += 1
            self._last_restart = self._clock()
            self._status = "stalled, restarting"
            log.warning(
                "%s: no advert from any sensor for %.0f s; restarting the scanner in %.1f s",
                self.name,
                time.monotonic() - self._heard_at,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._device.retry_max_s)

    async def _until_stalled(self, scanning: asyncio.Task[None]) -> None:
        while True:
            remaining = self._heard_at + self._device.stall_after_s - time.monotonic()
            if remaining <= 0:
                return
            done, _ = await asyncio.wait({scanning}, timeout=remaining)
            if done:
                scanning.result()  # a failed scan fails the connector
                log.warning("%s: the scanner ended", self.name)
                return

    def _match(self, advert: Advertisement) -> SensorState | None:
        state = self._by_address.get(advert.address)
        if state is None and self._by_beacon:
            beacon = beacon_of(advert)
            state = None if beacon is None else self._by_beacon.get(beacon)
        return state

    def handle(self, advert: Advertisement) -> list[Measurement]:
        """Count, filter and decode one advertisement; emit and return its measurements."""
        state = self._match(advert)
        if state is None:
            self._ignored += 1
            return []
        when = advert.time or self._clock()
        state.adverts += 1
        state.last_seen, state.last_address = when, advert.address
        self._sensor_adverts += 1
        self._heard_at = time.monotonic()
        try:
            decoded = decode_sensor_advert(state.config, advert, when, state.bindkey)
        except BleDecodeError as exc:
            state.decode_errors[type(exc).__name__] += 1
            log.debug("%s: %s: %s", self.name, advert.address, exc)
            return []
        heard = Heard(payload_of(advert), when, decoded.event, decoded.counter)
        verdict = admit(
            state.memory,
            heard,
            min_interval_s=self._device.min_interval_s / self._time_scale,
            reset_after_s=self._device.counter_reset_after_s / self._time_scale,
        )
        state.verdicts[verdict] += 1
        if verdict in ("duplicate", "throttled", "replayed"):
            if verdict == "replayed":
                log.warning("%s: %s: replayed encrypted advert", self.name, state.config.id)
            return []
        state.decoded += 1
        readings = flag_out_of_range(decoded.readings, state.ranges)
        state.out_of_range += sum(m.quality is MeasurementQuality.OUT_OF_RANGE for m in readings)
        if readings:
            self._sink(readings)
        return readings


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _sensor_state(sensor: BleSensor) -> SensorState:
    return SensorState(
        sensor,
        load_profile(sensor.profile or BLE_DEFAULT_PROFILES[sensor.format]),
        None if sensor.bindkey is None else bytes.fromhex(sensor.bindkey),
    )


def _default_backend(device: BleDevice, clock: Callable[[], datetime]) -> ScannerBackend:
    if device.backend == "replay":
        assert device.replay_file is not None  # the config refuses replay without a file
        return ReplayBackend(device.replay_file, speed=device.replay_speed, clock=clock)
    return BleakBackend(
        adapter=device.adapter,
        passive=device.passive,
        clock=clock,
        retry_initial_s=device.retry_initial_s,
        retry_max_s=device.retry_max_s,
        formats={sensor.format for sensor in device.sensors},
    )
