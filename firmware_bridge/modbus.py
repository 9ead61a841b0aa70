"""Modbus RTU frames: CRC-16/MODBUS, request and response building and parsing (no I/O).

Covers function 03 (read holding registers), 04 (read input registers) and 06 (write single
register), plus exception responses. Incremental reassembly of a response arriving in pieces is
in :mod:`firmware_bridge.modbus_framing`; register value helpers in
:mod:`firmware_bridge.modbus_registers`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MAX_READ_COUNT = 125
"""Registers one 03/04 request may ask for (spec: 1 to 125, 0x7D)."""
MAX_SLAVE = 247
EXCEPTION_FLAG = 0x80
_WORD = struct.Struct(">HH")


class FunctionCode(IntEnum):
    READ_HOLDING_REGISTERS = 0x03
    READ_INPUT_REGISTERS = 0x04
    WRITE_SINGLE_REGISTER = 0x06


READ_FUNCTIONS = frozenset({FunctionCode.READ_HOLDING_REGISTERS, FunctionCode.READ_INPUT_REGISTERS})

EXCEPTION_NAMES: dict[int, str] = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "slave device failure",
    0x05: "acknowledge",
    0x06: "slave device busy",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}


class ModbusError(ValueError):
    """Base of every Modbus decode or request-building error."""


class CrcError(ModbusError):
    def __init__(self, expected: int, received: int) -> None:
        super().__init__(f"CRC mismatch: computed {expected:#06x}, frame carries {received:#06x}")
        self.expected = expected
        self.received = received


class FrameError(ModbusError):
    """Wrong slave, wrong function, wrong byte count or length, or a malformed frame."""


class ExceptionResponse(ModbusError):
    """The slave answered with an exception response (function code | 0x80)."""

    def __init__(self, slave: int, function: int, code: int) -> None:
        self.slave = slave
        self.function = function
        self.code = code
        self.name = EXCEPTION_NAMES.get(code, f"unknown exception {code:#04x}")
        super().__init__(f"slave {slave} function {function:#04x}: {self.name} ({code:#04x})")


class RequestError(ModbusError):
    """Request parameters outside what the protocol allows."""


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (reflected polynomial 0xA001, initial 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def append_crc(payload: bytes) -> bytes:
    return payload + crc16(payload).to_bytes(2, "little")


def strip_crc(frame: bytes) -> bytes:
    """The frame without its CRC; raises :class:`FrameError` if too short, else CrcError."""
    if len(frame) < 4:
        raise FrameError(f"RTU frame needs at least 4 bytes, got {len(frame)}")
    payload = frame[:-2]
    received = int.from_bytes(frame[-2:], "little")
    expected = crc16(payload)
    if received != expected:
        raise CrcError(expected, received)
    return payload


@dataclass(frozen=True, slots=True)
class ReadRequest:
    slave: int
    function: FunctionCode
    address: int
    count: int


@dataclass(frozen=True, slots=True)
class WriteRequest:
    slave: int
    address: int
    value: int


@dataclass(frozen=True, slots=True)
class RegistersResponse:
    slave: int
    function: FunctionCode
    registers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WriteResponse:
    slave: int
    address: int
    value: int


Request = ReadRequest | WriteRequest
Response = RegistersResponse | WriteResponse


def _check_word(value: int, what: str) -> None:
    if not 0 <= value <= 0xFFFF:
        raise RequestError(f"{what} must be 0..65535, got {value}")


def _check_request(request: Request) -> None:
    lowest_slave = 0 if isinstance(request, WriteRequest) else 1  # 0 = broadcast, writes only
    if not lowest_slave <= request.slave <= MAX_SLAVE:
        raise RequestError(f"slave must be {lowest_slave}..{MAX_SLAVE}, got {request.slave}")
    _check_word(request.address, "register address")
    if isinstance(request, WriteRequest):
        _check_word(request.value, "register value")
        return
    if request.function not in READ_FUNCTIONS:
        raise RequestError(f"function {request.function:#04x} is not a register read")
    if not 1 <= request.count <= MAX_READ_COUNT:
        raise RequestError(f"register count must be 1..{MAX_READ_COUNT}, got {request.count}")
    if request.address + request.count > 0x10000:
        raise RequestError("register range runs past address 65535")


def build_request(request: Request) -> bytes:
    _check_request(request)
    if isinstance(request, WriteRequest):
        head = bytes((request.slave, FunctionCode.WRITE_SINGLE_REGISTER))
        return append_crc(head + _WORD.pack(request.address, request.value))
    head = bytes((request.slave, request.function))
    return append_crc(head + _WORD.pack(request.address, request.count))


def read_holding_registers(slave: int, address: int, count: int) -> bytes:
    return build_request(ReadRequest(slave, FunctionCode.READ_HOLDING_REGISTERS, address, count))


def read_input_registers(slave: int, address: int, count: int) -> bytes:
    return build_request(ReadRequest(slave, FunctionCode.READ_INPUT_REGISTERS, address, count))


def write_single_register(slave: int, address: int, value: int) -> bytes:
    return build_request(WriteRequest(slave, address, value))


def parse_request(frame: bytes) -> Request:
    """Decode a request frame (what a simulated slave receives)."""
    payload = strip_crc(frame)
    if len(payload) != 6:
        raise FrameError(f"request of 8 bytes expected, got {len(frame)}")
    slave, function = payload[0], payload[1]
    first, second = _WORD.unpack_from(payload, 2)
    request: Request
    if function == FunctionCode.WRITE_SINGLE_REGISTER:
        request = WriteRequest(slave, first, second)
    elif function in READ_FUNCTIONS:
        request = ReadRequest(slave, FunctionCode(function), first, second)
    else:
        raise FrameError(f"unsupported function {function:#04x}")
    try:
        _check_request(request)
    except RequestError as exc:
        raise FrameError(str(exc)) from exc
    return request


def build_response(response: Response) -> bytes:
    """Encode a normal response (what a simulated slave sends)."""
    if isinstance(response, WriteResponse):
        head = bytes((response.slave, FunctionCode.WRITE_SINGLE_REGISTER))
        return append_crc(head + _WORD.pack(response.address, response.value))
    for value in response.registers:
        _check_word(value, "register value")
    if not 1 <= len(response.registers) <= MAX_READ_COUNT:
        raise RequestError(f"1..{MAX_READ_COUNT} registers per response")
    data = struct.pack(f">{len(response.registers)}H", *response.registers)
    return append_crc(bytes((response.slave, response.function, len(data))) + data)


def build_exception_response(slave: int, function: int, code: int) -> bytes:
    return append_crc(bytes((slave, function | EXCEPTION_FLAG, code)))


def response_length(function_byte: int, byte_count: int | None) -> int | None:
    """Total RTU length of a response from its function byte (and byte count for 03/04);
    ``None`` while the byte count is still needed."""
    if function_byte & EXCEPTION_FLAG:
        return 5
    if function_byte == FunctionCode.WRITE_SINGLE_REGISTER:
        return 8
    if function_byte in READ_FUNCTIONS:
        return None if byte_count is None else 5 + byte_count
    raise FrameError(f"unsupported function {function_byte:#04x}")


def parse_response(
    frame: bytes, expected_slave: int, expected_function: int, expected_count: int | None = None
) -> Response:
    """Decode one complete response frame; raises CrcError, FrameError or ExceptionResponse."""
    payload = strip_crc(frame)
    slave, function = payload[0], payload[1]
    if slave != expected_slave:
        raise FrameError(f"response from slave {slave}, expected {expected_slave}")
    if function == expected_function | EXCEPTION_FLAG:
        if len(payload) != 3:
            raise FrameError(f"exception response of 5 bytes expected, got {len(frame)}")
        raise ExceptionResponse(slave, expected_function, payload[2])
    if function != expected_function:
        raise FrameError(f"response function {function:#04x}, expected {expected_function:#04x}")
    if function == FunctionCode.WRITE_SINGLE_REGISTER:
        if len(payload) != 6:
            raise FrameError(f"write response of 8 bytes expected, got {len(frame)}")
        return WriteResponse(slave, *_WORD.unpack_from(payload, 2))
    if function not in READ_FUNCTIONS:
        raise FrameError(f"unsupported function {function:#04x}")
    byte_count = payload[2] if len(payload) > 2 else 0
    if byte_count == 0 or byte_count % 2 or len(payload) != 3 + byte_count:
        raise FrameError(f"byte count {byte_count} does not match a {len(frame)}-byte frame")
    if expected_count is not None and byte_count != 2 * expected_count:
        raise FrameError(f"{byte_count // 2} registers returned, {expected_count} requested")
    registers = struct.unpack_from(f">{byte_count // 2}H", payload, 3)
    return RegistersResponse(slave, FunctionCode(function), registers)
