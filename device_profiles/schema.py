"""Typed device profiles: what a device model is, how it is reached, and what its readings mean.

One format for every device: serial devices (Modbus RTU probes, RFID readers, GNSS receivers)
and BLE advertising sensors. ``transport.kind`` is ``serial`` or ``ble``; ``fields`` are the
readings with units and valid ranges, plus, for a Modbus register map, where each one lives.
Structure and types are checked by pydantic (strict: a TOML string is never taken for a number);
cross-field rules live in :mod:`device_profiles.rules`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from firmware_bridge.modbus_registers import REGISTER_WIDTH, RegisterType, WordOrder
from firmware_bridge.records import Quantity, Severity, Unit

_LAX = Field(strict=False)  # enums and arrays arrive as TOML strings and lists


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Codec(StrEnum):
    MODBUS_RTU = "modbus_rtu"
    R2000 = "r2000"
    NMEA0183 = "nmea0183"
    RUUVI = "ruuvi"
    ATC = "atc"
    PVVX = "pvvx"
    BTHOME = "bthome"
    IBEACON = "ibeacon"


BLE_CODECS: Final = frozenset({Codec.RUUVI, Codec.ATC, Codec.PVVX, Codec.BTHOME, Codec.IBEACON})
"""Codecs of BLE advertisements (firmware_bridge.ble_*): their transport is ``ble``."""


class Parity(StrEnum):
    NONE = "N"
    EVEN = "E"
    ODD = "O"


class RegisterTable(StrEnum):
    """Which Modbus table a register lives in, hence which function reads it."""

    INPUT = "input"  # function 04
    HOLDING = "holding"  # function 03


class SerialTransport(_Model):
    kind: Literal["serial"]
    baud: Annotated[int, Field(gt=0)]
    parity: Annotated[Parity, _LAX] = Parity.NONE
    data_bits: Literal[7, 8] = 8
    stop_bits: Literal[1, 2] = 1


class BleTransport(_Model):
    kind: Literal["ble"]
    passive: bool = True
    """The data is in the advertisements: no scan request or connection needed."""


class FieldSpec(_Model):
    """One reading a device reports: its quantity, unit and inclusive valid range. A reading
    outside the range is kept and flagged ``out_of_range``."""

    name: Annotated[str, Field(min_length=1)]
    quantity: Annotated[Quantity, _LAX]
    unit: Annotated[Unit, _LAX]
    valid: Annotated[tuple[float, float], _LAX]
    """Inclusive [min, max] of plausible engineering values."""


class RegisterFieldSpec(FieldSpec):
    """One reading in a Modbus register map: value = raw * scale + offset.

    The file key is ``register``; the attribute is ``address`` (pydantic models already have a
    ``register`` method).
    """

    table: Annotated[RegisterTable, _LAX]
    address: Annotated[int, Field(ge=0, le=0xFFFF, alias="register")]
    type: Annotated[RegisterType, _LAX]
    scale: float = 1.0
    offset: float = 0.0
    word_order: Annotated[WordOrder, _LAX] = WordOrder.BIG

    @property
    def width(self) -> int:
        return REGISTER_WIDTH[self.type]


class SettingSpec(_Model):
    """A writable configuration holding register (function 06), e.g. the slave address.

    Its engineering value is ``raw * scale``; a gateway config names settings by ``name`` and
    gives engineering values.
    """

    name: Annotated[str, Field(min_length=1)]
    address: Annotated[int, Field(ge=0, le=0xFFFF, alias="register")]
    type: Literal["u16", "s16"] = "u16"
    range: Annotated[tuple[int, int], _LAX]
    """Inclusive [min, max] the device accepts, as a (signed for s16) integer."""
    default: int
    scale: Annotated[float, Field(gt=0)] = 1.0
    unit: Annotated[Unit, _LAX] | None = None
    corrects: Annotated[Quantity, _LAX] | None = None
    """The setting is an offset the device adds to its reading of this quantity."""
    link: bool = False
    """The setting decides how the device is reached (address, baud): writing it would cut the
    device off the bus, so a gateway never writes it."""

    @property
    def valid(self) -> tuple[float, float]:
        """The accepted range in engineering units."""
        low, high = self.range
        return low * self.scale, high * self.scale


class ModbusSettings(_Model):
    default_slave: Annotated[int, Field(ge=1, le=247)] = 1
    response_timeout_s: Annotated[float, Field(gt=0, le=10)] = 0.5


class RfidSettings(_Model):
    protocol: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    reader_address: Annotated[int, Field(ge=0, le=0xFF)] = 0x01
    antennas: Annotated[tuple[int, ...], _LAX]


class GpsSettings(_Model):
    rate_hz: Annotated[tuple[float, float], _LAX]
    """Inclusive [min, max] output rate the receiver can be set to."""
    max_speed_mps: Annotated[float, Field(gt=0)]
    max_hdop: Annotated[float, Field(gt=0)]


class AlarmThreshold(_Model):
    """Raise an alarm when ``quantity`` stays outside [min, max] for ``hold_s`` seconds."""

    quantity: Annotated[Quantity, _LAX]
    min: float | None = None
    max: float | None = None
    hold_s: Annotated[float, Field(ge=0)] = 0.0
    severity: Annotated[Severity, _LAX] = Severity.WARNING


class SourceDocument(_Model):
    title: Annotated[str, Field(min_length=1)]
    url: str | None = None
    note: str | None = None


REGISTER_TAG: Final = "register-field"
READING_TAG: Final = "reading-field"
_REGISTER_KEYS: Final = frozenset({"table", "register", "type", "scale", "offset", "word_order"})


def _field_kind(value: Any) -> str:
    """A field with any register key is a register field (and must then be one in full)."""
    if isinstance(value, dict):
        return REGISTER_TAG if _REGISTER_KEYS & value.keys() else READING_TAG
    return REGISTER_TAG if isinstance(value, RegisterFieldSpec) else READING_TAG


AnyField = Annotated[
    Annotated[RegisterFieldSpec, Tag(REGISTER_TAG)] | Annotated[FieldSpec, Tag(READING_TAG)],
    Discriminator(_field_kind),
]
AnyTransport = Annotated[SerialTransport | BleTransport, Field(discriminator="kind")]
UNION_TAGS: Final = frozenset({REGISTER_TAG, READING_TAG, "serial", "ble"})
"""Names pydantic puts in an error's location for the union member; not part of the file."""


class DeviceProfile(_Model):
    model: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    vendor: Annotated[str, Field(min_length=1)]
    description: str = ""
    codec: Annotated[Codec, _LAX]
    transport: AnyTransport
    sample_period_s: Annotated[float, Field(gt=0)]
    fields: Annotated[tuple[AnyField, ...], _LAX] = ()
    settings: Annotated[tuple[SettingSpec, ...], _LAX] = ()
    alarms: Annotated[tuple[AlarmThreshold, ...], _LAX] = ()
    modbus: ModbusSettings | None = None
    rfid: RfidSettings | None = None
    gps: GpsSettings | None = None
    source: SourceDocument | None = None

    def field_named(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.model} has no field {name!r}")

    @property
    def register_fields(self) -> tuple[RegisterFieldSpec, ...]:
        """The register map (the fields of a modbus_rtu profile)."""
        return tuple(spec for spec in self.fields if isinstance(spec, RegisterFieldSpec))

    @property
    def serial(self) -> SerialTransport:
        """The line settings; ValueError for a profile of a device not on a serial line."""
        if not isinstance(self.transport, SerialTransport):
            raise ValueError(f"{self.model} is not a serial device")
        return self.transport

    def valid_ranges(self) -> dict[Quantity, tuple[float, float]]:
        """Each measured quantity's valid range (the first field's, if several measure it)."""
        ranges: dict[Quantity, tuple[float, float]] = {}
        for spec in self.fields:
            ranges.setdefault(spec.quantity, spec.valid)
        return ranges
