"""TagEvent records on the wire: round trip, exact JSON form, and field errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.records import (
    BUSINESS_KINDS,
    RecordKind,
    TagDirection,
    TagEvent,
    TagEventType,
)
from firmware_bridge.wire import RecordFormatError, record_from_wire, record_to_wire

T0 = datetime(2026, 11, 25, 8, 30, 15, 250000, tzinfo=UTC)
PASSED = TagEvent(
    reader_id="dock-1",
    zone="dock-door-1",
    epc_hex="3074257BF7194E4000001A85",
    event=TagEventType.PASSED,
    time=T0 + timedelta(seconds=7),
    first_seen=T0,
    last_seen=T0 + timedelta(seconds=4),
    read_count=37,
    epc_uri="urn:epc:id:sgtin:0614141.812345.6789",
    direction=TagDirection.IN,
    peak_rssi_dbm=-48.0,
)
ARRIVED = TagEvent("shelf-3", "aisle-3", "E2801160", TagEventType.ARRIVED, T0, T0, T0, 1)


@pytest.mark.parametrize("event", [PASSED, ARRIVED], ids=["passed", "arrived"])
def test_round_trip(event: TagEvent) -> None:
    assert record_from_wire(record_to_wire(event, seq=9)) == event


def test_wire_form() -> None:
    assert record_to_wire(PASSED, seq=3) == {
        "seq": 3,
        "reader_id": "dock-1",
        "zone": "dock-door-1",
        "epc_hex": "3074257BF7194E4000001A85",
        "event": "passed",
        "time": "2026-11-25T08:30:22.250000Z",
        "first_seen": "2026-11-25T08:30:15.250000Z",
        "last_seen": "2026-11-25T08:30:19.250000Z",
        "read_count": 37,
        "epc_uri": "urn:epc:id:sgtin:0614141.812345.6789",
        "direction": "in",
        "peak_rssi_dbm": -48.0,
        "kind": "tag_event",
    }


def test_tag_events_are_business_records() -> None:
    assert RecordKind.TAG_EVENT in BUSINESS_KINDS
    assert RecordKind.TAG_READ not in BUSINESS_KINDS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event": "left"}, "event: 'left' is not a valid TagEventType"),
        ({"direction": "sideways"}, "direction: 'sideways' is not a valid TagDirection"),
        ({"read_count": 1.5}, "read_count: expected an integer"),
        ({"first_seen": "yesterday"}, "first_seen: Invalid isoformat string: 'yesterday'"),
        ({"zone": None}, "zone: required for tag_event records"),
        ({"peak_rssi_dbm": "loud"}, "peak_rssi_dbm: expected a number"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], message: str) -> None:
    wire = {**record_to_wire(PASSED), **change}
    with pytest.raises(RecordFormatError) as info:
        record_from_wire(wire)
    assert str(info.value) == message


@given(
    event=st.sampled_from(TagEventType),
    direction=st.none() | st.sampled_from(TagDirection),
    count=st.integers(1, 10**6),
    rssi=st.none() | st.floats(-129, 0, allow_nan=False),
    offset=st.integers(0, 10**6),
)
def test_round_trip_property(
    event: TagEventType, direction: TagDirection | None, count: int, rssi: float | None, offset: int
) -> None:
    later = T0 + timedelta(milliseconds=offset)
    record = TagEvent("r", "z", "AB12", event, later, T0, later, count, None, direction, rssi)
    assert record_from_wire(record_to_wire(record)) == record
