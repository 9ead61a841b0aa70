"""parse_sentence on the classic examples and on real lines from the gpsd captures."""

from __future__ import annotations

from datetime import date, time
from typing import cast

import pytest

from firmware_bridge.nmea import (
    ChecksumError,
    MalformedSentence,
    NmeaError,
    NmeaSentence,
    UnsupportedSentence,
    parse_sentence,
)

KNOT = 1852 / 3600


def approx(value: float, abs: float | None = None) -> float:
    """pytest.approx typed as the float it stands in for inside whole-object comparisons."""
    return cast(float, pytest.approx(value, abs=abs))


def test_classic_gga() -> None:
    line = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    assert parse_sentence(line) == NmeaSentence(
        talker="GP",
        sentence_type="GGA",
        time_of_day=time(12, 35, 19),
        lat=approx(48 + 7.038 / 60),
        lon=approx(11 + 31.0 / 60),
        quality=1,
        satellites=8,
        hdop=0.9,
        altitude_m=545.4,
    )


def test_classic_rmc_with_crlf() -> None:
    line = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"
    assert parse_sentence(line) == NmeaSentence(
        talker="GP",
        sentence_type="RMC",
        time_of_day=time(12, 35, 19),
        date=date(1994, 3, 23),
        lat=approx(48 + 7.038 / 60),
        lon=approx(11 + 31.0 / 60),
        valid=True,
        speed_mps=approx(22.4 * KNOT),
        course_deg=84.4,
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (  # hab-gpspi.log (u-blox, multi-GNSS)
            "$GNGGA,092835.00,4804.14539,N,01621.54005,E,1,10,0.96,205.3,M,42.0,M,,*49",
            NmeaSentence(
                talker="GN",
                sentence_type="GGA",
                time_of_day=time(9, 28, 35),
                lat=approx(48 + 4.14539 / 60),
                lon=approx(16 + 21.54005 / 60),
                quality=1,
                satellites=10,
                hdop=0.96,
                altitude_m=205.3,
            ),
        ),
        (  # beidou-gb.log
            "$GNRMC,053232.438,A,3114.8789,N,12135.2442,E,0.26,167.42,020315,,,A*70",
            NmeaSentence(
                talker="GN",
                sentence_type="RMC",
                time_of_day=time(5, 32, 32, 438000),
                date=date(2015, 3, 2),
                lat=approx(31 + 14.8789 / 60),
                lon=approx(121 + 35.2442 / 60),
                valid=True,
                speed_mps=approx(0.26 * KNOT),
                course_deg=167.42,
                mode="A",
            ),
        ),
        (  # sirfstarv-nmea.log, western hemisphere
            "$GLGGA,020935.000,4404.1351,N,12118.8556,W,1,02,0.9,1123.9,M,-19.6,M,,0000*48",
            NmeaSentence(
                talker="GL",
                sentence_type="GGA",
                time_of_day=time(2, 9, 35),
                lat=approx(44 + 4.1351 / 60),
                lon=approx(-(121 + 18.8556 / 60)),
                quality=1,
                satellites=2,
                hdop=0.9,
                altitude_m=1123.9,
            ),
        ),
        (  # gpsdf.log, BeiDou GSA with a 3-digit PRN
            "$BDGSA,A,3,214,,,,,,,,,,,,2.5,1.2,2.2*10",
            NmeaSentence(
                talker="BD",
                sentence_type="GSA",
                gsa_mode="A",
                fix_type=3,
                satellite_ids=(214,),
                pdop=2.5,
                hdop=1.2,
                vdop=2.2,
            ),
        ),
        (  # GNVTG without course
            "$GNVTG,,T,,M,0.250,N,0.463,K,A*3B",
            NmeaSentence(
                talker="GN",
                sentence_type="VTG",
                speed_mps=approx(0.463 / 3.6),
                mode="A",
            ),
        ),
        (  # GPSmap-76S.log, NMEA 2.0 VTG without mode
            "$GPVTG,0.0,T,10.5,M,0.0,N,0.0,K*7A",
            NmeaSentence(talker="GP", sentence_type="VTG", speed_mps=0.0, course_deg=0.0),
        ),
        (  # southern and eastern hemisphere (New Zealand)
            "$GPGGA,030719.000,3747.0873,S,17518.8938,E,1,08,1.1,59.9,M,23.7,M,,0000*7D",
            NmeaSentence(
                talker="GP",
                sentence_type="GGA",
                time_of_day=time(3, 7, 19),
                lat=approx(-(37 + 47.0873 / 60)),
                lon=approx(175 + 18.8938 / 60),
                quality=1,
                satellites=8,
                hdop=1.1,
                altitude_m=59.9,
            ),
        ),
        (  # GSA, 10 satellites
            "$GPGSA,A,3,03,07,08,11,13,16,19,23,24,28,,,3.6,2.0,3.0*3A",
            NmeaSentence(
                talker="GP",
                sentence_type="GSA",
                gsa_mode="A",
                fix_type=3,
                satellite_ids=(3, 7, 8, 11, 13, 16, 19, 23, 24, 28),
                pdop=3.6,
                hdop=2.0,
                vdop=3.0,
            ),
        ),
        (  # GSA listing more than 12 satellites (24 slots)
            "$GPGSA,A,3,23,13,07,25,,,,,,,,,,,,,,,,,,,,,09.2,07.2,05.7*0D",
            NmeaSentence(
                talker="GP",
                sentence_type="GSA",
                gsa_mode="A",
                fix_type=3,
                satellite_ids=(23, 13, 7, 25),
                pdop=9.2,
                hdop=7.2,
                vdop=5.7,
            ),
        ),
    ],
)
def test_real_sentences(line: str, expected: NmeaSentence) -> None:
    assert parse_sentence(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (  # beidou-gb.log cold start: GGA quality 0, empty position
            "$GPGGA,053229.438,,,,,0,00,,,M,0.0,M,,0000*56",
            NmeaSentence(
                talker="GP",
                sentence_type="GGA",
                time_of_day=time(5, 32, 29, 438000),
                quality=0,
                satellites=0,
            ),
        ),
        (  # GPSmap-76S.log: void RMC (position present but not valid)
            "$GPRMC,125106,V,3854.5087,N,07726.4523,W,0.0,0.0,241011,10.5,W,S*28",
            NmeaSentence(
                talker="GP",
                sentence_type="RMC",
                time_of_day=time(12, 51, 6),
                date=date(2011, 10, 24),
                lat=approx(38 + 54.5087 / 60),
                lon=approx(-(77 + 26.4523 / 60)),
                valid=False,
                speed_mps=0.0,
                course_deg=0.0,
                mode="S",
            ),
        ),
        (  # april6_2019.log: RMC with every field empty
            "$GPRMC,,V,,,,,,,,,,N*53",
            NmeaSentence(talker="GP", sentence_type="RMC", valid=False, mode="N"),
        ),
        (
            "$GNGSA,A,1,,,,,,,,,,,,,,,*00",
            NmeaSentence(talker="GN", sentence_type="GSA", gsa_mode="A", fix_type=1),
        ),
    ],
)
def test_no_fix_sentences_decode_without_inventing_positions(
    line: str, expected: NmeaSentence
) -> None:
    assert parse_sentence(line) == expected


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        (
            "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48",
            ChecksumError,
            "checksum 48 != computed 47",
        ),
        (
            "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
            MalformedSentence,
            "missing checksum",
        ),
        ("$GPRMC,000346.03,A,4808", MalformedSentence, "missing checksum"),
        ("$GPGGA,123519,4807.038,N*4", MalformedSentence, "not two hex digits"),
        ("GPGGA,123519*47", MalformedSentence, r"does not start with '\$'"),
        ("$GPGGA,12\x0035*47", MalformedSentence, "non-printable"),
        ("$GPGGA,123519,4807.038,N*27", MalformedSentence, "truncated"),
        (
            "$GPGGA,126019,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,*52",
            MalformedSentence,
            "time: out of range",
        ),
        (
            "$GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,*54",
            MalformedSentence,
            "latitude: minutes >= 60",
        ),
        (
            "$GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,,M,,*44",
            MalformedSentence,
            "latitude: hemisphere",
        ),
        (
            "$GPGGA,123519,4807.038,N,01131.000,E,x,08,0.9,545.4,M,,M,,*1B",
            MalformedSentence,
            "quality: not an integer",
        ),
        (
            "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,,*11",
            MalformedSentence,
            "date: out of range",
        ),
        ("$GPGSV,3,3,10,24,06,166,35,28,09,271,36*7D", UnsupportedSentence, "GSV"),
        ("$GAGSV,2,1,04,103,35,240,43,136,20,167,40,6*72", UnsupportedSentence, "GSV"),
        (
            "$GBGSV,2,1,05,201,00,000,44,202,14,089,35,204,00,000,42,205,27,091,*66",
            UnsupportedSentence,
            "GSV",
        ),
        ("$PGRME,9.1,M,15.0,M,12.0,M*21", UnsupportedSentence, "proprietary sentence PGRME"),
        ("$GPGLL,3854.5087,N,07726.4523,W,125106,V,S*55", UnsupportedSentence, "GLL"),
    ],
)
def test_errors_are_typed(line: str, error: type[NmeaError], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_sentence(line)


def test_errors_share_one_base_that_is_a_value_error() -> None:
    for error in (ChecksumError, MalformedSentence, UnsupportedSentence):
        assert issubclass(error, NmeaError)
    assert issubclass(NmeaError, ValueError)
