"""R2000 "0xA0" protocol: frames written out by hand from the protocol document's layouts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from firmware_bridge.records import TagRead
from firmware_bridge.rfid_r2000 import (
    AntennaMissing,
    AntennaStep,
    Command,
    CommandStatus,
    FastSwitchEnd,
    FastSwitchInventory,
    FirmwareVersion,
    GetFirmwareVersion,
    GetWorkAntenna,
    InventoryEnd,
    RealTimeInventory,
    Request,
    Reset,
    Response,
    SetWorkAntenna,
    TagReport,
    WorkAntenna,
    decode_hex_frame,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    error_name,
    rssi_to_dbm,
    to_tag_read,
)
from firmware_bridge.rfid_r2000_framing import (
    Frame,
    RfidChecksumError,
    RfidError,
    RfidFrameError,
    RfidLengthError,
    RfidUnknownCommandError,
    checksum,
    parse_frame,
)

# GS1 TDS example SGTIN-96: urn:epc:id:sgtin:0614141.812345.6789
SGTIN_EPC = bytes.fromhex("3074257BF7194E4000001A85")
SGTIN_URI = "urn:epc:id:sgtin:0614141.812345.6789"
TIME = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("request_", "wire"),
    [
        # cmd_reset to reader address 1, as in the document's example.
        (Reset(1), "A0 03 01 70 EC"),
        (GetFirmwareVersion(1), "A0 03 01 72 EA"),
        (SetWorkAntenna(1, 1), "A0 04 01 74 00 E7"),
        (GetWorkAntenna(1), "A0 03 01 75 E7"),
        (RealTimeInventory(255, 1), "A0 04 01 89 FF D3"),
        (
            FastSwitchInventory((AntennaStep(1), AntennaStep(2)), 0, 50),
            "A0 0D FF 8A 00 01 01 01 FF 01 FF 01 00 32 95",
        ),
    ],
)
def test_request_bytes_and_back(request_: Request, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert encode_request(request_) == raw
    assert decode_request(parse_frame(raw)) == request_


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (
            "A0 13 01 89 0D 30 00 30 74 25 7B F7 19 4E 40 00 00 1A 85 4E B7",
            TagReport(2, 3, 0x3000, SGTIN_EPC, -51, Command.REAL_TIME_INVENTORY, 1),
        ),
        # 8-port reader: the high bit of RSSI moves antenna 2 to antenna 6.
        (
            "A0 13 01 8A 05 30 00 30 74 25 7B F7 19 4E 40 00 00 1A 85 CE 3E",
            TagReport(6, 1, 0x3000, SGTIN_EPC, -51, Command.FAST_SWITCH_ANT_INVENTORY, 1),
        ),
        ("A0 0A 01 89 00 00 96 00 00 01 2C 09", InventoryEnd(1, 150, 300, 1)),
        ("A0 0A 01 8A 00 01 51 00 00 1F 40 1A", FastSwitchEnd(337, 8000, 1)),
        ("A0 04 01 89 22 B0", CommandStatus(0x89, 0x22, 1)),
        ("A0 05 01 8A 02 22 AC", AntennaMissing(3, 0x22, 1)),
        ("A0 05 01 72 03 07 DE", FirmwareVersion(3, 7, 1)),
        ("A0 04 01 74 10 D7", CommandStatus(0x74, 0x10, 1)),
        ("A0 04 01 75 01 E5", WorkAntenna(2, 1)),
    ],
)
def test_response_bytes_decode_and_encode(wire: str, expected: Response) -> None:
    assert decode_hex_frame(wire) == expected
    assert encode_response(expected) == bytes.fromhex(wire)


def test_status_names_and_ok() -> None:
    status = decode_hex_frame("A0 04 01 89 22 B0")
    assert isinstance(status, CommandStatus)
    assert (status.ok, status.name) == (False, "antenna_missing_error")
    assert CommandStatus(0x74, 0x10).ok
    assert error_name(0x41) == "parameter_invalid"
    assert error_name(0x99) == "unknown_error_0x99"


def test_rssi_table_is_linear_from_98_at_minus_31() -> None:
    assert [rssi_to_dbm(v) for v in (98, 97, 31, 0x80 | 98)] == [-31, -32, -98, -31]


def test_tag_read_record_with_and_without_gs1_identity() -> None:
    report = TagReport(2, 3, 0x3000, SGTIN_EPC, -51)
    assert to_tag_read(report, "dock-1", TIME) == TagRead(
        reader_id="dock-1",
        antenna=2,
        epc_hex="3074257BF7194E4000001A85",
        time=TIME,
        rssi_dbm=-51.0,
        epc_uri=SGTIN_URI,
    )
    # A TID-style (non-GS1) EPC and an empty EPC keep the raw hex and no URI.
    for epc in (bytes.fromhex("E2003411B802011234567890"), b""):
        read = to_tag_read(TagReport(1, 0, len(epc) << 10, epc, -60), "dock-1", TIME)
        assert (read.epc_hex, read.epc_uri) == (epc.hex().upper(), None)


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("A0 13 01 89 0D 30 00 30 74 25 7B F7 19 4E 40 00 00 1A 85 4E B8", RfidChecksumError),
        ("A0 14 01 89 0D 30 00", RfidLengthError),
        ("A0 02 01 DD", RfidLengthError),
        ("A1 03 01 70 EB", RfidFrameError),
        ("zz", RfidFrameError),
    ],
)
def test_bad_frames_raise_typed_errors(wire: str, error: type[RfidError]) -> None:
    with pytest.raises(error):
        decode_hex_frame(wire)


def _frame(cmd: int, data: bytes) -> Frame:
    return Frame(1, cmd, data)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        # PC announces 5 words, 6 are present.
        (_frame(0x89, b"\x01\x28\x00" + SGTIN_EPC + b"\x4e"), RfidFrameError),
        # An odd EPC length.
        (_frame(0x89, b"\x01\x30\x00" + SGTIN_EPC[:-1] + b"\x4e"), RfidFrameError),
        (_frame(0x89, b"\x01\x02\x03"), RfidFrameError),
        (_frame(0x89, b"\x07\x00\x96\x00\x00\x01\x2c"), RfidFrameError),
        (_frame(0x72, b"\x01\x02\x03"), RfidFrameError),
        (_frame(0x75, b"\x05"), RfidFrameError),
        (_frame(0x99, b"\x01\x02"), RfidUnknownCommandError),
    ],
)
def test_malformed_responses(frame: Frame, error: type[RfidError]) -> None:
    with pytest.raises(error):
        decode_response(frame)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (_frame(0x74, b"\x04"), RfidFrameError),
        (_frame(0x89, b"\x00"), RfidFrameError),
        (_frame(0x89, b""), RfidFrameError),
        (_frame(0x8A, b"\xff\x01" * 4 + b"\x00\x01"), RfidFrameError),
        (_frame(0x76, b"\x1e"), RfidUnknownCommandError),
    ],
)
def test_malformed_requests(frame: Frame, error: type[RfidError]) -> None:
    with pytest.raises(error):
        decode_request(frame)


@pytest.mark.parametrize(
    "bad",
    [
        SetWorkAntenna(5),
        RealTimeInventory(0),
        FastSwitchInventory(()),
        FastSwitchInventory(tuple(AntennaStep(1) for _ in range(5))),
        Reset(256),
    ],
)
def test_out_of_range_requests_are_refused(bad: Request) -> None:
    with pytest.raises(RfidFrameError):
        encode_request(bad)


@pytest.mark.parametrize(
    "bad",
    [
        TagReport(9, 0, 0x3000, SGTIN_EPC, -50),
        TagReport(1, 64, 0x3000, SGTIN_EPC, -50),
        TagReport(1, 0, 0x3000, SGTIN_EPC, 0),
        TagReport(1, 0, 0x2800, SGTIN_EPC, -50),
        TagReport(1, 0, 0x3000, SGTIN_EPC, -50, cmd=0x72),
        InventoryEnd(1, 0x10000, 0),
    ],
)
def test_out_of_range_responses_are_refused(bad: Response) -> None:
    with pytest.raises(RfidFrameError):
        encode_response(bad)


def test_checksum_is_twos_complement_of_the_sum() -> None:
    assert checksum(bytes.fromhex("A0 03 01 70")) == 0xEC
    assert (sum(bytes.fromhex("A0 03 01 70 EC")) & 0xFF) == 0
