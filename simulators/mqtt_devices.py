"""Field devices publishing JSON telemetry over MQTT, as a gateway's MQTT connector expects.

Each device is its own MQTT client: it connects with a Last Will (``offline`` on its status
topic, QoS 1), announces ``online``, then publishes ``{"msg_id", "time", "readings": [...]}`` to
``{prefix}/{site}/{device}/telemetry`` with QoS 1 every period, waiting for the broker's PUBACK
before it counts (and logs) a reading as emitted. The cast: a chiller probe (temperature), a
freezer probe, an ambient probe (temperature and humidity) and a probe whose battery gives out:
after ``silent_after`` readings it falls silent and drops off the network without a DISCONNECT,
so the broker publishes its Last Will.

:func:`plan` is pure and seeded (values per device and reading); :class:`DeviceFleet` does the
network part.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from firmware_bridge.records import Measurement, Quantity, Unit
from firmware_bridge.wire import format_time, record_to_wire

QOS: Final = 1
PUBACK_TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class SimDevice:
    id: str
    """Device id (the topic's device level and the measurements' device_id)."""
    temperature: tuple[float, float]
    """Range of its temperature readings, °C."""
    humidity: tuple[float, float] | None = None
    dies: bool = False
    """Falls silent (and off the network) after ``silent_after`` readings."""


CAST: Final = (
    SimDevice("chiller-probe", (2.0, 4.0)),
    SimDevice("freezer-probe", (-22.0, -19.0)),
    SimDevice("ambient-probe", (18.0, 24.0), humidity=(40.0, 60.0)),
    SimDevice("dying-probe", (3.0, 5.0), dies=True),
)


@dataclass(frozen=True, slots=True)
class Reading:
    device: SimDevice
    index: int
    values: tuple[tuple[Quantity, float], ...]


def plan(
    devices: tuple[SimDevice, ...], readings: int, silent_after: int, seed: int
) -> list[list[Reading]]:
    """Per round (one period), the readings each device takes: seeded values, two decimals;
    a dying device takes none from round ``silent_after`` on."""
    rng = random.Random(seed)
    rounds: list[list[Reading]] = []
    for index in range(readings):
        this_round = []
        for device in devices:
            if device.dies and index >= silent_after:
                continue
            values = [(Quantity.TEMPERATURE, round(rng.uniform(*device.temperature), 2))]
            if device.humidity is not None:
                values.append((Quantity.HUMIDITY, round(rng.uniform(*device.humidity), 2)))
            this_round.append(Reading(device, index, tuple(values)))
        rounds.append(this_round)
    return rounds


UNITS: Final = {Quantity.TEMPERATURE: Unit.CELSIUS, Quantity.HUMIDITY: Unit.PERCENT_RH}


def telemetry_message(
    reading: Reading, at: datetime, run_id: str
) -> tuple[bytes, list[Measurement]]:
    """The payload of one reading at ``at`` (millisecond precision) and the measurements a
    gateway makes of it. ``msg_id`` is unique per run, device and reading."""
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    body = {
        "msg_id": f"{run_id}-{reading.device.id}-{reading.index}",
        "time": format_time(at),
        "readings": [
            {"quantity": quantity.value, "value": value, "unit": UNITS[quantity].value}
            for quantity, value in reading.values
        ],
    }
    records = [
        Measurement(reading.device.id, at, quantity, value, UNITS[quantity])
        for quantity, value in reading.values
    ]
    return json.dumps(body, separators=(",", ":")).encode(), records


@dataclass(frozen=True, slots=True)
class Broker:
    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "retailedge/v1"
    site: str = "store-1"

    def topic(self, device: str, kind: str) -> str:
        return f"{self.topic_prefix}/{self.site}/{device}/{kind}"


@dataclass
class FleetStats:
    published: int = 0
    measurements: int = 0
    wills_armed: int = 0
    silenced: list[str] = field(default_factory=list)


class SimulatorError(RuntimeError):
    """The broker refused or did not confirm; the message says which device and why."""


def device_client(broker: Broker, client_id: str, status_topic: str) -> paho.Client:
    """A connected MQTT 3.1.1 client with ``offline`` as its Last Will on ``status_topic``."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    client.will_set(status_topic, b"offline", qos=QOS)
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise SimulatorError(
            f"{client_id}: cannot reach {broker.host}:{broker.port}: {exc}"
        ) from None
    client.loop_start()
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            raise SimulatorError(f"{client_id}: no CONNACK from {broker.host}:{broker.port}")
        time.sleep(0.01)
    return client


def publish_confirmed(client: paho.Client, topic: str, payload: bytes) -> None:
    """QoS 1 publish, returning once the broker's PUBACK arrived."""
    info = client.publish(topic, payload, qos=QOS)
    if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
        raise SimulatorError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
    info.wait_for_publish(PUBACK_TIMEOUT_S)
    if not info.is_published():
        raise SimulatorError(f"no PUBACK for {topic} within {PUBACK_TIMEOUT_S:.0f} s")


def sign_off(client: paho.Client, status_topic: str) -> None:
    """Shut down as a well-behaved device does: ``offline`` on its status topic (the broker
    only sends the Last Will when a device drops off), then DISCONNECT."""
    try:
        publish_confirmed(client, status_topic, b"offline")
    finally:
        client.disconnect()
        client.loop_stop()


def vanish(client: paho.Client) -> None:
    """Drop off the network without DISCONNECT: the broker then publishes the Last Will."""
    client.loop_stop()
    sock = client.socket()
    if sock is not None:
        sock.close()


class DeviceFleet:
    """The devices on a broker; use as a context manager (connects, then signs off those still
    alive: ``offline``, then a clean disconnect)."""

    def __init__(self, broker: Broker, devices: tuple[SimDevice, ...] = CAST) -> None:
        self.broker = broker
        self.devices = devices
        self.run_id = uuid.uuid4().hex[:8]
        self.stats = FleetStats()
        self._clients: dict[str, paho.Client] = {}

    def __enter__(self) -> DeviceFleet:
        try:
            for device in self.devices:
                status = self.broker.topic(device.id, "status")
                client = device_client(self.broker, f"sim-{device.id}-{self.run_id}", status)
                self._clients[device.id] = client
                self.stats.wills_armed += 1
                publish_confirmed(client, status, b"online")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        clients, self._clients = self._clients, {}
        for device_id, client in clients.items():
            sign_off(client, self.broker.topic(device_id, "status"))

    def publish(self, reading: Reading, at: datetime) -> list[Measurement]:
        payload, records = telemetry_message(reading, at, self.run_id)
        client = self._clients[reading.device.id]
        publish_confirmed(client, self.broker.topic(reading.device.id, "telemetry"), payload)
        self.stats.published += 1
        self.stats.measurements += len(records)
        return records

    def silence(self, device_id: str) -> None:
        client = self._clients.pop(device_id, None)
        if client is not None:
            vanish(client)
            self.stats.silenced.append(device_id)


def run_fleet(
    fleet: DeviceFleet,
    *,
    readings: int,
    period_s: float,
    silent_after: int,
    seed: int,
    emit_log: TextIO | None = None,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FleetStats:
    """Publish ``readings`` rounds ``period_s`` apart (or until ``stop()``); each confirmed
    reading's measurements go to ``emit_log`` as JSON lines in wire form."""
    rounds = plan(fleet.devices, readings, silent_after, seed)
    start = time.monotonic()
    for index, this_round in enumerate(rounds):
        if stop():
            break
        delay = start + index * period_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for device in fleet.devices:
            if device.dies and index == silent_after:
                fleet.silence(device.id)
        for reading in this_round:
            for record in fleet.publish(reading, clock()):
                if emit_log is not None:
                    emit_log.write(json.dumps(record_to_wire(record), separators=(",", ":")) + "\n")
        if emit_log is not None:
            emit_log.flush()
    return fleet.stats


def open_emit_log(path: Path | None) -> TextIO | None:
    return None if path is None else path.open("w", encoding="utf-8")


def summary(stats: FleetStats) -> dict[str, Any]:
    return {
        "published": stats.published,
        "measurements": stats.measurements,
        "wills_armed": stats.wills_armed,
        "silenced": stats.silenced,
    }
