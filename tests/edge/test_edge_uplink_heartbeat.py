"""Heartbeats: when one is due (pure), its wire form, and how the uplink applies each answer."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from edge.buffer import Buffer
from edge.config import UplinkSettings
from edge.heartbeat import (
    HeartbeatStatus,
    classify,
    heartbeat_body,
    heartbeat_wait_s,
    read_reply,
)
from edge.uplink import Outcome, Uplink
from tests.edge.edge_factories import position, scan
from tests.edge.fake_cloud import FakeCloud

SENT_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HEALTH = {"uptime_s": 7.5, "buffer": {"records": 0}}
SETTINGS = UplinkSettings(
    interval_s=0.01,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    request_timeout_s=1,
    heartbeat_s=30,
)


@pytest.mark.parametrize(
    ("heartbeat_s", "last_contact", "now", "wait"),
    [
        (30.0, 100.0, 100.0, 30.0),  # just heard from the cloud
        (30.0, 100.0, 120.5, 9.5),
        (30.0, 100.0, 130.0, 0.0),  # due exactly now
        (30.0, 100.0, 500.0, 0.0),  # long overdue is still just "now"
        (0.5, 10.0, 10.25, 0.25),
        (0.0, 100.0, 500.0, None),  # off
    ],
)
def test_heartbeat_is_due_heartbeat_s_after_the_last_contact(
    heartbeat_s: float, last_contact: float, now: float, wait: float | None
) -> None:
    assert heartbeat_wait_s(heartbeat_s=heartbeat_s, last_contact=last_contact, now=now) == wait


@pytest.mark.parametrize(
    ("status", "code", "meaning"),
    [
        (200, None, HeartbeatStatus.ANSWERED),
        (401, "invalid_token", HeartbeatStatus.UNAUTHORIZED),
        (403, "wrong_gateway", HeartbeatStatus.UNAUTHORIZED),
        (404, "not_found", HeartbeatStatus.UNSUPPORTED),  # an older cloud: no such route
        (404, None, HeartbeatStatus.UNSUPPORTED),  # a proxy's plain 404 page
        (405, "method_not_allowed", HeartbeatStatus.UNSUPPORTED),
        (404, "gateway_not_found", HeartbeatStatus.FAILED),
        (422, "invalid_heartbeat", HeartbeatStatus.FAILED),
        (500, "internal_error", HeartbeatStatus.FAILED),
        (503, None, HeartbeatStatus.FAILED),
    ],
)
def test_answers_are_classified(status: int, code: str | None, meaning: HeartbeatStatus) -> None:
    assert classify(status, code) is meaning


def test_body_is_gzip_json_without_records() -> None:
    body = heartbeat_body(gateway_id="gw-1", sent_at=SENT_AT, health=HEALTH)
    assert json.loads(gzip.decompress(body)) == {
        "gateway_id": "gw-1",
        "sent_at": "2026-03-01T09:00:00Z",
        "health": HEALTH,
    }


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], "not a JSON object"),
        ({"server_time": "2026-03-01T09:00:00Z"}, "ack_seq None"),
        ({"ack_seq": True, "server_time": "2026-03-01T09:00:00Z"}, "ack_seq True"),
        ({"ack_seq": -1, "server_time": "2026-03-01T09:00:00Z"}, "ack_seq -1"),
        ({"ack_seq": 3}, "server_time is missing"),
        ({"ack_seq": 3, "server_time": "yesterday"}, "'yesterday'"),
    ],
)
def test_unreadable_replies_are_refused(answer: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        read_reply(answer)


# -- the uplink sending heartbeats --


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class HeartbeatCloud:
    """Answers heartbeats from ``script`` (a status, "refused", or "ok" by default) and
    ingest like the contract's fake cloud."""

    ack_seq: int = 0
    script: list[str] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    ingest: FakeCloud = field(default_factory=FakeCloud)
    server_time: datetime = SENT_AT + timedelta(seconds=2)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/gateway/heartbeat":
            return self.ingest.handle(request)
        self.heartbeats.append(json.loads(gzip.decompress(request.content)))
        action = self.script.pop(0) if self.script else "ok"
        if action == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if action == "404-route":
            return _error(404, "not_found", "no such resource")
        if action == "404-gateway":
            return _error(404, "gateway_not_found", "gateway 'gw-1' is not registered")
        if action == "401":
            return _error(401, "invalid_token", "unknown token")
        if action == "500":
            return _error(500, "internal_error", "database unavailable")
        if action == "garbled":
            return httpx.Response(200, content=b"<html>")
        ack_seq = max(self.ack_seq, self.ingest.ack_seq)
        return httpx.Response(200, json={"server_time": "2026-03-01T09:00:02Z", "ack_seq": ack_seq})


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


@pytest.fixture
async def buf() -> AsyncIterator[Buffer]:
    async with Buffer.open(":memory:") as opened:
        yield opened


def make_uplink(
    buf: Buffer,
    cloud: HeartbeatCloud,
    settings: UplinkSettings = SETTINGS,
    monotonic: Callable[[], float] | None = None,
) -> Uplink:
    client = httpx.AsyncClient(transport=httpx.MockTransport(cloud.handle))
    return Uplink(
        buf,
        client,
        settings,
        gateway_id="gw-1",
        cloud_url="https://cloud.example/",
        token="secret-token",
        health=lambda: HEALTH,
        clock=lambda: SENT_AT,
        rng=lambda: 1.0,
        monotonic=monotonic or Clock(),
    )


async def test_due_heartbeat_s_after_start_and_after_each_contact(buf: Buffer) -> None:
    clock = Clock()
    cloud = HeartbeatCloud()
    uplink = make_uplink(buf, cloud, monotonic=clock)
    assert uplink.heartbeat_wait_s() == 30.0
    clock.now += 29.0
    assert uplink.heartbeat_wait_s() == 1.0
    clock.now += 1.0
    assert uplink.heartbeat_wait_s() == 0.0
    # An acknowledged batch is contact too: the next heartbeat is due 30 s after it.
    await buf.append([position(0)])
    assert await uplink.send_once() is Outcome.ACKED
    assert uplink.heartbeat_wait_s() == 30.0
    clock.now += 45.0
    assert await uplink.send_heartbeat() is HeartbeatStatus.ANSWERED
    assert uplink.heartbeat_wait_s() == 30.0
    off = make_uplink(buf, cloud, UplinkSettings(heartbeat_s=0), monotonic=clock)
    assert off.heartbeat_wait_s() is None


async def test_answered_heartbeat_updates_skew_and_counts(buf: Buffer) -> None:
    cloud = HeartbeatCloud()
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_heartbeat() is HeartbeatStatus.ANSWERED

    assert cloud.heartbeats == [
        {"gateway_id": "gw-1", "sent_at": "2026-03-01T09:00:00Z", "health": HEALTH}
    ]
    assert uplink.stats.heartbeats_sent == 1
    assert uplink.stats.last_heartbeat_at == SENT_AT
    # Sent and received at 09:00:00 on the gateway's clock, the cloud said 09:00:02.
    assert uplink.stats.clock_skew_s == -2.0
    assert (uplink.stats.batches_sent, uplink.stats.failed_attempts) == (0, 0)
    assert uplink.stats.acknowledged == {}


async def test_cloud_ack_ahead_of_the_buffer_deletes_what_the_cloud_holds(buf: Buffer) -> None:
    # The cloud stored seq 1..2 but the gateway never saw the answer (crashed before deleting).
    await buf.append([position(0), scan(1), position(2)])
    cloud = HeartbeatCloud(ack_seq=2)
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_heartbeat() is HeartbeatStatus.ANSWERED

    assert [r.seq for r in await buf.peek(100, 10**9)] == [3]
    assert buf.last_acked_seq == 2
    assert uplink.stats.acknowledged == {"position": 1, "scan": 1}


async def test_cloud_ack_beyond_any_assigned_seq_is_reported_and_deletes_nothing(
    buf: Buffer,
) -> None:
    await buf.append([position(0)])
    cloud = HeartbeatCloud(ack_seq=50)
    uplink = make_uplink(buf, cloud)

    assert await uplink.send_heartbeat() is HeartbeatStatus.ANSWERED

    assert [r.seq for r in await buf.peek(100, 10**9)] == [1]
    assert uplink.stats.state == "backing_off"
    assert uplink.stats.consecutive_failures == 1
    assert uplink.stats.last_error is not None
    assert "ack_seq is 50, which this gateway never assigned" in uplink.stats.last_error
    assert "another gateway using the id 'gw-1'" in uplink.stats.last_error


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ("500", "heartbeat: 500: internal_error: database unavailable"),
        ("refused", "heartbeat: cannot reach https://cloud.example/api/v1/gateway/heartbeat: "),
        ("404-gateway", "heartbeat: 404: gateway_not_found: gateway 'gw-1' is not registered"),
        ("garbled", "heartbeat: cloud answered 200 with an unreadable body: "),
    ],
)
async def test_failed_heartbeat_backs_off_like_a_batch(
    buf: Buffer, action: str, error: str
) -> None:
    clock = Clock()
    cloud = HeartbeatCloud(script=[action, action])
    uplink = make_uplink(buf, cloud, monotonic=clock)
    clock.now += 30.0

    assert await uplink.send_heartbeat() is HeartbeatStatus.FAILED
    assert uplink.stats.state == "backing_off"
    assert uplink.stats.last_error is not None and uplink.stats.last_error.startswith(error)
    assert uplink.next_delay() == SETTINGS.backoff_initial_s  # rng 1.0: the top of the step
    assert await uplink.send_heartbeat() is HeartbeatStatus.FAILED
    assert uplink.next_delay() == 2 * SETTINGS.backoff_initial_s
    assert (uplink.stats.failed_attempts, uplink.stats.consecutive_failures) == (2, 2)
    assert uplink.stats.heartbeats_sent == 2
    assert uplink.stats.last_heartbeat_at is None
    assert uplink.heartbeat_wait_s() == 0.0  # still due: retried after the backoff

    assert await uplink.send_heartbeat() is HeartbeatStatus.ANSWERED
    assert uplink.stats.consecutive_failures == 0
    assert uplink.heartbeat_wait_s() == 30.0


async def test_refused_token_waits_the_longest_backoff(buf: Buffer) -> None:
    uplink = make_uplink(buf, HeartbeatCloud(script=["401"]))
    assert await uplink.send_heartbeat() is HeartbeatStatus.UNAUTHORIZED
    assert uplink.stats.state == "unauthorized"
    assert uplink.next_delay() == SETTINGS.backoff_max_s


async def test_an_older_cloud_without_the_route_stops_heartbeats_with_one_warning(
    buf: Buffer, caplog: pytest.LogCaptureFixture
) -> None:
    cloud = HeartbeatCloud(script=["404-route"])
    fast = SETTINGS.model_copy(update={"heartbeat_s": 0.02})
    uplink = make_uplink(buf, cloud, fast, monotonic=asyncio.get_running_loop().time)

    with caplog.at_level(logging.WARNING, logger="edge.uplink"):
        task = asyncio.create_task(uplink.run())
        await asyncio.sleep(0.3)
        uplink.stop()
        await task

    assert len(cloud.heartbeats) == 1
    assert uplink.heartbeat_wait_s() is None
    assert uplink.stats.failed_attempts == 0 and uplink.stats.state == "idle"
    warnings = [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()]
    assert len(warnings) == 1
    assert (
        "heartbeat: 404: not_found: no such resource: this cloud has no heartbeat route"
        in (warnings[0])
    )


async def test_run_beats_while_idle_and_not_while_records_flow(buf: Buffer) -> None:
    cloud = HeartbeatCloud()
    fast = SETTINGS.model_copy(update={"heartbeat_s": 0.15})
    uplink = make_uplink(buf, cloud, fast, monotonic=asyncio.get_running_loop().time)
    task = asyncio.create_task(uplink.run())
    try:
        await asyncio.sleep(0.6)
        idle_beats = len(cloud.heartbeats)
        # Records every 10 ms: each acked batch is contact, so no heartbeat is due meanwhile.
        for i in range(30):
            await buf.append([position(i)])
            await asyncio.sleep(0.01)
        busy_beats = len(cloud.heartbeats) - idle_beats
        # the last records may still be on their way: stopping does not drain
        for _ in range(500):
            if len(cloud.ingest.stored) == 30:
                break
            await asyncio.sleep(0.01)
    finally:
        uplink.stop()
        await task
    assert 2 <= idle_beats <= 4  # one per 150 ms at most, over 600 ms
    assert busy_beats <= 1  # at most the one already due when the records began
    assert len(cloud.ingest.stored) == 30
    assert all(beat["health"] == HEALTH for beat in cloud.heartbeats)
    assert uplink.stats.heartbeats_sent == len(cloud.heartbeats)
