"""ResponseReader: responses arriving in pieces, split at every offset; RTU timing."""

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
)
from firmware_bridge.modbus_framing import (
    Complete,
    NeedMore,
    ReadStatus,
    ResponseReader,
    inter_char_timeout_s,
    inter_frame_silence_s,
)

HOLDING = FunctionCode.READ_HOLDING_REGISTERS
SPEC_RESPONSE = bytes.fromhex("110306AE415652434049AD")
SPEC_REGISTERS = RegistersResponse(0x11, HOLDING, (0xAE41, 0x5652, 0x4340))


def feed_chunks(reader: ResponseReader, *chunks: bytes) -> list[ReadStatus]:
    return [reader.feed(chunk) for chunk in chunks]


def test_whole_frame_at_once() -> None:
    reader = ResponseReader(0x11, HOLDING, 3)
    assert reader.feed(SPEC_RESPONSE) == Complete(SPEC_REGISTERS, SPEC_RESPONSE)


def test_byte_by_byte_reports_what_is_missing() -> None:
    reader = ResponseReader(0x11, HOLDING, 3)
    statuses = feed_chunks(reader, *(SPEC_RESPONSE[i : i + 1] for i in range(11)))
    assert statuses == [
        NeedMore(4), NeedMore(3), NeedMore(8), NeedMore(7), NeedMore(6), NeedMore(5),
        NeedMore(4), NeedMore(3), NeedMore(2), NeedMore(1),
        Complete(SPEC_REGISTERS, SPEC_RESPONSE),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "frame", "expected"),
    [
        (ReadRequest(0x11, HOLDING, 0x6B, 3), SPEC_RESPONSE, SPEC_REGISTERS),
        (ReadRequest(0x11, FunctionCode.READ_INPUT_REGISTERS, 8, 1),
         bytes.fromhex("110402000AF8F4"),
         RegistersResponse(0x11, FunctionCode.READ_INPUT_REGISTERS, (10,))),
        (WriteRequest(0x11, 1, 3), bytes.fromhex("1106000100039A9B"), WriteResponse(0x11, 1, 3)),
    ],
)  # fmt: skip
def test_split_at_every_offset(
    request_: ReadRequest | WriteRequest, frame: bytes, expected: RegistersResponse | WriteResponse
) -> None:
    for cut in range(len(frame) + 1):
        for second_cut in range(cut, len(frame) + 1):
            reader = ResponseReader.for_request(request_)
            chunks = [frame[:cut], frame[cut:second_cut], frame[second_cut:]]
            statuses = feed_chunks(reader, *(chunk for chunk in chunks if chunk))
            assert statuses[-1] == Complete(expected, frame), (cut, second_cut)
            assert all(isinstance(s, NeedMore) for s in statuses[:-1])


def test_exception_split_at_every_offset() -> None:
    frame = bytes.fromhex("018302C0F1")
    for cut in range(len(frame)):
        reader = ResponseReader(1, HOLDING, 10)
        assert reader.feed(frame[:cut]) == NeedMore(5 - cut)
        with pytest.raises(ExceptionResponse) as info:
            reader.feed(frame[cut:])
        assert (info.value.code, info.value.name) == (2, "illegal data address")


def test_trailing_bytes_are_returned_and_reader_is_single_use() -> None:
    reader = ResponseReader(0x11, HOLDING, 3)
    assert reader.feed(SPEC_RESPONSE + b"\x00\x01") == Complete(
        SPEC_REGISTERS, SPEC_RESPONSE, b"\x00\x01"
    )
    with pytest.raises(FrameError):
        reader.feed(b"\x00")


@pytest.mark.parametrize(
    ("chunks", "error"),
    [
        ([b"\x11\x05"], FrameError),  # function nobody asked for
        ([b"\x11\x03\x04"], FrameError),  # byte count for 2 registers, 3 requested
        ([SPEC_RESPONSE[:-1], b"\xae"], CrcError),
        ([b"\x12", SPEC_RESPONSE[1:]], CrcError),  # corrupted slave byte fails the CRC first
        ([b"\x11\x84\x02\xc2\xc1"], FrameError),
    ],
)
def test_errors(chunks: list[bytes], error: type[Exception]) -> None:
    reader = ResponseReader(0x11, HOLDING, 3)
    with pytest.raises(error):
        feed_chunks(reader, *chunks)
    with pytest.raises(FrameError):
        reader.feed(b"")


def test_response_from_another_slave() -> None:
    with pytest.raises(FrameError, match="slave 1, expected 17"):
        ResponseReader(0x11, HOLDING, 2).feed(bytes.fromhex("010304000A0014DA3E"))


@pytest.mark.parametrize(("slave", "function"), [(0, 3), (248, 3), (1, 0x10)])
def test_reader_rejects_impossible_expectations(slave: int, function: int) -> None:
    with pytest.raises(RequestError):
        ResponseReader(slave, function, 1)


@pytest.mark.parametrize(
    ("baud", "t35", "t15"),
    [
        (1200, 0.032083, 0.01375),
        (9600, 0.0040104, 0.00171875),
        (19200, 0.0020052, 0.000859375),
        (38400, 0.00175, 0.00075),
        (115200, 0.00175, 0.00075),
    ],
)
def test_timing(baud: int, t35: float, t15: float) -> None:
    assert inter_frame_silence_s(baud) == pytest.approx(t35, rel=1e-4)
    assert inter_char_timeout_s(baud) == pytest.approx(t15, rel=1e-4)


def test_timing_rejects_nonsense_baud() -> None:
    with pytest.raises(ValueError):
        inter_frame_silence_s(0)
