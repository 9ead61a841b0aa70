"""LineFramer: reassembly across arbitrary splits, noise, overlong lines, restarts."""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.nmea import LineFramer, NmeaError, parse_sentence
from firmware_bridge.nmea_encode import checksum

GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
STREAM = f"{GGA}\r\n{RMC}\r\n".encode("ascii")


def feed_all(framer: LineFramer, *chunks: bytes) -> list[str]:
    lines: list[str] = []
    for chunk in chunks:
        lines.extend(framer.feed(chunk))
    return lines


def test_split_at_every_offset() -> None:
    for cut in range(len(STREAM) + 1):
        framer = LineFramer()
        assert feed_all(framer, STREAM[:cut], STREAM[cut:]) == [GGA, RMC], cut
        assert (framer.discarded_bytes, framer.overlong_lines) == (0, 0)


def test_byte_by_byte() -> None:
    framer = LineFramer()
    assert feed_all(framer, *(STREAM[i : i + 1] for i in range(len(STREAM)))) == [GGA, RMC]


def test_lf_only_and_cr_only_terminators() -> None:
    framer = LineFramer()
    assert framer.feed(f"{GGA}\n{RMC}\r".encode()) == [GGA, RMC]
    assert framer.discarded_bytes == 0


def test_incomplete_line_is_held_until_terminated() -> None:
    framer = LineFramer()
    assert framer.feed(GGA.encode()) == []
    assert framer.feed(b"\r\n") == [GGA]


def test_noise_between_lines_is_counted() -> None:
    framer = LineFramer()
    noise = b"\x00\xff\xb5b\x01\x07garbage"
    assert framer.feed(noise + STREAM + noise) == [GGA, RMC]
    assert framer.discarded_bytes == 2 * len(noise)


def test_dollar_restarts_a_line_and_drops_the_partial() -> None:
    framer = LineFramer()
    partial = b"$GPGSV,3,1,10,03,41"
    assert framer.feed(partial + STREAM) == [GGA, RMC]
    assert framer.discarded_bytes == len(partial)


def test_non_ascii_byte_inside_a_line_drops_it() -> None:
    framer = LineFramer()
    corrupt = b"$GPGGA,1235\xe919,4807.038\r\n"
    assert framer.feed(corrupt + STREAM) == [GGA, RMC]
    assert framer.discarded_bytes == len(corrupt) - 2  # the CRLF is a terminator, not noise


def test_overlong_line_is_dropped_and_counted() -> None:
    framer = LineFramer()
    overlong = b"$GPTXT," + b"A" * 200 + b"\r\n"
    assert feed_all(framer, overlong[:50], overlong[50:] + STREAM) == [GGA, RMC]
    assert (framer.overlong_lines, framer.discarded_bytes) == (1, 0)


def test_line_of_exactly_the_maximum_is_kept() -> None:
    framer = LineFramer()
    line = "$" + "A" * 119
    assert framer.feed(line.encode() + b"\n" + line.encode() + b"A\n") == [line]
    assert framer.overlong_lines == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=5))
def test_random_bytes_raise_only_nmea_errors(data: bytes, cuts: list[int]) -> None:
    framer = LineFramer()
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    for start, end in itertools.pairwise(bounds):
        for line in framer.feed(data[start:end]):
            assert line.startswith("$") and len(line) <= 120
            with contextlib.suppress(NmeaError):
                parse_sentence(line)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["GPGGA", "GNRMC", "GPVTG", "BDGSA"]),
    st.text(alphabet="0123456789.,-+ABDEKMNSTVW", max_size=90),
)
def test_checksummed_random_fields_raise_only_nmea_errors(address: str, fields: str) -> None:
    # A correct checksum gets random field text past the envelope into the field converters.
    body = f"{address},{fields}"
    with contextlib.suppress(NmeaError):
        parse_sentence(f"${body}*{checksum(body):02X}")
