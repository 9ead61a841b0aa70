"""Build the connector a device entry of the gateway config asks for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from edge.config import DeviceSettings, ModbusRtuDevice, NmeaGpsDevice, RfidR2000Device
from edge.connectors.modbus_rtu import ModbusRtuConnector
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


def build_connector(device: DeviceSettings, sink: Sink, *, data_dir: Path) -> Connector:
    """``data_dir`` holds state that must survive a restart (the RFID zone's tags)."""
    match device:
        case NmeaGpsDevice():
            return SerialNmeaConnector(device, sink)
        case ModbusRtuDevice():
            return ModbusRtuConnector(device, sink)
        case RfidR2000Device():
            return RfidR2000Connector(device, sink, state_dir=data_dir)
