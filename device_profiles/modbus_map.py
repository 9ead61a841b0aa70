"""What to ask a Modbus probe for and what its answers mean, from its profile (pure).

Fields whose registers touch are read together in one request per table; fields apart are read
separately, since a device may answer "illegal data address" for a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from device_profiles.schema import DeviceProfile, RegisterFieldSpec, RegisterTable
from firmware_bridge.modbus import MAX_READ_COUNT, FunctionCode, ReadRequest
from firmware_bridge.modbus_registers import (
    RegisterField,
    RegisterType,
    encode_f32,
    encode_s32,
    encode_u32,
    from_signed16,
    scaled_value,
)
from firmware_bridge.records import Measurement, MeasurementQuality

_NOISE_DIGITS = 9

TABLE_FUNCTION: dict[RegisterTable, FunctionCode] = {
    RegisterTable.INPUT: FunctionCode.READ_INPUT_REGISTERS,
    RegisterTable.HOLDING: FunctionCode.READ_HOLDING_REGISTERS,
}


@dataclass(frozen=True, slots=True)
class RegisterBlock:
    """One read request's worth of contiguous registers and the fields inside it."""

    table: RegisterTable
    address: int
    count: int
    fields: tuple[RegisterFieldSpec, ...]

    @property
    def function(self) -> FunctionCode:
        return TABLE_FUNCTION[self.table]

    def request(self, slave: int) -> ReadRequest:
        return ReadRequest(slave, self.function, self.address, self.count)


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """A decoded value outside the field's valid range: kept, flagged ``out_of_range`` when it
    is a number, and worth counting."""

    field: str
    value: float
    valid: tuple[float, float]

    def __str__(self) -> str:
        low, high = self.valid
        return f"{self.field} = {self.value:g} is outside the valid range [{low:g}, {high:g}]"


def read_blocks(profile: DeviceProfile) -> list[RegisterBlock]:
    """The requests that read every field of ``profile``, by table then address."""
    ordered = sorted(profile.register_fields, key=lambda spec: (spec.table, spec.address))
    blocks: list[RegisterBlock] = []
    for spec in ordered:
        last = blocks[-1] if blocks else None
        end = spec.address + spec.width
        if (
            last is not None
            and last.table is spec.table
            and spec.address <= last.address + last.count
            and end - last.address <= MAX_READ_COUNT
        ):
            count = max(last.count, end - last.address)
            blocks[-1] = RegisterBlock(last.table, last.address, count, (*last.fields, spec))
        else:
            blocks.append(RegisterBlock(spec.table, spec.address, spec.width, (spec,)))
    return blocks


def table_of(function: int) -> RegisterTable:
    """The table a read function reads; ValueError for anything but 03/04."""
    for table, code in TABLE_FUNCTION.items():
        if code == function:
            return table
    raise ValueError(f"function {function:#04x} does not read registers")


def block_at(
    profile: DeviceProfile, function: int, address: int | None, count: int
) -> RegisterBlock:
    """The fields a read of ``count`` registers from ``address`` returns in full.

    ``address`` None means the first mapped register of the table, where a read of the map
    starts. Raises ValueError when the read holds no whole field.
    """
    table = table_of(function)
    in_table = [spec for spec in profile.register_fields if spec.table is table]
    if not in_table:
        raise ValueError(f"{profile.model} maps no {table.value} registers")
    start = min(spec.address for spec in in_table) if address is None else address
    inside = tuple(
        spec
        for spec in sorted(in_table, key=lambda spec: spec.address)
        if start <= spec.address and spec.address + spec.width <= start + count
    )
    if not inside:
        raise ValueError(
            f"{profile.model} maps no whole field in {table.value} registers "
            f"{start:#06x}..{start + count - 1:#06x}"
        )
    return RegisterBlock(table, start, count, inside)


def register_field(spec: RegisterFieldSpec, block_address: int) -> RegisterField:
    """The codec's view of ``spec`` inside a block read from ``block_address``."""
    return RegisterField(
        offset=spec.address - block_address,
        type=spec.type,
        scale=spec.scale,
        bias=spec.offset,
        word_order=spec.word_order,
    )


def decode_block(
    block: RegisterBlock, registers: Sequence[int], device_id: str, time: datetime
) -> tuple[list[Measurement], list[OutOfRange]]:
    """Measurements for the block's fields, and the values outside their valid range. Those are
    measurements too, flagged ``out_of_range``, unless not a number at all (a NaN or infinite
    float register), which no record can carry."""
    if len(registers) != block.count:
        raise ValueError(f"block of {block.count} registers, got {len(registers)}")
    readings: list[Measurement] = []
    rejected: list[OutOfRange] = []
    for spec in block.fields:
        value = field_value(spec, registers, block.address)
        low, high = spec.valid
        quality = MeasurementQuality.GOOD
        if not (math.isfinite(value) and low <= value <= high):
            rejected.append(OutOfRange(spec.name, value, spec.valid))
            if not math.isfinite(value):
                continue
            quality = MeasurementQuality.OUT_OF_RANGE
        readings.append(Measurement(device_id, time, spec.quantity, value, spec.unit, quality))
    return readings, rejected


def field_value(spec: RegisterFieldSpec, registers: Sequence[int], block_address: int) -> float:
    """The engineering value of ``spec`` in registers read from ``block_address``."""
    value = scaled_value(registers, register_field(spec, block_address))
    if spec.type is RegisterType.F32:
        return value
    # An integer times a decimal scale: drop binary noise such as 0.30000000000000004.
    return round(value, _NOISE_DIGITS)


def encode_value(spec: RegisterFieldSpec, value: float) -> tuple[int, ...]:
    """The registers a device shows for engineering ``value`` (rounded to its resolution)."""
    raw = (value - spec.offset) / spec.scale
    match spec.type:
        case RegisterType.F32:
            return encode_f32(raw, spec.word_order)
        case RegisterType.U16:
            number = round(raw)
            if not 0 <= number <= 0xFFFF:
                raise ValueError(f"{spec.name}: {value} does not fit a u16 register")
            return (number,)
        case RegisterType.S16:
            return (from_signed16(round(raw)),)
        case RegisterType.U32:
            return encode_u32(round(raw), spec.word_order)
        case RegisterType.S32:
            return encode_s32(round(raw), spec.word_order)
