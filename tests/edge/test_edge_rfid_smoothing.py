"""TagReads -> TagEvents: hold time, departures, door direction both ways, snapshot/restore."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from edge.rfid_smoothing import RawSampler, SmoothingSettings, TagSmoother
from firmware_bridge.records import TagDirection, TagEvent, TagEventType, TagRead

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
PALLET = "3174257BF4499602D2000000"
URI = "urn:epc:id:sscc:0614141.1234567890"
# One read makes an arrival here, so each test shows one rule; confirmation has its own tests.
DOOR = SmoothingSettings(
    "dock-1", "door-1", hold_s=2.0, outside_antenna=1, inside_antenna=2, confirm_reads=1
)
SHELF = SmoothingSettings("shelf-1", "aisle-3", hold_s=2.0, confirm_reads=1)
CONFIRMING = SmoothingSettings("shelf-1", "aisle-3", hold_s=2.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def read(seconds: float, antenna: int, rssi: float = -60.0, epc: str = PALLET) -> TagRead:
    return TagRead("dock-1", antenna, epc, at(seconds), rssi, URI if epc == PALLET else None)


def feed(smoother: TagSmoother, reads: list[TagRead]) -> list[TagEvent]:
    events: list[TagEvent] = []
    for item in reads:
        events += smoother.tick(item.time)
        events += smoother.push(item)
    return events


def event(kind: TagEventType, time: datetime, **extra: object) -> TagEvent:
    fields: dict[str, object] = {
        "reader_id": "dock-1",
        "zone": "door-1",
        "epc_hex": PALLET,
        "first_seen": at(0),
        "last_seen": at(3),
        "read_count": 4,
        "epc_uri": URI,
        "peak_rssi_dbm": -50.0,
        **extra,
    }
    return TagEvent(event=kind, time=time, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("antennas", "direction", "crossing"),
    [((1, 1, 2, 2), TagDirection.IN, 1.5), ((2, 2, 1, 1), TagDirection.OUT, 1.5)],
)
def test_door_pass_direction_both_ways(
    antennas: tuple[int, ...], direction: TagDirection, crossing: float
) -> None:
    smoother = TagSmoother(DOOR)
    reads = [
        read(t, a, r) for t, a, r in zip((0, 1, 2, 3), antennas, (-70, -50, -55, -66), strict=True)
    ]
    events = feed(smoother, reads)
    assert events == [
        event(TagEventType.ARRIVED, at(0), last_seen=at(0), read_count=1, peak_rssi_dbm=-70.0)
    ]
    assert smoother.tick(at(4.999)) == []  # not yet hold_s since the last read
    assert smoother.tick(at(5.0)) == [
        event(TagEventType.PASSED, at(crossing), direction=direction),
        event(TagEventType.DEPARTED, at(5)),
    ]
    assert smoother.present == 0
    assert smoother.tick(at(60)) == []
    assert dict(smoother.counts) == {"arrived": 1, "passed": 1, "departed": 1}


def test_one_antenna_only_gives_no_pass_and_a_shelf_has_no_door() -> None:
    door = TagSmoother(DOOR)
    feed(door, [read(0, 1), read(1, 1)])
    assert [e.event for e in door.tick(at(10))] == [TagEventType.DEPARTED]
    assert door.counts["direction_unknown"] == 1
    shelf = TagSmoother(SHELF)
    feed(shelf, [read(0, 1), read(1, 2)])
    assert [e.event for e in shelf.tick(at(10))] == [TagEventType.DEPARTED]


def test_reads_within_hold_time_keep_the_tag_then_it_arrives_again() -> None:
    smoother = TagSmoother(SHELF)
    reads = [read(t, 1) for t in (0, 1.9, 3.8, 5.7)]  # gaps just under hold_s
    events = feed(smoother, reads)
    assert [e.event for e in events] == [TagEventType.ARRIVED]
    events = smoother.tick(at(7.7)) + smoother.push(read(20, 1))
    assert [(e.event, e.time, e.read_count) for e in events] == [
        (TagEventType.DEPARTED, at(7.7), 4),
        (TagEventType.ARRIVED, at(20), 1),
    ]


def test_state_survives_a_restart_through_json() -> None:
    before = TagSmoother(DOOR)
    other = "E28011606000020A1B2C3D4E"
    feed(before, [read(0, 1, -70), read(1, 1, -50), read(2, 2, -55), read(0.5, 2, epc=other)])
    saved = json.loads(json.dumps(before.to_json()))
    after = TagSmoother.from_json(DOOR, saved)
    assert after.present == 2
    # The rest of the pass happens after the restart: direction still comes out right.
    assert after.push(read(3, 2, -66)) == []
    expected = TagSmoother(DOOR)
    feed(expected, [read(0, 1, -70), read(1, 1, -50), read(2, 2, -55), read(0.5, 2, epc=other)])
    expected.push(read(3, 2, -66))
    assert after.tick(at(10)) == expected.tick(at(10))


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"version": 2, "reader_id": "dock-1", "zone": "door-1", "tags": []},
        {"version": 1, "reader_id": "dock-2", "zone": "door-1", "tags": []},
        {"version": 1, "reader_id": "dock-1", "zone": "door-1", "tags": [{"epc_hex": "AB"}]},
        {"version": 1, "reader_id": "dock-1", "zone": "door-1", "tags": "x"},
    ],
)
def test_restore_refuses_what_is_not_this_readers_state(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TagSmoother.from_json(DOOR, broken)


def test_raw_sampler_lets_one_read_per_tag_and_antenna_through_per_period() -> None:
    sampler = RawSampler(every_s=5.0)
    reads = [read(0, 1), read(1, 1), read(1, 2), read(4.9, 1), read(5.0, 1), read(6, 2)]
    assert [sampler.take(r) for r in reads] == [True, False, True, False, True, True]
    sampler.forget_before(at(5.5))
    assert sampler.take(read(7, 1)) is True


def test_a_single_read_is_no_arrival_and_a_second_within_hold_confirms_it() -> None:
    """A frame corrupted into a valid checksum (one in 256 with the R2000's one-byte sum) is
    one read of a tag that is not there: it must not become an event."""
    smoother = TagSmoother(CONFIRMING)
    phantom = "3054257BF4BBE253A00A018A"
    assert feed(smoother, [read(0, 1, epc=phantom)]) == []
    assert smoother.present == 0
    assert smoother.tick(at(2.0)) == [] and smoother.counts["unconfirmed"] == 1

    events = feed(smoother, [read(3, 1), read(3.5, 1, rssi=-50.0)])
    assert [(e.event, e.time, e.first_seen, e.read_count) for e in events] == [
        (TagEventType.ARRIVED, at(3), at(3), 2)
    ]
    assert smoother.present == 1


def test_reads_further_apart_than_hold_do_not_confirm_each_other() -> None:
    smoother = TagSmoother(CONFIRMING)
    assert feed(smoother, [read(0, 1), read(2.5, 1)]) == []
    assert smoother.counts["unconfirmed"] == 1
    [arrived] = feed(smoother, [read(3.0, 1)])
    assert (arrived.event, arrived.time) == (TagEventType.ARRIVED, at(2.5))
