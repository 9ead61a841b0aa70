"""Build the connector a device entry of the gateway config asks for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from edge.config import (
    BleDevice,
    DeviceSettings,
    ModbusRtuDevice,
    MqttDevice,
    NmeaGpsDevice,
    RfidR2000Device,
)
from edge.connectors.ble import BleConnector
from edge.connectors.modbus_rtu import ModbusRtuConnector
from edge.connectors.mqtt import MqttConnector, Put, dead_letters_file
from edge.connectors.rfid_r2000 import RfidR2000Connector
from edge.connectors.serial_nmea import SerialNmeaConnector
from firmware_bridge.records import Record

Sink = Callable[[Sequence[Record]], None]


class Connector(Protocol):
    @property
    def name(self) -> str: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...


def build_connector(
    device: DeviceSettings, sink: Sink, *, data_dir: Path, put: Put | None = None
) -> Connector:
    """``data_dir`` holds state that must survive a restart (the RFID zone's tags, dead
    letters). ``put`` (the pipeline's, awaited until durable) is required by connectors that
    acknowledge their devices only once records are stored (MQTT)."""
    match device:
        case NmeaGpsDevice():
            return SerialNmeaConnector(device, sink)
        case ModbusRtuDevice():
            return ModbusRtuConnector(device, sink)
        case RfidR2000Device():
            return RfidR2000Connector(device, sink, state_dir=data_dir)
        case BleDevice():
            return BleConnector(device, sink)
        case MqttDevice():
            if put is None:
                raise ValueError(f"device {device.id}: mqtt needs put= (acks follow durability)")
            return MqttConnector(device, put, dead_letters_path=dead_letters_file(data_dir))
