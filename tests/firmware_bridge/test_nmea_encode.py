"""Encoders: exact output for known values and encode -> parse round trips."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.nmea import FixAssembler, parse_sentence
from firmware_bridge.nmea_encode import encode_gga, encode_rmc, encode_vtg
from firmware_bridge.records import FixQuality, Position

MOMENT = datetime(2024, 5, 6, 12, 35, 19, 456789, tzinfo=UTC)
KNOT = 1852 / 3600


def approx(value: float, abs: float | None = None) -> float:
    """pytest.approx typed as the float it stands in for inside whole-object comparisons."""
    return cast(float, pytest.approx(value, abs=abs))


def test_encode_gga_exact() -> None:
    assert encode_gga(MOMENT, 48.1173, -11.5166667, satellites=8, altitude_m=545.4) == (
        "$GPGGA,123519.45,4807.03800,N,01131.00000,W,1,08,0.9,545.4,M,,M,,*6F\r\n"
    )


def test_encode_rmc_exact() -> None:
    assert encode_rmc(
        MOMENT, -33.5, 151.25, speed_mps=22.4 * KNOT, course_deg=84.4, talker="GN"
    ) == ("$GNRMC,123519.45,A,3330.00000,S,15115.00000,E,22.400,84.40,060524,,,A*6A\r\n")


def test_encode_void_rmc_and_vtg_exact() -> None:
    void = encode_rmc(MOMENT, 0.0, 0.0, speed_mps=0.0, course_deg=0.0, valid=False)
    assert void == "$GPRMC,123519.45,V,0000.00000,N,00000.00000,E,0.000,0.00,060524,,,N*7F\r\n"
    assert encode_vtg(360.0, 10.0) == "$GPVTG,0.00,T,,M,19.438,N,36.000,K,A*3F\r\n"


def test_minutes_never_round_up_to_sixty() -> None:
    line = encode_gga(MOMENT, 47.99999999, 7.999999999)
    assert ",4800.00000,N,00800.00000,E," in line


def test_encoders_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_gga(datetime(2024, 5, 6), 0.0, 0.0)
    with pytest.raises(ValueError, match="within"):
        encode_gga(MOMENT, 91.0, 0.0)
    with pytest.raises(ValueError, match="speed"):
        encode_vtg(0.0, -1.0)


def test_encoded_stream_assembles_into_positions() -> None:
    assembler = FixAssembler("sim-1")
    fixes = []
    for second in range(3):
        moment = MOMENT.replace(microsecond=0) + timedelta(seconds=second)
        for line in (
            encode_gga(moment, 52.5, 13.4),
            encode_rmc(moment, 52.5, 13.4, speed_mps=5.0, course_deg=90.0),
        ):
            fixes += assembler.push(parse_sentence(line), moment)
    fixes += assembler.flush()
    assert fixes == [
        Position(
            device_id="sim-1",
            time=MOMENT.replace(microsecond=0) + timedelta(seconds=second),
            lat=52.5,
            lon=approx(13.4),
            speed_mps=approx(5.0, abs=1e-3),
            course_deg=90.0,
            fix_quality=FixQuality.GPS,
            satellites=9,
            hdop=0.9,
            altitude_m=12.0,
        )
        for second in range(3)
    ]


moments = st.datetimes(
    min_value=datetime(1980, 1, 1), max_value=datetime(2079, 12, 31), timezones=st.just(UTC)
)
lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)
speeds = st.floats(0, 200, allow_nan=False)
courses = st.floats(0, 359.99, allow_nan=False)

# Encoding precision: 1e-5 minutes of angle, 0.01 s, 0.001 knot, 0.01 degree of course.
ANGLE_TOLERANCE = 0.5e-5 / 60 + 1e-12


def truncated_to_centiseconds(moment: datetime) -> time:
    return moment.time().replace(microsecond=moment.microsecond // 10_000 * 10_000)


@given(moments, lats, lons, speeds, courses)
def test_rmc_round_trip(
    moment: datetime, lat: float, lon: float, speed: float, course: float
) -> None:
    decoded = parse_sentence(encode_rmc(moment, lat, lon, speed_mps=speed, course_deg=course))
    assert decoded.time_of_day == truncated_to_centiseconds(moment)
    assert decoded.date == moment.date()
    assert decoded.lat == approx(lat, abs=ANGLE_TOLERANCE)
    assert decoded.lon == approx(lon, abs=ANGLE_TOLERANCE)
    assert decoded.speed_mps == approx(speed, abs=0.0005 * KNOT + 1e-9)
    assert decoded.course_deg == approx(course, abs=0.005 + 1e-9)
    assert decoded.valid is True


@given(moments, lats, lons, st.integers(0, 8), st.integers(0, 99))
def test_gga_round_trip(
    moment: datetime, lat: float, lon: float, quality: int, satellites: int
) -> None:
    decoded = parse_sentence(
        encode_gga(moment, lat, lon, quality=quality, satellites=satellites, talker="GN")
    )
    assert (decoded.talker, decoded.time_of_day) == ("GN", truncated_to_centiseconds(moment))
    assert decoded.lat == approx(lat, abs=ANGLE_TOLERANCE)
    assert decoded.lon == approx(lon, abs=ANGLE_TOLERANCE)
    assert (decoded.quality, decoded.satellites) == (quality, satellites)


@given(speeds, courses)
def test_vtg_round_trip(speed: float, course: float) -> None:
    decoded = parse_sentence(encode_vtg(course, speed))
    assert decoded.speed_mps == approx(speed, abs=0.0005 / 3.6 + 1e-9)
    assert decoded.course_deg == approx(course, abs=0.005 + 1e-9)
