"""Turn 16-bit Modbus registers into numbers and back: signed/unsigned 16 and 32 bit, float32,
configurable word order for 32-bit pairs, and a scale factor, described by a small field spec."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_F32 = struct.Struct(">f")


class WordOrder(StrEnum):
    """Order of the two registers of a 32-bit value. Bytes inside a register are big-endian."""

    BIG = "big"  # high word first (the Modbus convention)
    LITTLE = "little"  # low word first (many meters and PLCs)


class RegisterType(StrEnum):
    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    F32 = "f32"


REGISTER_WIDTH: dict[RegisterType, int] = {
    RegisterType.U16: 1,
    RegisterType.S16: 1,
    RegisterType.U32: 2,
    RegisterType.S32: 2,
    RegisterType.F32: 2,
}


def _check_register(value: int) -> int:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"a register holds 0..65535, got {value}")
    return value


def to_signed16(register: int) -> int:
    """Two's-complement reading of one register."""
    _check_register(register)
    return register - 0x10000 if register & 0x8000 else register


def from_signed16(value: int) -> int:
    """The register holding ``value`` (-32768..32767) in two's complement."""
    if not -0x8000 <= value <= 0x7FFF:
        raise ValueError(f"signed 16-bit value must be -32768..32767, got {value}")
    return value & 0xFFFF


def _pair_bytes(registers: Sequence[int], word_order: WordOrder) -> bytes:
    if len(registers) != 2:
        raise ValueError(f"a 32-bit value spans 2 registers, got {len(registers)}")
    high, low = registers if word_order is WordOrder.BIG else reversed(registers)
    return _check_register(high).to_bytes(2, "big") + _check_register(low).to_bytes(2, "big")


def _pair(raw: bytes, word_order: WordOrder) -> tuple[int, int]:
    high, low = int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:], "big")
    return (high, low) if word_order is WordOrder.BIG else (low, high)


def decode_u32(registers: Sequence[int], word_order: WordOrder = WordOrder.BIG) -> int:
    value: int = _U32.unpack(_pair_bytes(registers, word_order))[0]
    return value


def decode_s32(registers: Sequence[int], word_order: WordOrder = WordOrder.BIG) -> int:
    value: int = _I32.unpack(_pair_bytes(registers, word_order))[0]
    return value


def decode_f32(registers: Sequence[int], word_order: WordOrder = WordOrder.BIG) -> float:
    value: float = _F32.unpack(_pair_bytes(registers, word_order))[0]
    return value


def encode_u32(value: int, word_order: WordOrder = WordOrder.BIG) -> tuple[int, int]:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"unsigned 32-bit value out of range: {value}")
    return _pair(_U32.pack(value), word_order)


def encode_s32(value: int, word_order: WordOrder = WordOrder.BIG) -> tuple[int, int]:
    if not -(2**31) <= value < 2**31:
        raise ValueError(f"signed 32-bit value out of range: {value}")
    return _pair(_I32.pack(value), word_order)


def encode_f32(value: float, word_order: WordOrder = WordOrder.BIG) -> tuple[int, int]:
    try:
        raw = _F32.pack(value)
    except OverflowError as exc:
        raise ValueError(f"{value} does not fit a float32") from exc
    return _pair(raw, word_order)


@dataclass(frozen=True, slots=True)
class RegisterField:
    """Where a value sits in a block of registers and how to read it: value = raw*scale+offset."""

    offset: int
    type: RegisterType
    scale: float = 1.0
    bias: float = 0.0
    word_order: WordOrder = WordOrder.BIG


def raw_value(registers: Sequence[int], field: RegisterField) -> int | float:
    """The unscaled number a field holds in ``registers`` (a block read starting at offset 0)."""
    width = REGISTER_WIDTH[field.type]
    if field.offset < 0 or field.offset + width > len(registers):
        raise ValueError(f"field at offset {field.offset} runs past {len(registers)} registers")
    words = registers[field.offset : field.offset + width]
    match field.type:
        case RegisterType.U16:
            return _check_register(words[0])
        case RegisterType.S16:
            return to_signed16(words[0])
        case RegisterType.U32:
            return decode_u32(words, field.word_order)
        case RegisterType.S32:
            return decode_s32(words, field.word_order)
        case RegisterType.F32:
            return decode_f32(words, field.word_order)


def scaled_value(registers: Sequence[int], field: RegisterField) -> float:
    """The field's engineering value: raw * scale + bias."""
    return float(raw_value(registers, field)) * field.scale + field.bias
