"""GPS plausibility filter: pure rules, then through the serial NMEA connector on a real pty."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from pathlib import Path

import pytest

from edge.config import NmeaGpsDevice
from edge.connectors.serial_nmea import SerialNmeaConnector, gps_limits
from edge.gps_filter import EARTH_RADIUS_M, GpsFilter, GpsLimits, Rejection, distance_m
from firmware_bridge.nmea_encode import encode_gga, encode_rmc
from firmware_bridge.records import FixQuality, Position, Record
from tests.edge.pty_gps import T0, Pty, decoded, until

METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180


def fix(second: float, north_m: float, hdop: float | None = 1.0) -> Position:
    return Position(
        device_id="van-7",
        time=T0 + timedelta(seconds=second),
        lat=52.0 + north_m / METRES_PER_DEGREE_LAT,
        lon=4.3,
        fix_quality=FixQuality.GPS,
        satellites=8,
        hdop=hdop,
    )


LIMITS = GpsLimits(max_hdop=5.0, max_speed_mps=55.0, reanchor_after=3)


def test_distance_is_haversine() -> None:
    assert distance_m(fix(0, 0), fix(1, 1000)) == pytest.approx(1000.0, rel=1e-6)


def test_hdop_speed_and_time_rules_with_counters() -> None:
    gate = GpsFilter(LIMITS)
    verdicts = [
        gate.check(f)
        for f in (
            fix(0, 0),
            fix(1, 20, hdop=5.0),  # at the limit: accepted
            fix(2, 40, hdop=5.1),
            fix(2, 40),  # not newer than the last accepted (t=1)? no: t=2 > 1 and 20 m/s
            fix(2, 41),  # same time as the last accepted
            fix(3, 2000),  # 1959 m in 1 s
            fix(4, 110, hdop=None),  # 69 m in 2 s from t=2: plausible, no HDOP to judge
        )
    ]
    assert verdicts == [
        None,
        None,
        Rejection.HDOP,
        None,
        Rejection.NOT_NEWER,
        Rejection.SPEED,
        None,
    ]
    assert gate.counters() == {"hdop": 1, "speed": 1, "not_newer": 1, "reanchored": 0}
    assert gate.accepted == 4


def test_one_wild_fix_does_not_drag_the_track_but_a_real_move_reanchors() -> None:
    gate = GpsFilter(LIMITS)
    assert gate.accept([fix(0, 0), fix(1, 10), fix(2, 5000), fix(3, 30)]) == [
        fix(0, 0),
        fix(1, 10),
        fix(3, 30),
    ]
    # Moved 50 km while off: three consistent fixes there become the new reference.
    moved = [fix(10 + i, 50_000 + 10 * i) for i in range(5)]
    assert gate.accept(moved) == moved[2:]
    assert gate.counters() == {"hdop": 0, "speed": 3, "not_newer": 0, "reanchored": 1}


def test_inconsistent_jumps_never_reanchor() -> None:
    gate = GpsFilter(LIMITS)
    gate.check(fix(0, 0))
    wild = [fix(1 + i, 10_000 * (-1) ** i * (i + 1)) for i in range(6)]
    assert gate.accept(wild) == []
    assert gate.rejected[Rejection.SPEED] == 6


def test_limits_come_from_the_profile_unless_overridden() -> None:
    base = {"id": "g", "type": "nmea_gps", "port": "/dev/x", "vehicle_id": "v"}
    assert gps_limits(NmeaGpsDevice.model_validate(base)) == GpsLimits(5.0, 55.0)
    tuned = NmeaGpsDevice.model_validate({**base, "max_hdop": 2.5, "max_speed_mps": 30})
    assert gps_limits(tuned) == GpsLimits(2.5, 30.0)


def _stream(kind: str, rate_hz: float) -> tuple[bytes, list[int], list[int]]:
    """20 epochs at 10 m/s north; one 1 km jump, one HDOP 9.9 (GGA only carries HDOP).
    Returns the bytes and the indexes the filter must drop for speed and for HDOP."""
    step = 1 / rate_hz
    out = b""
    jump, bad_hdop = 7, 12
    for i in range(20):
        moment = T0 + timedelta(seconds=i * step)
        north = 10 * i * step + (1000 if i == jump else 0)
        lat = 52.0 + north / METRES_PER_DEGREE_LAT
        if kind == "gga":
            hdop = 9.9 if i == bad_hdop else 0.9
            text = encode_gga(moment, lat, 4.3, hdop=hdop)
        else:
            text = encode_rmc(moment, lat, 4.3, speed_mps=10.0, course_deg=0.0)
        out += text.encode()
    return out, [jump], [bad_hdop] if kind == "gga" else []


@pytest.mark.parametrize("rate_hz", [1.0, 10.0])
@pytest.mark.parametrize("kind", ["gga", "rmc"])
async def test_gga_only_and_rmc_only_receivers_through_the_connector(
    tmp_path: Path, kind: str, rate_hz: float
) -> None:
    link = tmp_path / "gps0"
    pty = Pty(link)
    records: list[Record] = []
    dev = NmeaGpsDevice(
        id="gps-1", type="nmea_gps", port=str(link), vehicle_id="van-7", reopen_initial_s=0.05
    )
    connector = SerialNmeaConnector(dev, records.extend, silence_flush_s=0.1)
    task = asyncio.create_task(connector.run())
    stream, jumps, hdops = _stream(kind, rate_hz)
    try:
        await until(lambda: connector.status.value == "connected")
        pty.write(stream)
        expected = [p for i, p in enumerate(decoded(stream)) if i not in jumps and i not in hdops]
        await until(lambda: len(records) == len(expected))
        await asyncio.sleep(0.15)
    finally:
        connector.stop()
        await asyncio.wait_for(task, 2)
        pty.close()
    assert len(expected) == 20 - len(jumps) - len(hdops)
    # Times, places, satellites and quality are kept as decoded (a GGA-only receiver's date
    # comes from the gateway clock, so times compare as time of day).
    assert [_essence(r) for r in records] == [_essence(p) for p in expected]
    snap = connector.snapshot()
    assert snap["rejected"] == {
        "hdop": len(hdops),
        "speed": len(jumps),
        "not_newer": 0,
        "reanchored": 0,
    }
    assert snap["counters"]["positions"] == len(expected)


def _essence(record: Record) -> tuple[object, ...]:
    assert isinstance(record, Position)
    return (
        record.time.time(),
        record.lat,
        record.lon,
        record.speed_mps,
        record.hdop,
        record.satellites,
        record.fix_quality,
    )
