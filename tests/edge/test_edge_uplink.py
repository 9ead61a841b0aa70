from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from edge.batch import batch_body
from edge.buffer import Buffer, BufferedRecord
from edge.config import UplinkSettings
from edge.uplink import Outcome, Uplink, backoff_delay
from firmware_bridge.records import Record
from firmware_bridge.wire import record_to_wire
from tests.edge.edge_factories import measurement, position, scan
from tests.edge.fake_cloud import FakeCloud

SENT_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FAST = UplinkSettings(
    batch_max_records=1000,
    interval_s=0.01,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    request_timeout_s=1,
)


@pytest.fixture
async def buf() -> AsyncIterator[Buffer]:
    async with Buffer.open(":memory:") as opened:
        yield opened


def make_uplink(
    buf: Buffer, cloud: FakeCloud, settings: UplinkSettings = FAST, token: str = "secret-token"
) -> Uplink:
    client = httpx.AsyncClient(transport=cloud.transport())
    return Uplink(
        buf,
        client,
        settings,
        gateway_id="gw-1",
        cloud_url="https://cloud.example/",
        token=token,
        health=lambda: {"uptime_s": 1.5},
        clock=lambda: SENT_AT,
        rng=lambda: 1.0,
    )


async def remaining_seqs(buf: Buffer) -> list[int]:
    return [r.seq for r in await buf.peek(10_000, 10**9)]


async def test_ack_deletes_the_batch_and_counts_kinds(buf: Buffer) -> None:
    records: list[Record] = [position(0), scan(1), position(2), measurement(3)]
    await buf.append(records)
    cloud = FakeCloud()
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_once() is Outcome.ACKED

    assert await remaining_seqs(buf) == []
    assert cloud.bodies == [
        {
            "gateway_id": "gw-1",
            "first_seq": 1,
            "last_seq": 4,
            "sent_at": "2026-03-01T09:00:00Z",
            "health": {"uptime_s": 1.5},
            "records": [record_to_wire(r, seq) for seq, r in enumerate(records, start=1)],
        }
    ]
    headers = cloud.headers[0]
    assert (headers["content-encoding"], headers["content-type"]) == ("gzip", "application/json")
    assert uplink.stats.acknowledged == {"position": 2, "scan": 1, "measurement": 1}
    assert (uplink.stats.batches_acked, uplink.stats.last_ack_seq) == (1, 4)
    assert uplink.stats.last_ack_at == SENT_AT
    assert await uplink.send_once() is Outcome.EMPTY
    assert uplink.next_delay() == FAST.interval_s


async def test_batches_are_limited_and_first_seq_follows_the_ack(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(5)])
    cloud = FakeCloud()
    uplink = make_uplink(buf, cloud, FAST.model_copy(update={"batch_max_records": 2}))
    outcomes = [await uplink.send_once() for _ in range(4)]
    assert outcomes == [Outcome.ACKED, Outcome.ACKED, Outcome.ACKED, Outcome.EMPTY]
    assert [(b["first_seq"], b["last_seq"]) for b in cloud.bodies] == [(1, 2), (3, 4), (5, 5)]
    assert [[r["seq"] for r in b["records"]] for b in cloud.bodies] == [[1, 2], [3, 4], [5]]


async def test_server_error_keeps_everything_and_backs_off(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(3)])
    cloud = FakeCloud(script=["500", "500"])
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_once() is Outcome.FAILED
    assert await remaining_seqs(buf) == [1, 2, 3]
    assert uplink.stats.last_error == "500: internal: database unavailable"
    assert uplink.next_delay() == 0.01
    assert await uplink.send_once() is Outcome.FAILED
    assert (uplink.stats.consecutive_failures, uplink.next_delay()) == (2, 0.02)

    assert await uplink.send_once() is Outcome.ACKED
    assert await remaining_seqs(buf) == []
    assert sorted(cloud.stored) == [1, 2, 3]
    assert (uplink.stats.consecutive_failures, uplink.stats.failed_attempts) == (0, 2)


@pytest.mark.parametrize("failure", ["timeout", "refused"])
async def test_timeouts_and_refused_connections_retry_the_same_batch(
    buf: Buffer, failure: str
) -> None:
    await buf.append([position(0), position(1)])
    cloud = FakeCloud(script=[failure])
    uplink = make_uplink(buf, cloud)
    assert await uplink.send_once() is Outcome.FAILED
    assert await remaining_seqs(buf) == [1, 2]
    assert uplink.stats.last_error is not None
    assert await uplink.send_once() is Outcome.ACKED
    assert await remaining_seqs(buf) == []


async def test_lost_answer_is_resent_and_counted_as_duplicates(buf: Buffer) -> None:
    await buf.append([position(0), position(1)])
    cloud = FakeCloud(script=["stored-timeout"])
    uplink = make_uplink(buf, cloud)
    assert await uplink.send_once() is Outcome.FAILED
    assert await remaining_seqs(buf) == [1, 2]
    assert await uplink.send_once() is Outcome.ACKED
    assert uplink.stats.duplicates == 2
    assert uplink.stats.acknowledged == {"position": 2}


async def test_413_halves_the_batch_and_retries_immediately(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(7)])
    cloud = FakeCloud(max_records=3)
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_once() is Outcome.SPLIT
    assert (uplink.batch_limit, uplink.next_delay()) == (3, 0.0)
    assert await remaining_seqs(buf) == [1, 2, 3, 4, 5, 6, 7]
    assert [await uplink.send_once() for _ in range(4)] == [
        Outcome.ACKED,
        Outcome.ACKED,
        Outcome.ACKED,
        Outcome.EMPTY,
    ]
    assert [len(b["records"]) for b in cloud.bodies] == [7, 3, 3, 1]
    assert sorted(cloud.stored) == [1, 2, 3, 4, 5, 6, 7]


async def test_413_on_a_single_record_backs_off(buf: Buffer) -> None:
    await buf.append([position(0)])
    uplink = make_uplink(buf, FakeCloud(max_records=0))
    assert await uplink.send_once() is Outcome.FAILED
    assert uplink.stats.last_error == "413: record 1 too large"
    assert await remaining_seqs(buf) == [1]


async def test_bad_token_keeps_buffering_and_waits_the_longest_backoff(
    buf: Buffer, caplog: pytest.LogCaptureFixture
) -> None:
    await buf.append([position(0)])
    uplink = make_uplink(buf, FakeCloud(), token="wrong")
    with caplog.at_level(logging.ERROR, logger="edge.uplink"):
        assert await uplink.send_once() is Outcome.UNAUTHORIZED
    assert await remaining_seqs(buf) == [1]
    assert uplink.next_delay() == FAST.backoff_max_s
    assert (uplink.stats.state, uplink.stats.last_error) == (
        "unauthorized",
        "401: unauthorized: unknown gateway token",
    )
    assert "refused the token of gateway 'gw-1'" in caplog.text


async def test_ack_below_the_batch_deletes_only_up_to_the_ack(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(5)])
    cloud = FakeCloud(script=["ack-short"])
    uplink = make_uplink(buf, cloud)
    assert await uplink.send_once() is Outcome.ACKED
    assert await remaining_seqs(buf) == [5]
    assert uplink.stats.acknowledged == {"position": 4}
    assert await uplink.send_once() is Outcome.ACKED
    assert cloud.bodies[1]["first_seq"] == 5


async def test_ack_of_a_seq_never_assigned_deletes_nothing(buf: Buffer) -> None:
    await buf.append([position(0)])
    uplink = make_uplink(buf, FakeCloud(script=["ack-beyond"]))
    assert await uplink.send_once() is Outcome.FAILED
    assert await remaining_seqs(buf) == [1]
    assert "never assigned" in (uplink.stats.last_error or "")


async def test_a_malformed_single_record_is_quarantined(buf: Buffer) -> None:
    await buf.append([position(0)])

    def reject(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"error": {"code": "invalid", "message": "records[0]"}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(reject))
    uplink = Uplink(buf, client, FAST, gateway_id="gw", cloud_url="http://127.0.0.1", token="t")
    assert await uplink.send_once() is Outcome.QUARANTINED
    assert (uplink.stats.malformed_batches, uplink.stats.quarantined) == (1, 1)
    assert (uplink.stats.consecutive_failures, uplink.next_delay()) == (0, 0.0)
    assert await remaining_seqs(buf) == []
    assert await uplink.send_once() is Outcome.EMPTY


async def test_rejected_records_are_counted(buf: Buffer) -> None:
    await buf.append([position(0), position(1)])
    uplink = make_uplink(buf, FakeCloud(script=["reject-first"]))
    assert await uplink.send_once() is Outcome.ACKED
    assert (uplink.stats.rejected_by_cloud, uplink.stats.quarantined) == (1, 0)
    assert await remaining_seqs(buf) == []


async def test_drain_retries_until_empty(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(5)])
    cloud = FakeCloud(script=["500", "timeout"])
    uplink = make_uplink(buf, cloud, FAST.model_copy(update={"batch_max_records": 2}))
    assert await uplink.drain(5.0) is True
    assert sorted(cloud.stored) == [1, 2, 3, 4, 5]
    assert await remaining_seqs(buf) == []


async def test_drain_gives_up_at_the_deadline(buf: Buffer) -> None:
    await buf.append([position(0)])
    uplink = make_uplink(buf, FakeCloud(script=["500"] * 1000))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await uplink.drain(0.2) is False
    assert 0.2 <= loop.time() - started < 1.0
    assert await remaining_seqs(buf) == [1]


async def test_run_sends_what_arrives_later_and_stops_on_request(buf: Buffer) -> None:
    cloud = FakeCloud(script=["refused"])
    uplink = make_uplink(buf, cloud)
    task = asyncio.create_task(uplink.run())
    await buf.append([scan(0)])
    for _ in range(200):
        if cloud.ack_seq == 1 and (await buf.stats()).records == 0:
            break
        await asyncio.sleep(0.01)
    uplink.stop()
    await asyncio.wait_for(task, 1)
    assert (cloud.ack_seq, (await buf.stats()).records) == (1, 0)
    assert (uplink.stats.failed_attempts, uplink.stats.acknowledged) == (1, {"scan": 1})


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert [backoff_delay(n, 0.5, 30, lambda: 1.0) for n in (1, 2, 3, 7, 8, 100)] == [
        0.5,
        1.0,
        2.0,
        30.0,
        30.0,
        30.0,
    ]
    assert backoff_delay(3, 0.5, 30, lambda: 0.0) == 1.0


def test_batch_body_injects_seq_into_stored_payloads() -> None:
    stored = [BufferedRecord(7, "scan", "hh", 0.0, '{"kind":"scan","code":"x"}')]
    body: dict[str, Any] = json.loads(
        batch_body(gateway_id="g", first_seq=5, records=stored, sent_at=SENT_AT, health={})
    )
    assert body == {
        "gateway_id": "g",
        "first_seq": 5,
        "last_seq": 7,
        "sent_at": "2026-03-01T09:00:00Z",
        "health": {},
        "records": [{"seq": 7, "kind": "scan", "code": "x"}],
    }
