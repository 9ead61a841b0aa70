from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.payload import encode_group, serialize_payload
from firmware_bridge.records import (
    Alarm,
    FixQuality,
    Measurement,
    MeasurementQuality,
    Position,
    Quantity,
    Record,
    Scan,
    ScanOperation,
    Severity,
    TagRead,
    Unit,
)
from firmware_bridge.wire import record_to_wire
from tests.edge.edge_factories import measurement, position, scan

_aware_times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)).flatmap(
    lambda moment: st.sampled_from(
        [
            moment.replace(tzinfo=UTC),
            moment.replace(tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            moment.replace(tzinfo=timezone(timedelta(hours=8))),
        ]
    )
)
_text = st.text(min_size=1, max_size=12)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_maybe = st.none() | _floats

_records: st.SearchStrategy[Record] = st.one_of(
    st.builds(
        Position,
        device_id=_text,
        time=_aware_times,
        lat=_floats,
        lon=_floats,
        speed_mps=_maybe,
        course_deg=_maybe,
        fix_quality=st.sampled_from(FixQuality),
        satellites=st.none() | st.integers(-(2**70), 2**70),
        hdop=_maybe,
        altitude_m=_maybe,
    ),
    st.builds(
        Measurement,
        device_id=_text,
        time=_aware_times,
        quantity=st.sampled_from(Quantity),
        value=_floats,
        unit=st.sampled_from(Unit),
        quality=st.sampled_from(MeasurementQuality),
    ),
    st.builds(
        TagRead,
        reader_id=_text,
        antenna=st.integers(0, 64),
        epc_hex=_text,
        time=_aware_times,
        rssi_dbm=_maybe,
        epc_uri=st.none() | _text,
    ),
    st.builds(
        Scan,
        scanner_id=_text,
        operator=_text,
        operation=st.sampled_from(ScanOperation),
        code=_text,
        quantity=st.integers(-1000, 1000),
        location=_text,
        time=_aware_times,
    ),
    st.builds(
        Alarm,
        rule=_text,
        subject=_text,
        severity=st.sampled_from(Severity),
        started_at=_aware_times,
        ended_at=st.none() | _aware_times,
        evidence=st.dictionaries(_text, st.integers() | _text | _floats, max_size=3),
    ),
)


@settings(max_examples=400, deadline=None)
@given(_records)
def test_payload_parses_to_exactly_the_wire_form_and_is_ascii(record: Record) -> None:
    payload = serialize_payload(record)
    assert payload.isascii()
    assert json.loads(payload) == record_to_wire(record)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_rendered_as_json_dumps_does(value: float) -> None:
    record = Position("van-1", datetime(2026, 1, 1, tzinfo=UTC), 1.0, 2.0, speed_mps=value)
    old = json.dumps(record_to_wire(record), separators=(",", ":"), ensure_ascii=True)
    assert serialize_payload(record) == old


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        serialize_payload(Measurement("p", datetime(2026, 1, 1), Quantity.HUMIDITY, 1.0, Unit.VOLT))


def test_non_ascii_text_is_escaped_so_length_is_bytes() -> None:
    record = Scan(
        "hh-1", "Zoë", ScanOperation.PICK, "4006381333931", 1, "库位-3", datetime.now(UTC)
    )
    payload = serialize_payload(record)
    assert len(payload) == len(payload.encode("utf-8"))
    assert json.loads(payload) == record_to_wire(record)


def test_encode_group_sums_what_admission_needs() -> None:
    records = [position(0), measurement(1), scan(2)]
    group = encode_group(records)
    payloads = [serialize_payload(r) for r in records]
    assert group.rows == [
        ("position", "van-7", payloads[0], 1),
        ("measurement", "fridge-1", payloads[1], 1),
        ("scan", "hh-1", payloads[2], 0),
    ]
    assert (group.bytes, group.business_records, group.business_bytes) == (
        sum(map(len, payloads)),
        1,
        len(payloads[2]),
    )
    assert group.kinds == {"position": 1, "measurement": 1, "scan": 1}
