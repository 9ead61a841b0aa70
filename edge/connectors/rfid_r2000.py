"""UHF RFID reader speaking the Impinj-R2000 "0xA0" serial protocol: inventory -> TagEvents.

The reader has no continuous mode: a fast-switch-antenna inventory (cmd 0x8A) runs its rounds
over the configured antennas and ends with an end frame, upon which it is issued again. If the
reader falls silent (power cycle, an end frame lost to line noise) a watchdog re-issues it.
Frames are reassembled by :class:`R2000Framer` (noise, bad checksums and impossible lengths
counted), tag reports become TagReads and go through :class:`TagSmoother`; only TagEvents reach
the pipeline unless sampled raw reads are asked for. The smoother's state is saved in the data
folder every few seconds and on stop, and restored at start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import serial

from device_profiles import load_profile
from edge.config import RfidR2000Device
from edge.connectors.serial_port import (
    ConnectorStatus,
    PortReader,
    SerialLink,
    SerialSettings,
    first_of,
    open_port,
    resolve,
)
from edge.rfid_smoothing import RawSampler, SmoothingSettings, TagSmoother
from firmware_bridge.records import Record, TagEvent, TagRead
from firmware_bridge.rfid_r2000 import (
    AntennaMissing,
    AntennaStep,
    CommandStatus,
    FastSwitchEnd,
    FastSwitchInventory,
    InventoryEnd,
    RfidError,
    TagReport,
    decode_response,
    encode_request,
    to_tag_read,
)
from firmware_bridge.rfid_r2000_framing import BROADCAST_ADDRESS, R2000Framer

log = logging.getLogger(__name__)

TICK_S = 0.25
WATCHDOG_S = 1.0
"""Re-issue the inventory when the reader has sent nothing for this long."""
COMMAND_RETRY_S = 1.0
COUNTER_NAMES = (
    "frames",
    "reads",
    "checksum_errors",
    "length_errors",
    "noise_bytes",
    "decode_errors",
    "other_address",
    "inventory_rounds",
    "inventory_restarts",
    "command_errors",
    "antenna_missing",
    "raw_reads_sent",
    "events_sent",
    "state_restore_failures",
    "disconnects",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def state_path(state_dir: Path, device_id: str) -> Path:
    return state_dir / f"rfid-{device_id}.json"


class RfidR2000Connector:
    def __init__(
        self,
        device: RfidR2000Device,
        sink: Callable[[Sequence[Record]], None],
        *,
        state_dir: Path | None = None,
        now: Callable[[], datetime] = _utc_now,
        opener: Callable[[SerialSettings], serial.Serial] = open_port,
        tick_s: float = TICK_S,
        watchdog_s: float = WATCHDOG_S,
    ) -> None:
        self.device = device
        self._sink = sink
        self._now = now
        self._tick_s = tick_s
        self._watchdog_s = watchdog_s
        profile = load_profile(device.profile)
        transport = profile.serial
        settings = SerialSettings(
            port=device.port,
            baudrate=device.baudrate or transport.baud,
            parity=transport.parity.value,
            bytesize=transport.data_bits,
            stopbits=transport.stop_bits,
        )
        self._link = SerialLink(
            device.id,
            settings,
            reopen_initial_s=device.reopen_initial_s,
            reopen_max_s=device.reopen_max_s,
            opener=opener,
        )
        default_address = BROADCAST_ADDRESS if profile.rfid is None else profile.rfid.reader_address
        self.address = default_address if device.address is None else device.address
        self.reader_id = device.reader_id or device.id
        self.smoothing = SmoothingSettings(
            self.reader_id,
            device.zone,
            device.hold_s,
            device.outside_antenna,
            device.inside_antenna,
        )
        self._counts = Counter[str]()
        self._state_path = None if state_dir is None else state_path(state_dir, device.id)
        self.smoother = self._restore()
        self._sampler = (
            RawSampler(device.raw_sample_every_s) if device.raw_reads == "sampled" else None
        )
        self._framer = R2000Framer()
        self._framer_base = Counter[str]()
        self.error_codes = Counter[str]()
        self.antenna_reads = Counter[str]()
        self._inventory = encode_request(
            FastSwitchInventory(
                tuple(AntennaStep(antenna) for antenna in device.antennas),
                repeat=device.inventory_repeat,
                address=self.address,
            )
        )
        self._reader: PortReader | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._heard_s = -math.inf

    @property
    def name(self) -> str:
        return self.device.id

    @property
    def status(self) -> ConnectorStatus:
        return self._link.status

    @property
    def counters(self) -> dict[str, int]:
        stats = self._framer.stats
        counts = self._counts + self._framer_base
        counts["frames"] += stats.frames
        counts["checksum_errors"] += stats.bad_checksum
        counts["length_errors"] += stats.bad_length
        counts["noise_bytes"] += stats.noise_bytes
        counts["disconnects"] = self._link.disconnects
        return {name: counts[name] for name in COUNTER_NAMES}

    def snapshot(self) -> dict[str, Any]:
        events = ("arrived", "departed", "passed", "direction_unknown")
        return {
            "type": self.device.type,
            **self._link.snapshot(),
            "reader_id": self.reader_id,
            "zone": self.device.zone,
            "tags_present": self.smoother.present,
            "counters": self.counters,
            "events": {name: self.smoother.counts[name] for name in events},
            "error_codes": dict(self.error_codes),
            "antenna_reads": dict(self.antenna_reads),
        }

    def stop(self) -> None:
        self._link.stopping.set()

    async def run(self) -> None:
        try:
            await self._link.run(self._session)
        finally:
            self.save_state()

    async def _session(self, port: serial.Serial) -> str | None:
        loop = asyncio.get_running_loop()
        self._new_framer()
        reader = PortReader(port, self._on_data)
        self._reader = reader
        stopping = asyncio.ensure_future(self._link.stopping.wait())
        saved_s = loop.time()
        try:
            self._send_inventory()
            while True:
                tick: asyncio.Future[None] = loop.create_future()
                timer = loop.call_later(self._tick_s, resolve, tick, None)
                try:
                    await first_of(tick, reader.lost, stopping)
                finally:
                    timer.cancel()
                if reader.lost.done() and not reader.lost.cancelled():
                    return reader.lost.result()
                if stopping.done():
                    return None
                self._emit(self.smoother.tick(self._now()), [])
                if loop.time() - self._heard_s > self._watchdog_s:
                    self._counts["inventory_restarts"] += 1
                    self._send_inventory()
                if loop.time() - saved_s >= self.device.persist_every_s:
                    self.save_state()
                    saved_s = loop.time()
        finally:
            if self._retry is not None:
                self._retry.cancel()
            self._reader = None
            reader.close()
            stopping.cancel()

    def _send_inventory(self) -> None:
        if self._reader is None:
            return
        # Counts as hearing from the reader: the watchdog waits a full period for an answer.
        self._heard_s = asyncio.get_running_loop().time()
        self._reader.write(self._inventory)

    def _on_data(self, data: bytes) -> None:
        now = self._now()
        events: list[TagEvent] = []
        raw: list[TagRead] = []
        for frame in self._framer.feed(data):
            self._heard_s = asyncio.get_running_loop().time()
            if self.address != BROADCAST_ADDRESS and frame.address not in (
                self.address,
                BROADCAST_ADDRESS,
            ):
                self._counts["other_address"] += 1
                continue
            try:
                response = decode_response(frame)
            except RfidError:
                self._counts["decode_errors"] += 1
                continue
            match response:
                case TagReport():
                    read = to_tag_read(response, self.reader_id, now)
                    self._counts["reads"] += 1
                    self.antenna_reads[str(read.antenna)] += 1
                    events.extend(self.smoother.push(read))
                    if self._sampler is not None and self._sampler.take(read):
                        raw.append(read)
                case FastSwitchEnd() | InventoryEnd():
                    self._counts["inventory_rounds"] += 1
                    self._send_inventory()
                case AntennaMissing():
                    self._counts["antenna_missing"] += 1
                    self.error_codes[f"antenna_{response.antenna}_missing"] += 1
                case CommandStatus() if not response.ok:
                    self._counts["command_errors"] += 1
                    self.error_codes[response.name] += 1
                    self._retry_later()
                case _:
                    pass
        self._emit(events, raw)

    def _retry_later(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        self._retry = asyncio.get_running_loop().call_later(COMMAND_RETRY_S, self._send_inventory)

    def _emit(self, events: list[TagEvent], raw: list[TagRead]) -> None:
        if not events and not raw:
            return
        self._counts["events_sent"] += len(events)
        self._counts["raw_reads_sent"] += len(raw)
        records: list[Record] = [*events, *raw]
        self._sink(records)

    def _new_framer(self) -> None:
        # A partial frame from the previous connection must not be glued to the next one.
        self._framer.reset()
        stats = self._framer.stats
        self._framer_base["frames"] += stats.frames
        self._framer_base["checksum_errors"] += stats.bad_checksum
        self._framer_base["length_errors"] += stats.bad_length
        self._framer_base["noise_bytes"] += stats.noise_bytes
        self._framer = R2000Framer()

    def _restore(self) -> TagSmoother:
        path = self._state_path
        if path is None or not path.exists():
            return TagSmoother(self.smoothing)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            smoother = TagSmoother.from_json(self.smoothing, data)
        except (OSError, ValueError) as exc:
            self._counts["state_restore_failures"] += 1
            log.warning("%s: cannot restore %s (%s); starting with no tags", self.name, path, exc)
            return TagSmoother(self.smoothing)
        log.info("%s: restored %d tags in the zone from %s", self.name, smoother.present, path)
        return smoother

    def save_state(self) -> None:
        path = self._state_path
        if path is None:
            return
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(self.smoother.to_json()), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("%s: cannot save the tag state to %s: %s", self.name, path, exc)
