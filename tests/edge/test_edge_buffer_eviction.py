"""Pure eviction rules, and a property: whatever the appends, the caps hold, business records
are never lost and every telemetry loss is counted."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.buffer import Buffer, BufferFullError
from edge.eviction import (
    Candidate,
    Caps,
    GroupSize,
    Plan,
    Usage,
    admit,
    is_business,
    plan_oldest,
    plan_thinning,
)
from firmware_bridge.records import Record, RecordKind
from tests.edge.edge_factories import measurement, position, scan


def test_business_split_is_scans_tag_events_and_alarms() -> None:
    assert {k.value for k in RecordKind if is_business(k.value)} == {"scan", "tag_event", "alarm"}


def test_admit_counts_only_business_and_earlier_admitted_groups() -> None:
    usage = Usage(records=10, bytes=1000, business_records=2, business_bytes=200)
    groups = [GroupSize(0, 0), GroupSize(2, 100), GroupSize(1, 50), GroupSize(0, 0)]
    assert admit(usage, groups, Caps(max_records=4, max_bytes=10_000)) == [True, True, False, True]
    assert admit(usage, groups, Caps(max_records=100, max_bytes=320)) == [True, True, False, True]
    assert admit(usage, groups, Caps(max_records=100, max_bytes=350)) == [True, True, True, True]


def test_plans_stop_once_both_needs_are_met() -> None:
    rows = [Candidate(s, "position", "ab"[s % 2], 10 * s) for s in range(1, 9)]
    oldest = plan_oldest(rows, 1, 25, Plan())
    assert [c.seq for c in oldest.evict] == [1, 2]
    assert (oldest.freed_records, oldest.freed_bytes) == (2, 30)
    thinned = plan_thinning(rows, 2, 3, 0, Plan(), Counter())
    # a: 1 keep, 3 evict, 5 keep; b: 2 keep, 4 evict, 6 keep, 8 evict
    assert [c.seq for c in thinned.evict] == [3, 4, 7]
    assert thinned.mark_thinned == [1, 2, 5, 6]


MAKERS: dict[str, Callable[[int], Record]] = {
    "scan": scan,
    "position": position,
    "measurement": measurement,
}
ops = st.lists(
    st.tuples(st.sampled_from(["scan", "position", "measurement", "ack"]), st.integers(1, 4)),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(ops, st.integers(2, 8), st.sampled_from([None, 2, 3]))
def test_caps_hold_business_survives_and_losses_are_counted(
    steps: list[tuple[str, int]], cap: int, downsample: int | None
) -> None:
    async def scenario() -> None:
        async with Buffer.open(":memory:", max_records=cap, telemetry_downsample=downsample) as buf:
            kinds: dict[int, str] = {}
            acked: set[int] = set()
            refused = 0
            for op, n in steps:
                if op == "ack":
                    target = min((await buf.stats()).next_seq - 1, buf.last_acked_seq + n)
                    present = {r.seq for r in await buf.peek(10_000, 10**9)}
                    await buf.ack(target)
                    acked |= {s for s in present if s <= target}
                    continue
                make: Callable[[int], Record] = MAKERS[op]
                try:
                    seqs = await buf.append([make(i) for i in range(n)])
                except BufferFullError:
                    refused += 1
                    continue
                kinds.update({s: op for s in seqs})
                stored = {r.seq: r.kind for r in await buf.peek(10_000, 10**9)}
                assert len(stored) <= cap
                business = {s for s, k in kinds.items() if k == "scan"} - acked
                assert business <= stored.keys()
                assert all(kinds[s] == k for s, k in stored.items())
            stats = await buf.stats()
            stored = {r.seq: r.kind for r in await buf.peek(10_000, 10**9)}
            lost = Counter(kinds[s] for s in kinds.keys() - acked - stored.keys())
            assert stats.evicted == dict(lost)
            assert "scan" not in lost

    asyncio.run(scenario())
