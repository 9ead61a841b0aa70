"""The van's NMEA decodes, through firmware_bridge, to exactly the Positions it promises."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from firmware_bridge.nmea import (
    ChecksumError,
    FixAssembler,
    LineFramer,
    NmeaError,
    parse_sentence,
)
from firmware_bridge.nmea_encode import sentence as encode_body
from firmware_bridge.nmea_fields import KNOT_MPS
from firmware_bridge.records import FixQuality, Position
from simulators.gps_van import Epoch, FaultKind, GpsVanSimulator, quantise_time
from simulators.routes import HANGZHOU, SHANGHAI

START = datetime(2025, 3, 1, 7, 59, 58, 123_456, tzinfo=UTC)


def decode_stream(
    data: bytes, device_id: str, chunk_seed: int = 0
) -> tuple[list[Position], Counter[str]]:
    """What a gateway gets: random-sized reads, framing, parsing (skip and count), assembly."""
    framer, assembler = LineFramer(), FixAssembler(device_id)
    rng = random.Random(chunk_seed)
    errors: Counter[str] = Counter()
    results = []
    received = START
    pos = 0
    while pos < len(data):
        size = rng.randint(1, 200)
        for line in framer.feed(data[pos : pos + size]):
            try:
                sentence = parse_sentence(line)
            except NmeaError as exc:
                errors[type(exc).__name__] += 1
                continue
            results.extend(assembler.push(sentence, received))
        pos += size
    results.extend(assembler.flush())
    positions = [r for r in results if isinstance(r, Position)]
    assert len(positions) == len(results)
    errors["discarded_bytes"] = framer.discarded_bytes
    return positions, errors


def stream(epochs: list[Epoch]) -> bytes:
    return b"".join(epoch.data + epoch.fault_data for epoch in epochs)


@pytest.mark.parametrize("rate", [0.5, 0.99, 10.01, 11, float("nan"), float("inf")])
def test_rate_outside_1_to_10_hz_is_rejected(rate: float) -> None:
    with pytest.raises(ValueError, match=r"rate_hz must be within 1\.\.10"):
        GpsVanSimulator(SHANGHAI, rate, "van-01", START)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sentences": ("VTG",)}, "sentences must be"),
        ({"sentences": ("GGA", "GGA")}, "sentences must be"),
        ({"sentences": ("GGA", "GSV")}, "sentences must be"),
        ({"talker": "gp"}, "talker"),
        ({"vehicle_id": ""}, "vehicle_id"),
        ({"start_time": datetime(2025, 1, 1)}, "timezone-aware"),
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"vehicle_id": "van-01", "start_time": START} | kwargs
    with pytest.raises(ValueError, match=message):
        GpsVanSimulator(SHANGHAI, 5, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [1, 10])
def test_rate_limits_are_accepted_and_set_the_epoch_spacing(rate: float) -> None:
    sim = GpsVanSimulator(SHANGHAI, rate, "van-01", START)
    times = [sim.epoch(i).time for i in range(3)]
    step = timedelta(seconds=1 / rate)
    first = datetime(2025, 3, 1, 7, 59, 58, 120_000, tzinfo=UTC)
    assert times == [first, first + step, first + 2 * step]


def test_quantise_time_rounds_to_centiseconds() -> None:
    assert quantise_time(START) == START.replace(microsecond=120_000)
    late = datetime(2025, 3, 1, 23, 59, 59, 996_000, tzinfo=UTC)
    assert quantise_time(late) == datetime(2025, 3, 2, 0, 0, 0, tzinfo=UTC)


def test_expected_position_is_the_route_state_quantised_like_the_wire() -> None:
    sim = GpsVanSimulator(HANGZHOU, 5, "van-07", START, seed=5, speed_mps=12.0)
    for index in range(0, 3000, 37):
        epoch = sim.epoch(index)
        fix, state = epoch.expected, epoch.state
        assert fix.device_id == "van-07"
        assert fix.time == epoch.time
        assert fix.time.microsecond % 10_000 == 0
        assert abs(fix.lat - state.lat) <= 0.5e-5 / 60 + 1e-12
        assert abs(fix.lon - state.lon) <= 0.5e-5 / 60 + 1e-12
        assert fix.speed_mps is not None and fix.course_deg is not None
        assert abs(fix.speed_mps - state.speed_mps) <= 0.0005 * KNOT_MPS + 1e-12
        assert abs(fix.course_deg - state.course_deg) <= 0.005 + 1e-9
        assert (fix.fix_quality, fix.hdop, fix.altitude_m) == (FixQuality.GPS, 0.9, 12.0)
        assert fix.satellites is not None and 7 <= fix.satellites <= 11


@pytest.mark.parametrize(
    ("sentences", "talker"),
    [
        (("GGA", "RMC"), "GP"),
        (("GGA",), "GP"),
        (("RMC", "VTG"), "GN"),
        (("VTG", "GGA", "RMC"), "GN"),
    ],
)
def test_decoded_stream_equals_expected_positions(sentences: tuple[str, ...], talker: str) -> None:
    sim = GpsVanSimulator(SHANGHAI, 10, "van-01", START, seed=2, sentences=sentences, talker=talker)
    epochs = [sim.epoch(i) for i in range(300)]
    decoded, errors = decode_stream(stream(epochs), "van-01")
    assert decoded == [epoch.expected for epoch in epochs]
    assert sum(errors.values()) == 0
    assert all(epoch.data.decode("ascii").startswith(f"${talker}") for epoch in epochs)


def test_faults_are_injected_decoded_as_errors_and_never_as_fixes() -> None:
    sim = GpsVanSimulator(SHANGHAI, 5, "van-01", START, seed=9, faults=True, fault_probability=0.3)
    epochs = [sim.epoch(i) for i in range(400)]
    faults = Counter(epoch.fault for epoch in epochs if epoch.fault is not None)
    assert set(faults) == set(FaultKind)
    assert all(n > 20 for n in faults.values())
    decoded, errors = decode_stream(stream(epochs), "van-01", chunk_seed=4)
    assert decoded == [epoch.expected for epoch in epochs]
    # Each bad-checksum fault is a whole GGA+RMC epoch; noise and truncated lines are discarded.
    assert errors["ChecksumError"] == 2 * faults[FaultKind.BAD_CHECKSUM]
    assert set(errors) == {"ChecksumError", "discarded_bytes"}
    noise_and_cut = sum(
        len(e.fault_data) for e in epochs if e.fault in (FaultKind.NOISE, FaultKind.TRUNCATED)
    )
    assert errors["discarded_bytes"] == noise_and_cut


def test_a_decoder_that_ignored_checksums_would_report_an_extra_fix() -> None:
    sim = GpsVanSimulator(SHANGHAI, 5, "van-01", START, seed=9, faults=True, fault_probability=0.3)
    epoch = next(e for e in (sim.epoch(i) for i in range(100)) if e.fault is FaultKind.BAD_CHECKSUM)
    lines = epoch.fault_data.decode("ascii").splitlines()
    for line in lines:
        with pytest.raises(ChecksumError):
            parse_sentence(line)
    repaired = "".join(encode_body(line[1 : line.index("*")]) for line in lines)
    following = sim.epoch(epoch.index + 1)
    decoded, _ = decode_stream(epoch.data + repaired.encode() + following.data, "van-01")
    assert [p.time for p in decoded] == [
        epoch.time,
        epoch.time + timedelta(milliseconds=100),
        following.time,
    ]


def test_truncated_fault_is_an_unterminated_prefix_of_a_sentence() -> None:
    sim = GpsVanSimulator(SHANGHAI, 5, "van-01", START, seed=9, faults=True, fault_probability=0.3)
    epoch = next(e for e in (sim.epoch(i) for i in range(100)) if e.fault is FaultKind.TRUNCATED)
    text = epoch.fault_data.decode("ascii")
    assert text.startswith("$GPGGA,") or text.startswith("$GPRMC,")
    assert "*" not in text and "\r" not in text and "\n" not in text


def test_noise_fault_holds_no_dollar_or_line_end() -> None:
    sim = GpsVanSimulator(SHANGHAI, 5, "van-01", START, seed=9, faults=True, fault_probability=0.3)
    noise = [e.fault_data for e in (sim.epoch(i) for i in range(200)) if e.fault is FaultKind.NOISE]
    assert noise
    assert all(8 <= len(n) <= 40 and not set(n) & set(b"$\r\n") for n in noise)


def test_same_seed_same_bytes_and_epoch_is_random_access() -> None:
    def make() -> GpsVanSimulator:
        return GpsVanSimulator(SHANGHAI, 5, "van-01", START, seed=1, faults=True)

    forward = [make().epoch(i) for i in range(50)]
    sim = make()
    backward = [sim.epoch(i) for i in reversed(range(50))][::-1]
    assert forward == backward
    other = GpsVanSimulator(SHANGHAI, 5, "van-01", START, seed=2, faults=True)
    assert [e.data for e in forward] != [other.epoch(i).data for i in range(50)]


def test_epoch_time_comes_from_the_caller_without_start_time() -> None:
    sim = GpsVanSimulator(SHANGHAI, 5, "van-01")
    with pytest.raises(ValueError, match="no start_time"):
        sim.epoch(0)
    epoch = sim.epoch(3, START)
    assert epoch.time == START.replace(microsecond=120_000)
    assert epoch.expected.time == epoch.time
    assert epoch.state == sim.walker.at(0.6)
