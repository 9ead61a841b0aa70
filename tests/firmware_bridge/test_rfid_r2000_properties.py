"""Hypothesis: R2000 request/response round trips, reassembly, random-byte fuzzing."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.rfid_r2000 import (
    ERROR_CODES,
    MAX_ANTENNA,
    RSSI_MAX_DBM,
    RSSI_MIN_DBM,
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
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    pc_for_epc,
)
from firmware_bridge.rfid_r2000_framing import (
    Frame,
    R2000Framer,
    RfidError,
    encode_frame,
    parse_frame,
)

ADDRESS = st.integers(0, 0xFF)
BYTE1 = st.integers(1, 0xFF)
PORT = st.integers(1, 4)
INVENTORY = st.sampled_from([Command.REAL_TIME_INVENTORY, Command.FAST_SWITCH_ANT_INVENTORY])


@st.composite
def tag_reports(draw: st.DrawFn) -> TagReport:
    epc = draw(st.binary(max_size=31).map(lambda b: b + b if len(b) % 2 else b))
    epc = epc[:62]
    return TagReport(
        antenna=draw(st.integers(1, MAX_ANTENNA)),
        frequency_point=draw(st.integers(0, 63)),
        pc=pc_for_epc(epc) | draw(st.integers(0, 0x7FF)),
        epc=epc,
        rssi_dbm=draw(st.integers(RSSI_MIN_DBM, RSSI_MAX_DBM)),
        cmd=draw(INVENTORY),
        address=draw(ADDRESS),
    )


RESPONSES: st.SearchStrategy[Response] = st.one_of(
    tag_reports(),
    st.builds(InventoryEnd, PORT, st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), ADDRESS),
    st.builds(FastSwitchEnd, st.integers(0, 2**24 - 1), st.integers(0, 2**32 - 1), ADDRESS),
    st.builds(AntennaMissing, PORT, st.integers(0, 0xFF), ADDRESS),
    st.builds(
        CommandStatus, st.sampled_from(list(Command)), st.sampled_from(list(ERROR_CODES)), ADDRESS
    ),
    st.builds(FirmwareVersion, st.integers(0, 0xFF), st.integers(0, 0xFF), ADDRESS),
    st.builds(WorkAntenna, PORT, ADDRESS),
)

REQUESTS: st.SearchStrategy[Request] = st.one_of(
    st.builds(Reset, ADDRESS),
    st.builds(GetFirmwareVersion, ADDRESS),
    st.builds(SetWorkAntenna, PORT, ADDRESS),
    st.builds(GetWorkAntenna, ADDRESS),
    st.builds(RealTimeInventory, BYTE1, ADDRESS),
    st.builds(
        FastSwitchInventory,
        st.lists(st.builds(AntennaStep, PORT, BYTE1), min_size=1, max_size=4).map(tuple),
        st.integers(0, 0xFF),
        BYTE1,
        ADDRESS,
    ),
)


@given(RESPONSES)
def test_response_round_trip(response: Response) -> None:
    assert decode_response(parse_frame(encode_response(response))) == response


@given(REQUESTS)
def test_request_round_trip(request: Request) -> None:
    assert decode_request(parse_frame(encode_request(request))) == request


@given(st.lists(RESPONSES, min_size=1, max_size=6), st.data())
def test_reassembly_of_any_chunking(responses: list[Response], data: st.DataObject) -> None:
    stream = b"".join(encode_response(r) for r in responses)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    framer = R2000Framer()
    frames: list[Frame] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        frames += framer.feed(stream[start:end])
    assert [decode_response(f) for f in frames] == responses
    assert framer.stats.frames == len(responses)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_framer_or_decoders(noise: bytes) -> None:
    framer = R2000Framer()
    for frame in framer.feed(noise):
        for decode in (decode_response, decode_request):
            with contextlib.suppress(RfidError):
                decode(frame)
    with contextlib.suppress(RfidError):
        parse_frame(noise)
    assert framer.pending <= len(noise)


@settings(max_examples=300)
@given(ADDRESS, st.integers(0, 0xFF), st.binary(max_size=80))
def test_any_checked_frame_decodes_or_raises_rfid_error(
    address: int, cmd: int, payload: bytes
) -> None:
    frame = parse_frame(encode_frame(address, cmd, payload))
    for decode in (decode_response, decode_request):
        with contextlib.suppress(RfidError):
            decode(frame)


@given(st.lists(RESPONSES, min_size=1, max_size=4), st.binary(max_size=40))
def test_frames_after_noise_are_all_recovered(responses: list[Response], noise: bytes) -> None:
    stream = b"".join(encode_response(r) for r in responses)
    framer = R2000Framer()
    decoded = [decode_response(f) for f in framer.feed(noise.replace(b"\xa0", b"") + stream)]
    assert decoded == responses
