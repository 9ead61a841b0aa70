from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.records import (
    Alarm,
    FixQuality,
    Measurement,
    MeasurementQuality,
    Position,
    Quantity,
    Scan,
    ScanOperation,
    Severity,
    TagRead,
    Unit,
)
from firmware_bridge.wire import RecordFormatError, record_from_wire, record_to_wire

T0 = datetime(2026, 11, 25, 8, 30, 15, 250000, tzinfo=UTC)

EXAMPLES = [
    Position("van-01", T0, 31.2304, 121.4737, 8.5, 92.25, FixQuality.DGPS, 11, 0.8, 14.2),
    Position("van-02", T0, -33.8688, -151.2093),
    Measurement("probe-7", T0, Quantity.TEMPERATURE, -18.25, Unit.CELSIUS),
    Measurement(
        "probe-7", T0, Quantity.TEMPERATURE, 99.5, Unit.CELSIUS, MeasurementQuality.OUT_OF_RANGE
    ),
    TagRead(
        "dock-1", 2, "3074257bf7194e4000001a85", T0, -61.5, "urn:epc:id:sgtin:0614141.812345.6789"
    ),
    Scan("hh-3", "li.wei", ScanOperation.PICK, "09506000134352", 4, "A-01-03", T0),
    Alarm(
        "chilled-band",
        "reefer-2",
        Severity.CRITICAL,
        T0,
        T0 + timedelta(minutes=12),
        {"peak_c": 9.5},
    ),
]


@pytest.mark.parametrize("record", EXAMPLES, ids=lambda r: type(r).__name__)
def test_round_trip_keeps_every_field(record: object) -> None:
    wire = record_to_wire(record, seq=42)  # type: ignore[arg-type]
    assert wire["seq"] == 42
    assert record_from_wire(wire) == record


def test_wire_form_is_plain_json_with_utc_z_times() -> None:
    wire = record_to_wire(EXAMPLES[0])
    assert wire == {
        "device_id": "van-01",
        "time": "2026-11-25T08:30:15.250000Z",
        "lat": 31.2304,
        "lon": 121.4737,
        "speed_mps": 8.5,
        "course_deg": 92.25,
        "fix_quality": "dgps",
        "satellites": 11,
        "hdop": 0.8,
        "altitude_m": 14.2,
        "kind": "position",
    }


def test_times_in_other_zones_are_normalised_to_utc() -> None:
    wire = record_to_wire(EXAMPLES[0])
    wire["time"] = "2026-11-25T16:30:15.25+08:00"
    assert record_from_wire(wire) == EXAMPLES[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "teleport"}, "kind: unknown record kind 'teleport'"),
        ({"lat": 91.0}, "lat: 91.0 is outside -90.0..90.0"),
        ({"lat": "31.2"}, "lat: expected a number"),
        ({"lon": float("nan")}, "lon: must be finite"),
        ({"time": "2026-11-25T08:30:15"}, "time: time has no timezone; send UTC with a Z suffix"),
        ({"time": "yesterday"}, "time: Invalid isoformat string: 'yesterday'"),
        ({"satellites": 3.5}, "satellites: expected an integer"),
        ({"fix_quality": "magic"}, "fix_quality: 'magic' is not a valid FixQuality"),
        ({"device_id": ""}, "device_id: expected a non-empty string"),
        ({"lat": None}, "lat: required for position records"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], message: str) -> None:
    wire = record_to_wire(EXAMPLES[0]) | change
    with pytest.raises(RecordFormatError) as caught:
        record_from_wire(wire)
    assert str(caught.value) == message


def test_scan_quantity_is_an_integer_not_a_measured_quantity() -> None:
    wire = record_to_wire(EXAMPLES[5]) | {"quantity": "temperature"}
    with pytest.raises(RecordFormatError, match="quantity: expected an integer"):
        record_from_wire(wire)


def test_naive_times_are_refused_when_encoding() -> None:
    naive = Position("van-01", datetime(2026, 1, 1), 1.0, 2.0)
    with pytest.raises(ValueError, match="naive datetime"):
        record_to_wire(naive)


@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    moment=st.datetimes(timezones=st.just(UTC)),
    speed=st.none() | st.floats(0, 100),
)
def test_position_round_trip_property(
    lat: float, lon: float, moment: datetime, speed: float | None
) -> None:
    record = Position("van", moment, lat, lon, speed)
    assert record_from_wire(record_to_wire(record, seq=1)) == record


@given(st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=8)))
def test_random_objects_raise_only_record_format_error(data: dict[str, object]) -> None:
    for candidate in (data, data | {"kind": "position"}, data | {"kind": "scan"}):
        with contextlib.suppress(RecordFormatError):
            record_from_wire(candidate)


def test_quality_is_left_out_while_good_and_read_back_as_good() -> None:
    good, flagged = EXAMPLES[2], EXAMPLES[3]
    assert record_to_wire(good) == {
        "device_id": "probe-7",
        "time": "2026-11-25T08:30:15.250000Z",
        "quantity": "temperature",
        "value": -18.25,
        "unit": "Cel",
        "kind": "measurement",
    }
    assert record_to_wire(flagged)["quality"] == "out_of_range"
    assert record_from_wire(record_to_wire(good) | {"quality": "good"}) == good
    with pytest.raises(RecordFormatError) as caught:
        record_from_wire(record_to_wire(good) | {"quality": "bad"})
    assert str(caught.value) == "quality: 'bad' is not a valid MeasurementQuality"
