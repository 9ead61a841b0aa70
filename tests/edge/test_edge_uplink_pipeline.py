"""The pipelined uplink: the next batch is prepared while a request is in flight and sent only
after the whole batch before it was acknowledged; anything else throws it away."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from edge.batch import batch_body, pack_records, seal_body
from edge.buffer import Buffer
from edge.config import UplinkSettings
from edge.uplink import Uplink
from tests.edge.edge_factories import position, scan
from tests.edge.fake_cloud import FakeCloud

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FOUR = UplinkSettings(
    batch_max_records=4, batch_max_bytes=100_000, backoff_initial_s=0.01, backoff_max_s=0.02
)


def make_uplink(buf: Buffer, cloud: FakeCloud) -> Uplink:
    return Uplink(
        buf,
        httpx.AsyncClient(transport=cloud.transport()),
        FOUR,
        gateway_id="gw-1",
        cloud_url="https://cloud.example",
        token="secret-token",
        clock=lambda: T0,
        rng=lambda: 1.0,
    )


def sent(cloud: FakeCloud) -> list[tuple[int, list[int]]]:
    """(first_seq, seqs) of every request that reached the cloud, in order."""
    return [(b["first_seq"], [r["seq"] for r in b["records"]]) for b in cloud.bodies]


def pipeline(uplink: Uplink) -> tuple[int, int]:
    return uplink.prepared_sent, uplink.prepared_discarded


async def test_prepared_batches_follow_whole_acks_in_order() -> None:
    cloud = FakeCloud(latency_s=0.02)
    async with Buffer.open(":memory:") as buf:
        await buf.append([position(i) for i in range(18)])
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
        stats = await buf.stats()
    assert sent(cloud) == [
        (1, [1, 2, 3, 4]),
        (5, [5, 6, 7, 8]),
        (9, [9, 10, 11, 12]),
        (13, [13, 14, 15, 16]),
        (17, [17, 18]),
    ]
    # 5..8, 9..12 and 13..16 were prepared in flight; 17..18 is not full, so it was peeked.
    assert pipeline(uplink) == (3, 0)
    assert cloud.max_concurrent == 1
    assert (stats.records, stats.last_acked_seq) == (0, 18)
    assert uplink.stats.acknowledged == {"position": 18}
    assert (uplink.stats.batches_sent, uplink.stats.batches_acked) == (5, 5)


async def test_a_partial_ack_discards_the_prepared_batch() -> None:
    cloud = FakeCloud(latency_s=0.02, script=["", "ack-short"])
    async with Buffer.open(":memory:") as buf:
        await buf.append([position(i) for i in range(16)])
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
    assert sent(cloud) == [
        (1, [1, 2, 3, 4]),
        (5, [5, 6, 7, 8]),  # acknowledged up to 7 only: 9..12 prepared, thrown away
        (8, [8, 9, 10, 11]),
        (12, [12, 13, 14, 15]),
        (16, [16]),
    ]
    assert pipeline(uplink) == (2, 1)
    assert uplink.stats.acknowledged == {"position": 16}
    assert cloud.max_concurrent == 1


async def test_a_413_discards_the_prepared_batch_and_halves() -> None:
    cloud = FakeCloud(latency_s=0.02, max_records=2)
    async with Buffer.open(":memory:") as buf:
        await buf.append([position(i) for i in range(8)])
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
    assert cloud.answers == [413, 200, 200, 200, 200]
    assert sent(cloud)[1:] == [(1, [1, 2]), (3, [3, 4]), (5, [5, 6]), (7, [7, 8])]
    assert pipeline(uplink) == (3, 1)
    assert uplink.batch_limit == 2
    assert uplink.stats.acknowledged == {"position": 8}


async def test_a_422_discards_the_prepared_batch_and_splits() -> None:
    cloud = FakeCloud(latency_s=0.02, malformed_seqs={6})
    async with Buffer.open(":memory:") as buf:
        await buf.append([position(i) for i in range(12)])
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
        quarantined = await buf.quarantined_records()
    assert sent(cloud) == [
        (1, [1, 2, 3, 4]),
        (5, [5, 6, 7, 8]),  # 422: the prepared 9..12 goes
        (5, [5, 6]),
        (5, [5]),
        (6, [6]),
        (6, [7, 8, 9, 10]),
        (11, [11, 12]),
    ]
    assert cloud.answers == [200, 422, 422, 200, 422, 200, 200]
    assert pipeline(uplink) == (1, 1)
    assert [seq for seq, _, _ in quarantined] == [6]
    assert uplink.stats.acknowledged == {"position": 11}


async def test_an_eviction_of_prepared_records_discards_the_prepared_batch() -> None:
    cloud = FakeCloud(latency_s=0.02)
    async with Buffer.open(":memory:", max_records=10) as buf:
        await buf.append([scan(i) for i in range(4)] + [position(i) for i in range(4)])

        async def evict_while_first_in_flight(index: int) -> None:
            if index == 0:  # 5..8 is prepared by now; two more records evict 5 and 6
                await buf.append([position(i) for i in range(4, 8)])

        cloud.in_flight = evict_while_first_in_flight
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
        stats = await buf.stats()
    assert sent(cloud) == [(1, [1, 2, 3, 4]), (5, [7, 8, 9, 10]), (11, [11, 12])]
    assert pipeline(uplink) == (0, 1)
    assert stats.evicted == {"position": 2}
    assert uplink.stats.acknowledged == {"scan": 4, "position": 6}


async def test_an_eviction_inside_the_batch_in_flight_is_counted_from_the_buffer() -> None:
    cloud = FakeCloud(latency_s=0.02)
    async with Buffer.open(":memory:", max_records=10) as buf:
        await buf.append([position(i) for i in range(8)])

        async def evict_while_first_in_flight(index: int) -> None:
            if index == 0:  # evicts 1 and 2, which are in flight
                await buf.append([position(i) for i in range(8, 12)])

        cloud.in_flight = evict_while_first_in_flight
        uplink = make_uplink(buf, cloud)
        assert await uplink.drain(5.0) is True
        stats = await buf.stats()
    assert sent(cloud) == [(1, [1, 2, 3, 4]), (5, [5, 6, 7, 8]), (9, [9, 10, 11, 12])]
    assert stats.evicted == {"position": 2}
    # Records 1 and 2 were evicted, not acknowledged: 12 - 2.
    assert uplink.stats.acknowledged == {"position": 10}
    assert pipeline(uplink) == (1, 1)


async def test_send_once_applies_the_whole_answer_before_returning() -> None:
    cloud = FakeCloud(latency_s=0.01)
    async with Buffer.open(":memory:") as buf:
        await buf.append([position(i) for i in range(8)])
        uplink = make_uplink(buf, cloud)
        await uplink.send_once()
        stats = await buf.stats()
    assert (stats.records, stats.last_acked_seq) == (4, 4)
    assert uplink.stats.acknowledged == {"position": 4}
    assert pipeline(uplink) == (0, 1)  # 5..8 was prepared, then dropped on return


async def test_sealed_body_is_the_batch_body_as_json() -> None:
    async with Buffer.open(":memory:") as buf:
        await buf.append([position(0), scan(1)])
        records = await buf.peek(10, 10**6)
    packed = pack_records(records)
    fields: dict[str, Any] = {
        "gateway_id": "g",
        "first_seq": 1,
        "sent_at": T0,
        "health": {"buffer": 2},
    }
    sealed = seal_body(packed, **fields)
    assert seal_body(packed, **fields) == sealed  # the packed records stay reusable
    assert json.loads(gzip.decompress(sealed)) == json.loads(batch_body(records=records, **fields))
