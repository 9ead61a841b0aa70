"""The fast row validator agrees with firmware_bridge.wire.record_from_wire on any input."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cloud.ingest.rows import COLUMNS, TIME_COLUMNS, row_dict, wire_row
from cloud.models import MeasurementRow
from cloud.telemetry.lines import to_lines
from firmware_bridge.records import MeasurementQuality, RecordKind
from firmware_bridge.wire import RecordFormatError, record_from_wire, record_to_wire
from tests.cloud.cloud_helpers import (
    ALARM,
    MEASUREMENT,
    SCAN,
    TAG_ARRIVED,
    TAG_PASSED,
    TAG_READ,
    Cloud,
    batch,
    position,
    stored_row,
    wire,
)

FLAGGED = replace(MEASUREMENT, quality=MeasurementQuality.OUT_OF_RANGE)

FIELDS = sorted({name for columns in COLUMNS.values() for name in columns} - {"gateway_id"})
GOOD = [
    record_to_wire(r)
    for r in (
        position("v", 3),
        MEASUREMENT,
        SCAN,
        ALARM,
        TAG_READ,
        TAG_PASSED,
        TAG_ARRIVED,
        FLAGGED,
    )
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)
plausible = st.sampled_from(
    ["position", "gps", "pick", "Cel", "temperature", "warning", "", "x", "2025-03-01T08:00:00Z",
     "2025-03-01T08:00:00", "2025-03-01T08:00:00.5+02:00", "nonsense", "tag_event", "arrived",
     "passed", "in", "out", "2025-03-01T08:00:01.123456Z", "good", "out_of_range"]
)  # fmt: skip
field_values = (
    plausible | json_values | st.sampled_from([90.5, -181, 1e400, 10**400, float("nan"), True])
)


@st.composite
def wire_records(draw: st.DrawFn) -> Any:
    """Valid records with some fields replaced or removed, and arbitrary objects."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    record = dict(draw(st.sampled_from(GOOD)))
    for name in draw(st.lists(st.sampled_from([*FIELDS, "kind"]), max_size=3)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(field_values)
    return record


def outcome_of_reference(data: Any) -> tuple[str, Any]:
    try:
        record = record_from_wire(data)
    except RecordFormatError as exc:
        return ("error", str(exc))
    except Exception as exc:  # the reference's own non-format failures must match too
        return ("raised", f"{type(exc).__name__}: {exc}")
    return ("row", (record.kind, stored_row(record, seq=9)))


def outcome_of_fast(data: Any) -> tuple[str, Any]:
    try:
        kind, row = wire_row(data, "gw", 9)
    except RecordFormatError as exc:
        return ("error", str(exc))
    except Exception as exc:
        return ("raised", f"{type(exc).__name__}: {exc}")
    return ("row", (kind, row_dict(kind, row)))


@settings(max_examples=1500, deadline=None)
@given(wire_records())
def test_wire_row_matches_record_from_wire(data: Any) -> None:
    assert outcome_of_fast(data) == outcome_of_reference(data)


def test_wire_row_of_each_kind_is_the_record_row() -> None:
    for good in GOOD:
        kind, row = wire_row(good, "gw", 4)
        assert row_dict(kind, row) == stored_row(record_from_wire(good), seq=4)
    kind, row = wire_row(record_to_wire(ALARM), "gw", 4)
    assert [row[i] for i in TIME_COLUMNS[kind]] == ["2025-03-01 08:00:00.000000", None]
    kind, row = wire_row(record_to_wire(SCAN), "gw", 4)
    assert (kind, row[:4]) == (RecordKind.SCAN, ("gw", 4, "hh-1", "op-7"))
    kind, row = wire_row(record_to_wire(TAG_PASSED), "gw", 4)
    assert (kind, [row[i] for i in TIME_COLUMNS[kind]]) == (
        RecordKind.TAG_EVENT,
        ["2025-03-01 08:00:02.250000", "2025-03-01 08:00:00.000000", "2025-03-01 08:00:04.500000"],
    )


def test_wire_row_error_messages() -> None:
    cases = [
        ({"kind": "teleport"}, "kind: unknown record kind 'teleport'"),
        ([], "record must be a JSON object"),
        ({**GOOD[0], "lat": 91}, "lat: 91.0 is outside -90.0..90.0"),
        ({**GOOD[0], "altitude_m": float("inf")}, "altitude_m: must be finite"),
        ({**GOOD[0], "lon": float("nan")}, "lon: must be finite"),
        ({**GOOD[1], "value": 10**400}, "value: is too large for a number"),
        ({**GOOD[0], "fix_quality": "laser"}, "fix_quality: 'laser' is not a valid FixQuality"),
        ({**GOOD[2], "quantity": 2.5}, "quantity: expected an integer"),
        ({**GOOD[1], "device_id": None}, "device_id: required for measurement records"),
        ({**GOOD[3], "evidence": []}, "evidence: expected an object"),
        ({**GOOD[5], "zone": ""}, "zone: expected a non-empty string"),
        ({**GOOD[5], "event": "entered"}, "event: 'entered' is not a valid TagEventType"),
        ({**GOOD[5], "direction": "up"}, "direction: 'up' is not a valid TagDirection"),
        ({**GOOD[5], "read_count": 3.0}, "read_count: expected an integer"),
        ({**GOOD[5], "peak_rssi_dbm": "-40"}, "peak_rssi_dbm: expected a number"),
        (
            {**GOOD[5], "last_seen": "2025-03-01T08:00:00"},
            ("last_seen: time has no timezone; send UTC with a Z suffix"),
        ),
        ({**GOOD[6], "first_seen": None}, "first_seen: required for tag_event records"),
        ({**GOOD[7], "quality": "meh"}, "quality: 'meh' is not a valid MeasurementQuality"),
        ({**GOOD[7], "quality": 1}, "quality: 1 is not a valid MeasurementQuality"),
    ]
    for data, message in cases:
        assert outcome_of_fast(data) == ("error", message) == outcome_of_reference(data)


def test_quality_is_a_column_good_when_absent_from_the_wire() -> None:
    assert "quality" not in GOOD[1] and GOOD[7]["quality"] == "out_of_range"
    quality = COLUMNS[RecordKind.MEASUREMENT].index("quality")
    assert wire_row(GOOD[1], "gw", 1)[1][quality] == "good"
    assert wire_row(GOOD[7], "gw", 2)[1][quality] == "out_of_range"
    assert wire_row({**GOOD[1], "quality": "good"}, "gw", 3)[1][quality] == "good"


def test_only_flagged_measurements_carry_a_quality_tag_in_line_protocol() -> None:
    rows = [wire_row(GOOD[1], "gw", 1)[1], wire_row(GOOD[7], "gw", 2)[1]]
    good, flagged = to_lines({RecordKind.MEASUREMENT: rows})
    assert good.startswith("measurement,device_id=fridge-1,gateway_id=gw,quantity=")
    assert "quality" not in good
    assert flagged.startswith(
        "measurement,device_id=fridge-1,gateway_id=gw,quality=out_of_range,quantity="
    )


async def test_ingest_stores_the_quality_of_each_measurement(cloud: Cloud) -> None:
    records = [wire(MEASUREMENT, 1), wire(FLAGGED, 2)]
    response = await cloud.client.post(
        "/api/v1/ingest",
        content=json.dumps(batch("gw-a", 1, 2, records)).encode(),
        headers={**cloud.auth(cloud.gateway_a), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    async with cloud.database.sessions() as session:
        stored = await session.execute(
            select(MeasurementRow.seq, MeasurementRow.quality).order_by(MeasurementRow.seq)
        )
        assert stored.all() == [(1, "good"), (2, "out_of_range")]
