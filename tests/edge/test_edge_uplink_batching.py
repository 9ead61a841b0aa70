"""Batches bounded by age, one batch in flight in seq order, and the clock skew from answers."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from edge.batch import clock_skew_s
from edge.buffer import Buffer
from edge.config import UplinkSettings
from edge.uplink import Outcome, Uplink
from tests.edge.edge_factories import position, scan
from tests.edge.fake_cloud import FakeCloud

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
AGED = UplinkSettings(
    batch_max_records=4,
    batch_max_bytes=1024,
    batch_max_age_s=2.0,
    interval_s=0.5,
    backoff_initial_s=0.01,
    backoff_max_s=0.02,
)


@pytest.fixture
async def buf() -> AsyncIterator[Buffer]:
    async with Buffer.open(":memory:") as opened:
        yield opened


class WallClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_uplink(
    buf: Buffer,
    cloud: FakeCloud,
    settings: UplinkSettings = AGED,
    now_s: WallClock | None = None,
) -> Uplink:
    return Uplink(
        buf,
        httpx.AsyncClient(transport=cloud.transport()),
        settings,
        gateway_id="gw-1",
        cloud_url="https://cloud.example",
        token="secret-token",
        clock=lambda: T0,
        rng=lambda: 1.0,
        now_s=now_s or time.time,
    )


async def test_a_small_batch_waits_until_its_oldest_record_is_max_age_old(buf: Buffer) -> None:
    await buf.append([position(0), position(1)])
    created = (await buf.peek(1, 10**6))[0].created_at
    wall = WallClock()
    cloud = FakeCloud()
    uplink = make_uplink(buf, cloud, now_s=wall)

    wall.now = created + 0.1
    assert await uplink.send_once(wait_for_full=True) is Outcome.WAITING
    assert (uplink.next_delay(), uplink.stats.state) == (0.5, "batching")
    wall.now = created + 1.8
    assert await uplink.send_once(wait_for_full=True) is Outcome.WAITING
    assert uplink.next_delay() == pytest.approx(0.2)
    assert cloud.bodies == []

    wall.now = created + 2.0
    assert await uplink.send_once(wait_for_full=True) is Outcome.ACKED
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1, 2]]


async def test_a_batch_full_by_records_leaves_at_once(buf: Buffer) -> None:
    wall = WallClock()
    cloud = FakeCloud()
    uplink = make_uplink(buf, cloud, now_s=wall)
    await buf.append([position(i) for i in range(5)])
    wall.now = (await buf.peek(1, 10**6))[0].created_at
    assert await uplink.send_once(wait_for_full=True) is Outcome.ACKED
    assert await uplink.send_once(wait_for_full=True) is Outcome.WAITING
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1, 2, 3, 4]]


async def test_a_batch_full_by_bytes_leaves_at_once(buf: Buffer) -> None:
    wall = WallClock()
    cloud = FakeCloud()
    by_bytes = AGED.model_copy(update={"batch_max_records": 100})
    uplink = make_uplink(buf, cloud, by_bytes, now_s=wall)
    # A scan payload is 156 bytes: six fit in batch_max_bytes = 1024, seven do not.
    await buf.append([scan(i) for i in range(6)])
    wall.now = (await buf.peek(1, 10**6))[0].created_at
    assert await uplink.send_once(wait_for_full=True) is Outcome.WAITING
    await buf.append([scan(6)])
    assert await uplink.send_once(wait_for_full=True) is Outcome.ACKED
    assert await uplink.send_once(wait_for_full=True) is Outcome.WAITING
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1, 2, 3, 4, 5, 6]]


async def test_max_age_zero_and_drain_never_wait(buf: Buffer) -> None:
    await buf.append([position(0)])
    cloud = FakeCloud()
    no_age = make_uplink(buf, cloud, AGED.model_copy(update={"batch_max_age_s": 0.0}))
    assert await no_age.send_once(wait_for_full=True) is Outcome.ACKED
    await buf.append([position(1)])
    aged = make_uplink(buf, cloud)
    assert await aged.drain(1.0) is True
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1], [2]]


async def test_run_holds_a_lone_record_for_the_age_bound(buf: Buffer) -> None:
    cloud = FakeCloud()
    loop = asyncio.get_running_loop()
    sent_at: list[float] = []
    sent = asyncio.Event()

    def handle(request: httpx.Request) -> httpx.Response:
        sent_at.append(loop.time())
        sent.set()
        return cloud.handle(request)

    settings = AGED.model_copy(update={"batch_max_age_s": 0.3, "interval_s": 0.05})
    uplink = Uplink(
        buf,
        httpx.AsyncClient(transport=httpx.MockTransport(handle)),
        settings,
        gateway_id="gw-1",
        cloud_url="https://cloud.example",
        token="secret-token",
    )
    task = asyncio.create_task(uplink.run())
    await buf.append([scan(0)])
    appended = loop.time()
    await asyncio.wait_for(sent.wait(), 3)
    uplink.stop()
    await asyncio.wait_for(task, 1)
    assert len(sent_at) == 1
    # Not before the age bound; after it, within a poll interval (generous on a busy machine).
    assert 0.25 <= sent_at[0] - appended < 1.0
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1]]


async def test_order_per_device_survives_failures_splits_and_concurrent_senders(
    buf: Buffer,
) -> None:
    devices = ["van-1", "van-2", "van-3"]
    records = [position(i, devices[i % 3]) for i in range(60)]
    cloud = FakeCloud(max_records=7, script=["500", "", "timeout", "", "stored-timeout", "refused"])
    in_flight = 0
    overlapped = False

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, overlapped
        in_flight += 1
        overlapped = overlapped or in_flight > 1
        await asyncio.sleep(0.002)
        try:
            return cloud.handle(request)
        finally:
            in_flight -= 1

    settings = UplinkSettings(batch_max_records=10, backoff_initial_s=0.001, backoff_max_s=0.002)
    uplink = Uplink(
        buf,
        httpx.AsyncClient(transport=httpx.MockTransport(handle)),
        settings,
        gateway_id="gw-1",
        cloud_url="https://cloud.example",
        token="secret-token",
    )
    for start in range(0, 60, 12):
        await buf.append(records[start : start + 12])
        await asyncio.gather(uplink.send_once(), uplink.send_once())
    assert await uplink.drain(5.0) is True

    assert not overlapped
    assert list(cloud.stored) == list(range(1, 61))  # first stored in seq order
    for device in devices:
        lats = [r["lat"] for r in cloud.stored.values() if r["device_id"] == device]
        assert lats == [r.lat for r in records if r.device_id == device]
    assert uplink.stats.acknowledged == {"position": 60}


def test_clock_skew_is_gateway_minus_cloud_at_the_round_trip_midpoint() -> None:
    sent = T0
    received = T0 + timedelta(milliseconds=200)
    assert clock_skew_s(sent, received, T0 - timedelta(seconds=1.9)) == pytest.approx(2.0)
    assert clock_skew_s(sent, received, T0 + timedelta(seconds=3.1)) == pytest.approx(-3.0)
    assert clock_skew_s(sent, sent, sent) == 0.0


async def test_uplink_reports_the_skew_of_the_last_answer(buf: Buffer) -> None:
    gateway_times = itertools.chain(
        [T0, T0 + timedelta(seconds=0.4)],  # first exchange: 400 ms round trip
        itertools.repeat(T0 + timedelta(seconds=10)),
    )
    cloud = FakeCloud(clock=lambda: T0 - timedelta(seconds=5))
    uplink = Uplink(
        buf,
        httpx.AsyncClient(transport=cloud.transport()),
        AGED,
        gateway_id="gw-1",
        cloud_url="https://cloud.example",
        token="secret-token",
        clock=lambda: next(gateway_times),
    )
    assert uplink.stats.clock_skew_s is None
    await buf.append([position(0)])
    assert await uplink.send_once() is Outcome.ACKED
    assert uplink.stats.clock_skew_s == 5.2
    assert uplink.stats.last_ack_at == T0 + timedelta(seconds=0.4)
    await buf.append([position(1)])
    assert await uplink.send_once() is Outcome.ACKED
    assert uplink.stats.clock_skew_s == 15.0
