"""The record vocabulary: what a device reading becomes once decoded.

Records are frozen and carry no identity of the gateway that buffered them; the gateway adds
``gateway_id`` and ``seq`` when it sends them (see :mod:`firmware_bridge.wire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RecordKind(StrEnum):
    POSITION = "position"
    MEASUREMENT = "measurement"
    TAG_READ = "tag_read"
    SCAN = "scan"
    ALARM = "alarm"
    TAG_EVENT = "tag_event"


BUSINESS_KINDS: frozenset[RecordKind] = frozenset(
    {RecordKind.SCAN, RecordKind.ALARM, RecordKind.TAG_EVENT}
)
"""Kinds a gateway must never evict from its buffer; everything else is telemetry."""


class Quantity(StrEnum):
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"
    BATTERY_VOLTAGE = "battery_voltage"
    BATTERY_LEVEL = "battery_level"
    PRESSURE = "pressure"
    DOOR_OPEN = "door_open"  # 1.0 open, 0.0 closed
    BUTTON_PRESS = "button_press"  # presses in one button event
    RSSI = "rssi"  # signal strength a BLE asset tag was heard with
    DISTANCE = "distance"  # from the tag's RSSI and measured power (a rough estimate)


class Unit(StrEnum):
    CELSIUS = "Cel"
    PERCENT_RH = "%RH"
    PERCENT = "%"
    VOLT = "V"
    HECTOPASCAL = "hPa"
    BOOLEAN = "bool"
    COUNT = "count"
    DBM = "dBm"
    METRE = "m"


class MeasurementQuality(StrEnum):
    """How far a reading can be trusted; the edge flags, never drops, a doubtful one."""

    GOOD = "good"
    OUT_OF_RANGE = "out_of_range"
    """Outside the valid range of the device's profile (e.g. a probe short-circuited)."""


class FixQuality(StrEnum):
    """How a position was obtained, after NMEA GGA's quality indicator."""

    GPS = "gps"
    DGPS = "dgps"
    RTK_FIXED = "rtk_fixed"
    RTK_FLOAT = "rtk_float"
    ESTIMATED = "estimated"
    PPS = "pps"
    MANUAL = "manual"
    SIMULATED = "simulated"
    UNKNOWN = "unknown"


class ScanOperation(StrEnum):
    RECEIVE = "receive"
    PUT_AWAY = "put_away"
    PICK = "pick"
    PACK = "pack"
    SHIP = "ship"
    COUNT = "count"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Position:
    """One GNSS fix of a vehicle or asset. ``time`` is the receiver's UTC time of fix."""

    device_id: str
    time: datetime
    lat: float
    lon: float
    speed_mps: float | None = None
    course_deg: float | None = None
    fix_quality: FixQuality = FixQuality.UNKNOWN
    satellites: int | None = None
    hdop: float | None = None
    altitude_m: float | None = None
    kind: RecordKind = field(default=RecordKind.POSITION, init=False)


@dataclass(frozen=True, slots=True)
class Measurement:
    device_id: str
    time: datetime
    quantity: Quantity
    value: float
    unit: Unit
    quality: MeasurementQuality = MeasurementQuality.GOOD
    kind: RecordKind = field(default=RecordKind.MEASUREMENT, init=False)


@dataclass(frozen=True, slots=True)
class TagRead:
    reader_id: str
    antenna: int
    epc_hex: str
    time: datetime
    rssi_dbm: float | None = None
    epc_uri: str | None = None
    kind: RecordKind = field(default=RecordKind.TAG_READ, init=False)


class TagEventType(StrEnum):
    ARRIVED = "arrived"
    DEPARTED = "departed"
    PASSED = "passed"


class TagDirection(StrEnum):
    """Through a dock door: ``in`` from the outside antenna towards the inside one."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class TagEvent:
    """What the edge makes of a stream of TagReads: a tag arrived in or departed a reader's
    zone, or passed through a dock door (with ``direction``). ``time`` is when it happened."""

    reader_id: str
    zone: str
    epc_hex: str
    event: TagEventType
    time: datetime
    first_seen: datetime
    last_seen: datetime
    read_count: int
    epc_uri: str | None = None
    direction: TagDirection | None = None
    peak_rssi_dbm: float | None = None
    kind: RecordKind = field(default=RecordKind.TAG_EVENT, init=False)


@dataclass(frozen=True, slots=True)
class Scan:
    scanner_id: str
    operator: str
    operation: ScanOperation
    code: str
    quantity: int
    location: str
    time: datetime
    kind: RecordKind = field(default=RecordKind.SCAN, init=False)


@dataclass(frozen=True, slots=True)
class Alarm:
    rule: str
    subject: str
    severity: Severity
    started_at: datetime
    ended_at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    kind: RecordKind = field(default=RecordKind.ALARM, init=False)


Record = Position | Measurement | TagRead | Scan | Alarm | TagEvent
