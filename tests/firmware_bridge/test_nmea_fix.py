"""FixAssembler: epochs, early emission, dating, no-fix handling."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import cast

import pytest

from firmware_bridge.nmea import FixAssembler, NoFix, fix_time, parse_sentence
from firmware_bridge.nmea_encode import checksum
from firmware_bridge.records import FixQuality, Position

KNOT = 1852 / 3600
RECEIVED = datetime(2024, 5, 6, 12, 0, 1, tzinfo=UTC)


def approx(value: float, abs: float | None = None) -> float:
    """pytest.approx typed as the float it stands in for inside whole-object comparisons."""
    return cast(float, pytest.approx(value, abs=abs))


def line(body: str) -> str:
    return f"${body}*{checksum(body):02X}"


def gga(stamp: str, quality: int = 1, position: str = "4807.038,N,01131.000,E") -> str:
    return line(f"GPGGA,{stamp},{position},{quality},08,0.9,545.4,M,46.9,M,,")


def rmc(stamp: str, status: str = "A", mode: str = "A", day: str = "060524") -> str:
    return line(f"GPRMC,{stamp},{status},4807.038,N,01131.000,E,022.4,084.4,{day},003.1,W,{mode}")


VTG = line("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K,A")
GSA_3D = line("GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1")
GSA_NO_FIX = line("GPGSA,A,1,,,,,,,,,,,,,,,")


def run(assembler: FixAssembler, *lines: str) -> list[list[Position | NoFix]]:
    """What each pushed line released (one list per line)."""
    return [assembler.push(parse_sentence(text), RECEIVED) for text in lines]


def position(stamp: time, **overrides: object) -> Position:
    fields: dict[str, object] = {
        "device_id": "gps-1",
        "time": datetime.combine(date(2024, 5, 6), stamp, tzinfo=UTC),
        "lat": approx(48 + 7.038 / 60),
        "lon": approx(11 + 31.0 / 60),
        "speed_mps": approx(22.4 * KNOT),
        "course_deg": 84.4,
        "fix_quality": FixQuality.GPS,
        "satellites": 8,
        "hdop": 0.9,
        "altitude_m": 545.4,
    } | overrides
    return Position(**fields)  # type: ignore[arg-type]


def test_gga_rmc_receiver_gets_each_fix_when_its_rmc_arrives() -> None:
    assembler = FixAssembler("gps-1")
    released = run(
        assembler,
        gga("120000"),
        rmc("120000"),
        gga("120001"),  # completes the first epoch: the receiver sends {GGA, RMC}
        rmc("120001"),  # second epoch complete at once, no waiting for the next second
        gga("120002"),
    )
    first, second = position(time(12, 0, 0)), position(time(12, 0, 1))
    assert released == [[], [], [first], [second], []]
    assert assembler.flush() == [
        position(time(12, 0, 2), speed_mps=None, course_deg=None),
    ]
    assert (assembler.fixes, assembler.no_fixes) == (3, 0)


def test_untimed_sentences_join_the_epoch_and_complete_it() -> None:
    assembler = FixAssembler("gps-1")
    released = run(
        assembler,
        *(gga("120000"), GSA_3D, rmc("120000"), VTG),
        *(gga("120001"), GSA_3D, rmc("120001"), VTG),
    )
    assert released[:4] == [[], [], [], []]
    assert released[4] == [position(time(12, 0, 0))]
    assert released[5:] == [[], [], [position(time(12, 0, 1))]]
    assert assembler.flush() == []


def test_vtg_gives_speed_and_gsa_hdop_when_rmc_and_gga_lack_them() -> None:
    assembler = FixAssembler("gps-1")
    no_hdop = line("GPGGA,120000,4807.038,N,01131.000,E,2,08,,545.4,M,46.9,M,,")
    run(assembler, no_hdop, VTG, GSA_3D)
    assert assembler.flush() == [
        position(
            time(12, 0, 0),
            speed_mps=approx(10.2 / 3.6),
            course_deg=54.7,
            fix_quality=FixQuality.DGPS,
            hdop=1.3,
        )
    ]


def test_rmc_only_receiver_takes_quality_from_mode_indicator() -> None:
    assembler = FixAssembler("gps-1")
    released = run(assembler, rmc("120000", mode="D"), rmc("120001", mode="E"))
    common = {"satellites": None, "hdop": None, "altitude_m": None}
    # From the second epoch on, {RMC} is the whole epoch, so each RMC is released at once.
    assert released == [
        [],
        [
            position(time(12, 0, 0), fix_quality=FixQuality.DGPS, **common),
            position(time(12, 0, 1), fix_quality=FixQuality.ESTIMATED, **common),
        ],
    ]
    assert assembler.flush() == []


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ((gga("120000", quality=0),), "GGA quality 0 (no fix)"),
        ((gga("120000", position=",,,"),), "empty latitude/longitude"),
        ((gga("120000"), rmc("120000", status="V")), "RMC status V (void)"),
        ((rmc("120000", mode="N"),), "RMC mode N (not valid)"),
        ((gga("120000"), GSA_NO_FIX), "GSA fix type 1 (no fix)"),
    ],
)
def test_no_fix_epochs_never_become_positions(lines: tuple[str, ...], reason: str) -> None:
    assembler = FixAssembler("gps-1")
    run(assembler, *lines)
    assert assembler.flush() == [NoFix("gps-1", datetime(2024, 5, 6, 12, tzinfo=UTC), reason)]
    assert (assembler.fixes, assembler.no_fixes) == (0, 1)


def test_gga_or_rmc_without_time_is_an_immediate_undated_no_fix() -> None:
    assembler = FixAssembler("gps-1")
    assert run(assembler, "$GPRMC,,V,,,,,,,,,,N*53") == [
        [NoFix("gps-1", None, "RMC status V (void)")]
    ]
    assert assembler.no_fixes == 1


def test_gga_only_receiver_is_dated_from_received_at_across_midnight() -> None:
    assembler = FixAssembler("gps-1")
    just_after_midnight = datetime(2024, 5, 7, 0, 0, 2, tzinfo=UTC)
    assembler.push(parse_sentence(gga("235959")), just_after_midnight)
    (fix,) = assembler.flush()
    assert fix.time == datetime(2024, 5, 6, 23, 59, 59, tzinfo=UTC)


def test_gga_between_rmcs_is_dated_from_the_last_rmc() -> None:
    # A receiver with 1 Hz RMC and faster GGA (rst39.log), behind a gateway whose clock is days off.
    assembler = FixAssembler("gps-1")
    wrong_clock = datetime(2024, 5, 9, 6, 0, tzinfo=UTC)
    lines = (rmc("235959.00", day="060524"), gga("235959.50"), gga("000000.00"))
    out = [assembler.push(parse_sentence(text), wrong_clock) for text in lines]
    out.append(assembler.flush())
    times = [fix.time for batch in out for fix in batch]
    assert times == [
        datetime(2024, 5, 6, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 5, 6, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2024, 5, 7, 0, 0, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("stamp", "received", "expected"),
    [
        (time(23, 59, 59), datetime(2024, 5, 7, 0, 0, 1), datetime(2024, 5, 6, 23, 59, 59)),
        (time(0, 0, 1), datetime(2024, 5, 6, 23, 59, 59), datetime(2024, 5, 7, 0, 0, 1)),
        (time(11, 0), datetime(2024, 5, 6, 23, 0), datetime(2024, 5, 6, 11, 0)),
        (time(12, 0), datetime(2024, 5, 6, 12, 0, 3), datetime(2024, 5, 6, 12, 0)),
    ],
)
def test_fix_time_without_date(stamp: time, received: datetime, expected: datetime) -> None:
    assert fix_time(stamp, None, received.replace(tzinfo=UTC)) == expected.replace(tzinfo=UTC)


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixAssembler("gps-1").push(parse_sentence(gga("120000")), datetime(2024, 5, 6))
