"""Register maps from profiles: read plans, decoding with the seller's examples, round trips."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_profiles import RegisterTable, load_profile
from device_profiles.modbus_map import (
    OutOfRange,
    RegisterBlock,
    block_at,
    decode_block,
    encode_value,
    field_value,
    read_blocks,
)
from firmware_bridge.modbus import (
    FunctionCode,
    ReadRequest,
    build_request,
    parse_response,
)
from firmware_bridge.records import Measurement, MeasurementQuality, Quantity, Unit

T0 = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
XY = load_profile("xy-md02")
RENKE = load_profile("rs-ws-n01-8")


def test_read_plan_is_one_request_per_contiguous_run() -> None:
    assert read_blocks(XY) == [RegisterBlock(RegisterTable.INPUT, 1, 2, XY.fields)]
    assert read_blocks(RENKE) == [RegisterBlock(RegisterTable.HOLDING, 0, 2, RENKE.fields)]
    # The seller's example request for the XY-MD02, "01 04 00 01 00 01 60 0A", reads one field.
    one = block_at(XY, FunctionCode.READ_INPUT_REGISTERS, None, 1)
    assert build_request(one.request(1)) == bytes.fromhex("010400010001600A")
    assert read_blocks(XY)[0].request(7) == ReadRequest(7, FunctionCode.READ_INPUT_REGISTERS, 1, 2)


def test_decode_seller_examples() -> None:
    response = parse_response(bytes.fromhex("0104020131" + "7974"), 1, 4)
    block = block_at(XY, FunctionCode.READ_INPUT_REGISTERS, None, 1)
    assert decode_block(block, response.registers, "probe", T0) == (  # type: ignore[union-attr]
        [Measurement("probe", T0, Quantity.TEMPERATURE, 30.5, Unit.CELSIUS)],
        [],
    )
    both = read_blocks(XY)[0]
    assert decode_block(both, (0xFF33, 0x0222), "probe", T0) == (
        [
            Measurement("probe", T0, Quantity.TEMPERATURE, -20.5, Unit.CELSIUS),
            Measurement("probe", T0, Quantity.HUMIDITY, 54.6, Unit.PERCENT_RH),
        ],
        [],
    )
    renke = read_blocks(RENKE)[0]
    assert decode_block(renke, (0x0292, 0xFFF6), "cold", T0) == (
        [
            Measurement("cold", T0, Quantity.HUMIDITY, 65.8, Unit.PERCENT_RH),
            Measurement("cold", T0, Quantity.TEMPERATURE, -1.0, Unit.CELSIUS),
        ],
        [],
    )


def test_out_of_range_values_are_flagged_and_listed() -> None:
    block = read_blocks(XY)[0]
    readings, rejected = decode_block(block, (0x7FFF, 0x03E9), "probe", T0)
    flag = MeasurementQuality.OUT_OF_RANGE
    assert readings == [
        Measurement("probe", T0, Quantity.TEMPERATURE, 3276.7, Unit.CELSIUS, flag),
        Measurement("probe", T0, Quantity.HUMIDITY, 100.1, Unit.PERCENT_RH, flag),
    ]
    assert rejected == [
        OutOfRange("temperature", 3276.7, (-40.0, 80.0)),
        OutOfRange("humidity", 100.1, (0.0, 100.0)),
    ]
    assert str(rejected[1]) == "humidity = 100.1 is outside the valid range [0, 100]"
    with pytest.raises(ValueError, match="block of 2 registers, got 1"):
        decode_block(block, (1,), "probe", T0)


def test_block_at_errors() -> None:
    assert block_at(XY, 4, 2, 1).fields == (XY.field_named("humidity"),)
    with pytest.raises(ValueError, match="maps no holding registers"):
        block_at(XY, FunctionCode.READ_HOLDING_REGISTERS, None, 2)
    with pytest.raises(ValueError, match=r"no whole field in input registers 0x0003\.\.0x0004"):
        block_at(XY, FunctionCode.READ_INPUT_REGISTERS, 3, 2)
    with pytest.raises(ValueError, match="does not read registers"):
        block_at(XY, FunctionCode.WRITE_SINGLE_REGISTER, None, 1)


@given(st.integers(-400, 800), st.integers(0, 1000))
def test_encode_then_decode_returns_the_value_at_register_resolution(
    tenths_c: int, tenths_rh: int
) -> None:
    for profile in (XY, RENKE):
        temperature = profile.field_named("temperature")
        humidity = profile.field_named("humidity")
        words_t = encode_value(temperature, tenths_c / 10)
        words_h = encode_value(humidity, tenths_rh / 10)
        assert field_value(temperature, words_t, temperature.address) == tenths_c / 10
        assert field_value(humidity, words_h, humidity.address) == tenths_rh / 10


def test_encode_refuses_values_a_register_cannot_hold() -> None:
    with pytest.raises(ValueError, match="does not fit a u16"):
        encode_value(XY.field_named("humidity"), -1.0)
