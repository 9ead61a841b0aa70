"""Hypothesis: Modbus request/response round trips, register round trips, random-byte fuzzing."""

from __future__ import annotations

import contextlib
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.modbus import (
    MAX_READ_COUNT,
    FunctionCode,
    ModbusError,
    ReadRequest,
    RegistersResponse,
    WriteRequest,
    WriteResponse,
    append_crc,
    build_exception_response,
    build_request,
    build_response,
    parse_request,
    parse_response,
    strip_crc,
)
from firmware_bridge.modbus_framing import Complete, NeedMore, ResponseReader
from firmware_bridge.modbus_registers import (
    WordOrder,
    decode_f32,
    decode_s32,
    decode_u32,
    encode_f32,
    encode_s32,
    encode_u32,
)

SLAVE = st.integers(1, 247)
WORD = st.integers(0, 0xFFFF)
READ_FUNCTION = st.sampled_from(
    [FunctionCode.READ_HOLDING_REGISTERS, FunctionCode.READ_INPUT_REGISTERS]
)
REGISTERS = st.lists(WORD, min_size=1, max_size=MAX_READ_COUNT).map(tuple)
ORDER = st.sampled_from(list(WordOrder))


@st.composite
def read_requests(draw: st.DrawFn) -> ReadRequest:
    count = draw(st.integers(1, MAX_READ_COUNT))
    address = draw(st.integers(0, 0x10000 - count))
    return ReadRequest(draw(SLAVE), draw(READ_FUNCTION), address, count)


@given(st.one_of(read_requests(), st.builds(WriteRequest, st.integers(0, 247), WORD, WORD)))
def test_request_round_trip(request: ReadRequest | WriteRequest) -> None:
    frame = build_request(request)
    assert len(frame) == 8
    assert parse_request(frame) == request


@given(SLAVE, READ_FUNCTION, REGISTERS, st.data())
def test_read_response_round_trip_through_reader(
    slave: int, function: FunctionCode, registers: tuple[int, ...], data: st.DataObject
) -> None:
    response = RegistersResponse(slave, function, registers)
    frame = build_response(response)
    assert parse_response(frame, slave, function, len(registers)) == response
    cuts = sorted(data.draw(st.lists(st.integers(0, len(frame)), max_size=4)))
    reader = ResponseReader(slave, function, len(registers))
    pieces = [frame[a:b] for a, b in zip([0, *cuts], [*cuts, len(frame)], strict=True)]
    statuses = [reader.feed(piece) for piece in pieces if piece]
    assert statuses[-1] == Complete(response, frame)
    assert all(isinstance(status, NeedMore) for status in statuses[:-1])


@given(SLAVE, WORD, WORD)
def test_write_response_round_trip(slave: int, address: int, value: int) -> None:
    frame = build_response(WriteResponse(slave, address, value))
    reader = ResponseReader.for_request(WriteRequest(slave, address, value))
    assert reader.feed(frame) == Complete(WriteResponse(slave, address, value), frame)


@given(SLAVE, READ_FUNCTION, st.integers(0, 255))
def test_exception_round_trip(slave: int, function: FunctionCode, code: int) -> None:
    frame = build_exception_response(slave, function, code)
    try:
        ResponseReader(slave, function, 1).feed(frame)
    except ModbusError as exc:
        assert getattr(exc, "code", None) == code
    else:
        raise AssertionError("exception response not raised")


@given(st.binary(min_size=1, max_size=40))
def test_any_single_bit_flip_is_caught(payload: bytes) -> None:
    frame = append_crc(payload)
    for bit in range(len(frame) * 8):
        corrupted = bytearray(frame)
        corrupted[bit // 8] ^= 1 << (bit % 8)
        try:
            strip_crc(bytes(corrupted))
        except ModbusError:
            continue
        raise AssertionError(f"bit {bit} flip not detected")


@settings(max_examples=400)
@given(st.binary(max_size=300), SLAVE, READ_FUNCTION, st.integers(1, MAX_READ_COUNT))
def test_random_bytes_only_raise_modbus_errors(
    raw: bytes, slave: int, function: FunctionCode, count: int
) -> None:
    for parse in (
        lambda: parse_request(raw),
        lambda: parse_response(raw, slave, function, count),
        lambda: ResponseReader(slave, function, count).feed(raw),
    ):
        with contextlib.suppress(ModbusError):
            parse()


@settings(max_examples=300)
@given(st.binary(max_size=60), st.data())
def test_random_bytes_with_valid_crc(raw: bytes, data: st.DataObject) -> None:
    frame = append_crc(raw)
    function = data.draw(st.sampled_from(list(FunctionCode)))
    with contextlib.suppress(ModbusError):
        parse_response(frame, raw[0] if raw else 1, function, None)


@given(st.integers(0, 2**32 - 1), ORDER)
def test_u32_round_trip(value: int, order: WordOrder) -> None:
    assert decode_u32(encode_u32(value, order), order) == value


@given(st.integers(-(2**31), 2**31 - 1), ORDER)
def test_s32_round_trip(value: int, order: WordOrder) -> None:
    assert decode_s32(encode_s32(value, order), order) == value


@given(WORD, WORD, ORDER)
def test_f32_round_trip_from_registers(high: int, low: int, order: WordOrder) -> None:
    value = decode_f32((high, low), order)
    if not math.isnan(value):
        assert encode_f32(value, order) == (high, low)
