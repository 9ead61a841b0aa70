"""Tag events through ingest into the tag_events table, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from cloud.ingest.envelope import parse_batch
from cloud.models import IngestReject, TagEventRow
from cloud.services.ingest import TABLES, ingest_batch
from cloud.telemetry import InfluxTelemetryStore
from cloud.telemetry.lines import TELEMETRY_KINDS
from firmware_bridge.records import (
    BUSINESS_KINDS,
    RecordKind,
    TagDirection,
    TagEvent,
    TagEventType,
)
from tests.cloud.cloud_helpers import (
    MEASUREMENT,
    TAG_ARRIVED,
    TAG_PASSED,
    Cloud,
    batch,
    position,
    wire,
)
from tests.cloud.test_cloud_api import NO_STORE, counts, ingest, result, stats


async def stored_tag_events(cloud: Cloud) -> list[tuple[str, int, TagEvent]]:
    """Every tag_events row, read from the table and rebuilt as the record it stores."""
    async with cloud.database.sessions() as session:
        rows = (
            await session.scalars(
                select(TagEventRow).order_by(TagEventRow.gateway_id, TagEventRow.seq)
            )
        ).all()
    return [
        (
            row.gateway_id,
            row.seq,
            TagEvent(
                reader_id=row.reader_id,
                zone=row.zone,
                epc_hex=row.epc_hex,
                event=TagEventType(row.event),
                time=row.time,
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                read_count=row.read_count,
                epc_uri=row.epc_uri,
                direction=None if row.direction is None else TagDirection(row.direction),
                peak_rssi_dbm=row.peak_rssi_dbm,
            ),
        )
        for row in rows
    ]


def mixed_records() -> list[dict[str, Any]]:
    return [wire(TAG_PASSED, 1), wire(position("truck-1", 0), 2), wire(TAG_ARRIVED, 3)]


async def test_tag_events_are_stored_and_read_back_exactly(cloud: Cloud) -> None:
    assert result(await ingest(cloud, batch("gw-a", 1, 3, mixed_records()))) == {
        "ack_seq": 3,
        "stored": 3,
        "duplicates": 0,
        "rejected": [],
        "gaps": [],
    }
    assert await stored_tag_events(cloud) == [("gw-a", 1, TAG_PASSED), ("gw-a", 3, TAG_ARRIVED)]
    # The stored times keep their microseconds and come back timezone-aware UTC.
    assert (await stored_tag_events(cloud))[0][2].time == datetime(
        2025, 3, 1, 8, 0, 2, 250_000, tzinfo=UTC
    )
    assert await stats(cloud) == counts(1, tag_event=2)


async def test_duplicate_tag_events_are_not_stored_twice(cloud: Cloud) -> None:
    body = batch("gw-a", 1, 3, mixed_records())
    assert result(await ingest(cloud, body))["stored"] == 3
    assert result(await ingest(cloud, body, gzipped=True)) == {
        "ack_seq": 3,
        "duplicates": 3,
        **NO_STORE,
    }
    overlapping = batch("gw-a", 3, 4, [wire(TAG_ARRIVED, 3), wire(TAG_PASSED, 4)])
    assert result(await ingest(cloud, overlapping)) == {
        "ack_seq": 4,
        "stored": 1,
        "duplicates": 1,
        "rejected": [],
        "gaps": [],
    }
    # The same seq from another gateway is another record.
    other = batch("gw-b", 1, 1, [wire(TAG_ARRIVED, 1)])
    assert result(await ingest(cloud, other, token=cloud.gateway_b))["stored"] == 1
    assert await stored_tag_events(cloud) == [
        ("gw-a", 1, TAG_PASSED),
        ("gw-a", 3, TAG_ARRIVED),
        ("gw-a", 4, TAG_PASSED),
        ("gw-b", 1, TAG_ARRIVED),
    ]
    assert await stats(cloud) == counts(1, tag_event=4)


async def test_malformed_tag_events_are_rejected_naming_the_field(cloud: Cloud) -> None:
    bad_count = wire(TAG_PASSED, 1) | {"read_count": "many"}
    no_zone = {k: v for k, v in wire(TAG_ARRIVED, 2).items() if k != "zone"}
    bad_direction = wire(TAG_PASSED, 3) | {"direction": "sideways"}
    body = batch("gw-a", 1, 4, [bad_count, no_zone, bad_direction, wire(TAG_ARRIVED, 4)])
    assert result(await ingest(cloud, body)) == {
        "ack_seq": 4,
        "stored": 1,
        "duplicates": 0,
        "rejected": [
            {"seq": 1, "error": "read_count: expected an integer"},
            {"seq": 2, "error": "zone: required for tag_event records"},
            {"seq": 3, "error": "direction: 'sideways' is not a valid TagDirection"},
        ],
        "gaps": [],
    }
    async with cloud.database.sessions() as session:
        rows = (await session.scalars(select(IngestReject).order_by(IngestReject.seq))).all()
    assert [(r.gateway_id, r.seq, r.kind, r.reason, r.raw) for r in rows] == [
        ("gw-a", 1, "tag_event", "read_count: expected an integer", bad_count),
        ("gw-a", 2, "tag_event", "zone: required for tag_event records", no_zone),
        (
            "gw-a",
            3,
            "tag_event",
            "direction: 'sideways' is not a valid TagDirection",
            bad_direction,
        ),
    ]
    assert await stored_tag_events(cloud) == [("gw-a", 4, TAG_ARRIVED)]
    assert await stats(cloud) == counts(rejected=3, tag_event=1)


class RecordingWriter:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, lines: str) -> None:
        self.writes.append(lines)

    def close(self) -> None:
        return None


def test_business_kinds_always_have_a_table_and_are_never_telemetry() -> None:
    assert TABLES.keys() >= BUSINESS_KINDS
    assert RecordKind.TAG_EVENT in BUSINESS_KINDS
    assert BUSINESS_KINDS.isdisjoint(TELEMETRY_KINDS)


async def test_influx_store_keeps_tag_events_in_the_database(cloud: Cloud) -> None:
    writer = RecordingWriter()
    store = InfluxTelemetryStore(
        sessions=cloud.database.sessions, writer=writer, max_pending_records=100
    )
    records = [wire(TAG_PASSED, 1), wire(MEASUREMENT, 2), wire(TAG_ARRIVED, 3)]
    async with cloud.database.sessions.begin() as session:
        outcome = await ingest_batch(
            session=session,
            batch=parse_batch(batch("gw-a", 1, 3, records)),
            now=datetime.now(UTC),
            telemetry=store,
        )
    assert (outcome.ack_seq, outcome.stored, outcome.rejected) == (3, 3, [])
    assert await store.drain_once() == 1
    assert writer.writes == [
        "measurement,device_id=fridge-1,gateway_id=gw-a,quantity=temperature,unit=Cel "
        "value=3.75,seq=2i 1740816000000000002"
    ]
    assert await stored_tag_events(cloud) == [("gw-a", 1, TAG_PASSED), ("gw-a", 3, TAG_ARRIVED)]
