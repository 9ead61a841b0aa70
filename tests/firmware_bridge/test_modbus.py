"""Modbus RTU CRC, requests and responses against published frames from the spec and examples.

Frames: Modbus over Serial Line spec (02 07 -> CRC 0x1241 sent 41 12), the application protocol
spec's read-holding-registers example (slave 0x11, registers 108..110), and widely published
master/slave traces (01 03 00 00 00 0A C5 CD, exception 01 83 02 C0 F1).
"""

from __future__ import annotations

import pytest

from firmware_bridge.modbus import (
    CrcError,
    ExceptionResponse,
    FrameError,
    FunctionCode,
    ReadRequest,
    RegistersResponse,
    RequestError,
    WriteRequest,
    WriteResponse,
    build_exception_response,
    build_request,
    build_response,
    crc16,
    parse_request,
    parse_response,
    read_holding_registers,
    read_input_registers,
    strip_crc,
    write_single_register,
)

HOLDING = FunctionCode.READ_HOLDING_REGISTERS
INPUT = FunctionCode.READ_INPUT_REGISTERS
WRITE = FunctionCode.WRITE_SINGLE_REGISTER


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(
    ("payload", "crc"),
    [
        ("0207", 0x1241),
        ("01030000000A", 0xCDC5),
        ("010300000001", 0x0A84),
        ("1103006B0003", 0x8776),
        ("018302", 0xF1C0),
        ("", 0xFFFF),
    ],
)
def test_crc16(payload: str, crc: int) -> None:
    assert crc16(h(payload)) == crc


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (read_holding_registers(1, 0, 10), "01 03 00 00 00 0A C5 CD"),
        (read_holding_registers(1, 0, 1), "01 03 00 00 00 01 84 0A"),
        (read_holding_registers(1, 0, 2), "01 03 00 00 00 02 C4 0B"),
        (read_holding_registers(0x11, 0x6B, 3), "11 03 00 6B 00 03 76 87"),
        (read_input_registers(0x11, 0x08, 1), "11 04 00 08 00 01 B2 98"),
        (write_single_register(0x11, 0x01, 0x03), "11 06 00 01 00 03 9A 9B"),
    ],
)
def test_requests(frame: bytes, expected: str) -> None:
    assert frame.hex(" ").upper() == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: read_holding_registers(0, 0, 1),  # broadcast read
        lambda: read_holding_registers(248, 0, 1),
        lambda: read_holding_registers(1, 0, 0),
        lambda: read_holding_registers(1, 0, 126),
        lambda: read_holding_registers(1, 65535, 2),
        lambda: read_input_registers(1, -1, 1),
        lambda: write_single_register(1, 0, 65536),
        lambda: write_single_register(1, 65536, 0),
        lambda: build_request(ReadRequest(1, WRITE, 0, 1)),
    ],
)
def test_invalid_requests(call: object) -> None:
    assert callable(call)
    with pytest.raises(RequestError):
        call()


def test_parse_request_round_trip_and_errors() -> None:
    assert parse_request(h("1103006B00037687")) == ReadRequest(0x11, HOLDING, 0x6B, 3)
    assert parse_request(h("1106000100039A9B")) == WriteRequest(0x11, 1, 3)
    assert parse_request(write_single_register(0, 1, 3)) == WriteRequest(0, 1, 3)  # broadcast
    with pytest.raises(CrcError):
        parse_request(h("1103006B00037688"))
    with pytest.raises(FrameError):
        parse_request(append(h("1106000100")))  # short
    with pytest.raises(FrameError):
        parse_request(append(h("110500010003")))  # unsupported function
    with pytest.raises(FrameError):
        parse_request(append(h("11030000007E")))  # 126 registers


def append(payload: bytes) -> bytes:
    return payload + crc16(payload).to_bytes(2, "little")


@pytest.mark.parametrize(
    ("frame", "slave", "function", "count", "expected"),
    [
        ("11 03 06 AE 41 56 52 43 40 49 AD", 0x11, HOLDING, 3,
         RegistersResponse(0x11, HOLDING, (0xAE41, 0x5652, 0x4340))),
        ("01 03 04 00 0A 00 14 DA 3E", 1, HOLDING, 2, RegistersResponse(1, HOLDING, (10, 20))),
        ("11 04 02 00 0A F8 F4", 0x11, INPUT, 1, RegistersResponse(0x11, INPUT, (10,))),
        ("11 06 00 01 00 03 9A 9B", 0x11, WRITE, None, WriteResponse(0x11, 1, 3)),
    ],
)  # fmt: skip
def test_parse_response(
    frame: str, slave: int, function: int, count: int | None, expected: object
) -> None:
    assert parse_response(h(frame), slave, function, count) == expected


@pytest.mark.parametrize(
    ("frame", "code", "name"),
    [
        ("01 83 02 C0 F1", 2, "illegal data address"),
        (build_exception_response(1, 3, 1).hex(), 1, "illegal function"),
        (build_exception_response(1, 3, 3).hex(), 3, "illegal data value"),
        (build_exception_response(1, 3, 4).hex(), 4, "slave device failure"),
        (build_exception_response(1, 3, 5).hex(), 5, "acknowledge"),
        (build_exception_response(1, 3, 6).hex(), 6, "slave device busy"),
        (build_exception_response(1, 3, 0x0B).hex(), 0x0B,
         "gateway target device failed to respond"),
        (build_exception_response(1, 3, 0x42).hex(), 0x42, "unknown exception 0x42"),
    ],
)  # fmt: skip
def test_exception_responses(frame: str, code: int, name: str) -> None:
    with pytest.raises(ExceptionResponse) as info:
        parse_response(h(frame), 1, HOLDING, 10)
    assert (info.value.slave, info.value.function) == (1, HOLDING)
    assert (info.value.code, info.value.name) == (code, name)


@pytest.mark.parametrize(
    ("frame", "slave", "function", "count", "error"),
    [
        ("11 03 06 AE 41 56 52 43 40 49 AE", 0x11, HOLDING, 3, CrcError),
        ("11 03 06 AE 41 56 52 43 41 49 AD", 0x11, HOLDING, 3, CrcError),
        ("11 03 06 AE 41 56 52 43 40 49 AD", 0x12, HOLDING, 3, FrameError),  # wrong slave
        ("11 04 02 00 0A F8 F4", 0x11, HOLDING, 1, FrameError),  # wrong function
        ("11 03 06 AE 41 56 52 43 40 49 AD", 0x11, HOLDING, 2, FrameError),  # wrong count
        ("01 84 02 C2 C1", 1, HOLDING, 1, FrameError),  # exception for another function
        ("11 03 06", 0x11, HOLDING, 3, FrameError),  # too short
        (append(h("110307AE41565243400000")).hex(), 0x11, HOLDING, None, FrameError),  # odd count
        ("11 03 06 AE 41 56 52 43 40 49 AD 00", 0x11, HOLDING, None, FrameError),  # trailing
        (append(h("110308AE4156524340")).hex(), 0x11, HOLDING, None, FrameError),  # bad length
        (append(h("1103")).hex(), 0x11, HOLDING, None, FrameError),
        (append(h("110300")).hex(), 0x11, HOLDING, None, FrameError),  # zero registers
        (append(h("1106000100")).hex(), 0x11, WRITE, None, FrameError),
        (append(h("018302FF")).hex(), 1, HOLDING, 1, FrameError),
    ],
)
def test_response_errors(
    frame: str, slave: int, function: int, count: int | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_response(h(frame), slave, function, count)


def test_crc_error_reports_both_values() -> None:
    with pytest.raises(CrcError) as info:
        strip_crc(h("0207 4113".replace(" ", "")))
    assert (info.value.expected, info.value.received) == (0x1241, 0x1341)


def test_build_response_matches_published_frames() -> None:
    registers = RegistersResponse(0x11, HOLDING, (0xAE41, 0x5652, 0x4340))
    assert build_response(registers) == h("110306AE415652434049AD")
    assert build_response(WriteResponse(0x11, 1, 3)) == h("1106000100039A9B")
    assert build_exception_response(1, 3, 2) == h("018302C0F1")
    with pytest.raises(RequestError):
        build_response(RegistersResponse(1, HOLDING, ()))
    with pytest.raises(RequestError):
        build_response(RegistersResponse(1, HOLDING, (65536,)))
