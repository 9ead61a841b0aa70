"""Register helpers: 16/32-bit signed and unsigned, float32, word order, scaled fields."""

from __future__ import annotations

import math

import pytest

from firmware_bridge.modbus_registers import (
    RegisterField,
    RegisterType,
    WordOrder,
    decode_f32,
    decode_s32,
    decode_u32,
    encode_f32,
    encode_s32,
    encode_u32,
    from_signed16,
    raw_value,
    scaled_value,
    to_signed16,
)

BIG, LITTLE = WordOrder.BIG, WordOrder.LITTLE


@pytest.mark.parametrize(
    ("register", "signed"), [(0, 0), (1, 1), (0x7FFF, 32767), (0x8000, -32768), (0xFFFF, -1)]
)
def test_signed16(register: int, signed: int) -> None:
    assert to_signed16(register) == signed
    assert from_signed16(signed) == register


@pytest.mark.parametrize("bad", [-1, 0x10000])
def test_signed16_rejects_non_registers(bad: int) -> None:
    with pytest.raises(ValueError):
        to_signed16(bad)


def test_from_signed16_range() -> None:
    with pytest.raises(ValueError):
        from_signed16(32768)
    with pytest.raises(ValueError):
        from_signed16(-32769)


def test_32_bit_word_orders() -> None:
    assert decode_u32([0x1234, 0x5678], BIG) == 0x12345678
    assert decode_u32([0x5678, 0x1234], LITTLE) == 0x12345678
    assert decode_s32([0xFFFF, 0xFFFE]) == -2
    assert decode_s32([0xFFFE, 0xFFFF], LITTLE) == -2
    assert encode_u32(0x12345678, LITTLE) == (0x5678, 0x1234)
    assert encode_s32(-2) == (0xFFFF, 0xFFFE)


def test_float32() -> None:
    # 0x4049 0x0FDB is pi in IEEE 754 single precision; 0x41C8 0x0000 is 25.0
    assert decode_f32([0x4049, 0x0FDB]) == pytest.approx(math.pi, rel=1e-7)
    assert decode_f32([0x0000, 0x41C8], LITTLE) == 25.0
    assert encode_f32(25.0) == (0x41C8, 0x0000)
    assert math.isnan(decode_f32([0x7FC0, 0x0000]))
    with pytest.raises(ValueError):
        encode_f32(1e40)


@pytest.mark.parametrize(
    "call",
    [
        lambda: decode_u32([1]),
        lambda: decode_u32([1, 2, 3]),
        lambda: decode_u32([1, 0x10000]),
        lambda: encode_u32(-1),
        lambda: encode_u32(2**32),
        lambda: encode_s32(2**31),
    ],
)
def test_32_bit_errors(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError):
        call()


BLOCK = [0xFF38, 0x0001, 0x86A0, 0x41C8, 0x0000, 0x0BB8]


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        (RegisterField(0, RegisterType.S16, scale=0.1), -200, -20.0),
        (RegisterField(0, RegisterType.U16), 65336, 65336.0),
        (RegisterField(1, RegisterType.U32, scale=0.01), 100000, 1000.0),
        (RegisterField(2, RegisterType.U32, word_order=LITTLE), 0x41C886A0, 1103660704.0),
        (RegisterField(3, RegisterType.F32), 25.0, 25.0),
        (RegisterField(5, RegisterType.U16, scale=0.001, bias=-1.5), 3000, 1.5),
        (RegisterField(0, RegisterType.S32), -13107199, -13107199.0),  # 0xFF380001
    ],
)
def test_fields(field: RegisterField, raw: float, value: float) -> None:
    assert raw_value(BLOCK, field) == raw
    assert scaled_value(BLOCK, field) == pytest.approx(value)


def test_field_past_the_block() -> None:
    with pytest.raises(ValueError):
        raw_value(BLOCK, RegisterField(5, RegisterType.U32))
    with pytest.raises(ValueError):
        raw_value(BLOCK, RegisterField(-1, RegisterType.U16))
