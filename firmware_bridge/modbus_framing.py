"""Reassemble one Modbus RTU response from bytes arriving in pieces, without doing any I/O.

The master knows what it asked for, so the reader knows the frame length as soon as it has seen
the function byte (and, for 03/04, the byte count): it answers "need more", hands back the
decoded response, or raises the typed :class:`~firmware_bridge.modbus.ModbusError`. Timing
(how long the line must stay silent between frames) is given by :func:`inter_frame_silence_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.modbus import (
    EXCEPTION_FLAG,
    MAX_SLAVE,
    READ_FUNCTIONS,
    FrameError,
    FunctionCode,
    ModbusError,
    ReadRequest,
    Request,
    RequestError,
    Response,
    parse_response,
    response_length,
)

BITS_PER_CHAR = 11
"""RTU character: start bit, 8 data bits, parity (or a second stop bit), stop bit."""
_FIXED_TIMING_ABOVE_BAUD = 19200
_SHORTEST_RESPONSE = 5


def character_time_s(baudrate: int) -> float:
    if baudrate <= 0:
        raise ValueError(f"baud rate must be positive, got {baudrate}")
    return BITS_PER_CHAR / baudrate


def inter_frame_silence_s(baudrate: int) -> float:
    """t3.5: 3.5 character times; a fixed 1.75 ms above 19200 baud (Modbus serial line spec)."""
    char_time = character_time_s(baudrate)
    return 0.00175 if baudrate > _FIXED_TIMING_ABOVE_BAUD else 3.5 * char_time


def inter_char_timeout_s(baudrate: int) -> float:
    """t1.5: 1.5 character times; a fixed 0.75 ms above 19200 baud."""
    char_time = character_time_s(baudrate)
    return 0.00075 if baudrate > _FIXED_TIMING_ABOVE_BAUD else 1.5 * char_time


@dataclass(frozen=True, slots=True)
class NeedMore:
    """The frame is incomplete; at least ``missing`` more bytes are needed."""

    missing: int


@dataclass(frozen=True, slots=True)
class Complete:
    """A whole, valid response frame; ``trailing`` holds bytes fed beyond its end."""

    response: Response
    frame: bytes
    trailing: bytes = b""


ReadStatus = NeedMore | Complete


class ResponseReader:
    """Feed the bytes of one expected response as they arrive; single use per request."""

    def __init__(self, expected_slave: int, expected_function: int, expected_count: int) -> None:
        if not 1 <= expected_slave <= MAX_SLAVE:
            raise RequestError(f"responses come from slaves 1..{MAX_SLAVE}, not {expected_slave}")
        if expected_function not in set(FunctionCode):
            raise RequestError(f"unsupported function {expected_function:#04x}")
        self.expected_slave = expected_slave
        self.expected_function = expected_function
        self.expected_count = expected_count
        self._buffer = bytearray()
        self._done = False

    @classmethod
    def for_request(cls, request: Request) -> ResponseReader:
        if isinstance(request, ReadRequest):
            return cls(request.slave, request.function, request.count)
        return cls(request.slave, FunctionCode.WRITE_SINGLE_REGISTER, 1)

    def feed(self, data: bytes) -> ReadStatus:
        if self._done:
            raise FrameError("bytes fed after the response was complete or rejected")
        self._buffer += data
        try:
            return self._status()
        except ModbusError:
            self._done = True
            raise

    def _status(self) -> ReadStatus:
        buffer = self._buffer
        if len(buffer) < 2:
            return NeedMore(_SHORTEST_RESPONSE - len(buffer))
        function = buffer[1]
        if function not in (self.expected_function, self.expected_function | EXCEPTION_FLAG):
            raise FrameError(
                f"response function {function:#04x}, expected {self.expected_function:#04x}"
            )
        byte_count = buffer[2] if len(buffer) > 2 else None
        if function in READ_FUNCTIONS and byte_count is not None:
            self._check_byte_count(byte_count)
        length = response_length(function, byte_count)
        if length is None:
            return NeedMore(_SHORTEST_RESPONSE - len(buffer))
        if len(buffer) < length:
            return NeedMore(length - len(buffer))
        frame = bytes(buffer[:length])
        response = parse_response(
            frame, self.expected_slave, self.expected_function, self.expected_count
        )
        self._done = True
        return Complete(response, frame, bytes(buffer[length:]))

    def _check_byte_count(self, byte_count: int) -> None:
        if byte_count != 2 * self.expected_count:
            raise FrameError(f"byte count {byte_count}, expected {2 * self.expected_count}")
