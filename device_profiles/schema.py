"""Typed device profiles: what a device model is, how it is wired, and what its readings mean.

Structure and types are checked by pydantic (strict: a TOML string is never taken for a number);
cross-field rules live in :mod:`device_profiles.rules`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridge.modbus_registers import REGISTER_WIDTH, RegisterType, WordOrder
from firmware_bridge.records import Quantity, Severity, Unit

_LAX = Field(strict=False)  # enums and arrays arrive as TOML strings and lists


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Codec(StrEnum):
    MODBUS_RTU = "modbus_rtu"
    R2000 = "r2000"
    NMEA0183 = "nmea0183"


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


class RegisterFieldSpec(_Model):
    """One reading in a Modbus register map: value = raw * scale + offset.

    The file key is ``register``; the attribute is ``address`` (pydantic models already have a
    ``register`` method).
    """

    name: Annotated[str, Field(min_length=1)]
    quantity: Annotated[Quantity, _LAX]
    unit: Annotated[Unit, _LAX]
    table: Annotated[RegisterTable, _LAX]
    address: Annotated[int, Field(ge=0, le=0xFFFF, alias="register")]
    type: Annotated[RegisterType, _LAX]
    scale: float = 1.0
    offset: float = 0.0
    word_order: Annotated[WordOrder, _LAX] = WordOrder.BIG
    valid: Annotated[tuple[float, float], _LAX]
    """Inclusive [min, max] of plausible engineering values; anything outside is not a reading."""

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


class DeviceProfile(_Model):
    model: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    vendor: Annotated[str, Field(min_length=1)]
    description: str = ""
    codec: Annotated[Codec, _LAX]
    transport: SerialTransport
    sample_period_s: Annotated[float, Field(gt=0)]
    fields: Annotated[tuple[RegisterFieldSpec, ...], _LAX] = ()
    settings: Annotated[tuple[SettingSpec, ...], _LAX] = ()
    alarms: Annotated[tuple[AlarmThreshold, ...], _LAX] = ()
    modbus: ModbusSettings | None = None
    rfid: RfidSettings | None = None
    gps: GpsSettings | None = None
    source: SourceDocument | None = None

    def field_named(self, name: str) -> RegisterFieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.model} has no field {name!r}")
