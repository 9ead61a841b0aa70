"""The webhook sender against a real HTTP receiver: signed, in order per order, retried with
backoff, exactly one sender per attempt, failed after the last attempt and retried by hand."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

from sqlalchemy import select

from cloud.db import is_sqlite
from cloud.order_models import WebhookDelivery
from cloud.webhook_policy import RetryPolicy, verify
from cloud.webhooks import WebhookSender
from tests.cloud.allocation.helpers import OPEN_HOURS
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import WATER, SeedNetwork
from tests.cloud.orders_lifecycle.lifecycle_helpers import (
    place_app_order,
    seeded_with_stock,
    set_status,
)
from tests.cloud.orders_lifecycle.receiver import running_receiver

SECRET = "app-webhook-secret-for-tests"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _sender(cloud: Cloud, clock: Clock, **policy: float) -> WebhookSender:
    return WebhookSender(
        cloud.database.sessions,
        RetryPolicy(**policy),  # type: ignore[arg-type]
        clock=clock,
        rng=random.Random(3),
        sqlite=is_sqlite(cloud.database.url),
    )


async def _point_app_channel_at(cloud: Cloud, url: str) -> None:
    response = await cloud.client.put(
        "/api/v1/channels/app",
        json={"id": "app", "kind": "app", "webhook_url": url, "webhook_secret": SECRET},
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 200, response.text


async def _deliveries(cloud: Cloud) -> list[WebhookDelivery]:
    async with cloud.database.sessions() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def _order_with_three_statuses(cloud: Cloud, network: SeedNetwork, name: str) -> str:
    placed = await place_app_order(cloud, network, name, [(WATER, 1)])
    assert (await set_status(cloud, cloud.warehouse, placed.order_id, "picking")).status_code == 200
    return placed.order_id


async def test_retries_in_order_signed_and_sent_once_by_two_senders(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    async with running_receiver([500, 503]) as receiver:
        await _point_app_channel_at(cloud, receiver.url)
        first = await _order_with_three_statuses(cloud, network, "APP-W1")
        second = await _order_with_three_statuses(cloud, network, "APP-W2")
        clock = Clock(OPEN_HOURS)
        senders = [_sender(cloud, clock), _sender(cloud, clock)]
        rounds = 0
        while any(d.status == "pending" for d in await _deliveries(cloud)):
            rounds += 1
            assert rounds <= 10, [(d.id, d.status, d.attempts) for d in await _deliveries(cloud)]
            # Two senders (two API replicas) race for the same rows; at one instant they send
            # all that is due, each order's statuses one after the other.
            start = len(receiver.received)
            while sum(await asyncio.gather(*(sender.send_due() for sender in senders))):
                pass
            # A failed attempt is not repeated before its backoff (about 1 s) has passed.
            ids = [r.headers["x-retailedge-delivery"] for r in receiver.received[start:]]
            assert len(ids) == len(set(ids))
            clock.now += timedelta(minutes=15)
        for sender in senders:
            await sender.stop()
    deliveries = await _deliveries(cloud)
    assert [d.status for d in deliveries] == ["delivered"] * 6
    by_id = {d.id: d for d in deliveries}
    # Each attempt reached the receiver exactly once, although two senders ran.
    seen = [
        (r.headers["x-retailedge-delivery"], r.headers["x-retailedge-attempt"])
        for r in receiver.received
    ]
    assert len(seen) == len(set(seen)) == 8
    assert sum(d.attempts for d in deliveries) == 8
    for request in receiver.received:
        assert request.path == "/hooks/order-status"
        assert request.headers["content-type"] == "application/json"
        assert verify(SECRET, request.body, request.headers["x-retailedge-signature"])
        assert request.payload == by_id[int(request.headers["x-retailedge-delivery"])].payload
    for order_id in (first, second):
        sent = [r.payload for r in receiver.received if r.payload["order_id"] == order_id]
        versions = [p["version"] for p in sent]
        # Never a newer status before an older one was delivered.
        assert versions == sorted(versions)
        assert sorted(set(versions)) == [1, 2, 3]
        assert [p["status"] for p in sent][-3:] == ["received", "allocated", "picking"]
    # The two failures were the first attempts overall, retried until the 200.
    assert [r.answered for r in receiver.received][:2] == [500, 503]
    retried = [d for d in deliveries if d.attempts > 1]
    assert [d.last_error for d in deliveries] == [None] * 6
    assert all(d.delivered_at is not None for d in deliveries)
    assert sum(d.attempts - 1 for d in retried) == 2


async def test_gives_up_after_the_last_attempt_and_an_operator_retries(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    async with running_receiver(["hang", 503]) as receiver:
        await _point_app_channel_at(cloud, receiver.url)
        placed = await place_app_order(cloud, network, "APP-W3", [(WATER, 1)])
        clock = Clock(OPEN_HOURS)
        sender = _sender(cloud, clock, max_attempts=2, timeout_s=0.3)
        assert await sender.send_due() == 1
        [timed_out, _] = await _deliveries(cloud)
        assert (timed_out.status, timed_out.last_error) == ("pending", "timed out after 0.3 s")
        clock.now += timedelta(minutes=15)
        assert await sender.send_due() == 1
        deliveries = await _deliveries(cloud)
        assert [(d.status, d.attempts, d.payload["version"]) for d in deliveries] == [
            ("failed", 2, 1),
            ("pending", 0, 2),
        ]
        assert deliveries[0].last_error is not None
        assert deliveries[0].last_error.startswith("HTTP 503")
        assert [r.answered for r in receiver.received] == [0, 503]
        # A failed delivery no longer holds back the next status of the order.
        assert await sender.send_due() == 1
        assert receiver.received[-1].payload["version"] == 2
        headers = cloud.auth(cloud.operator)
        failed = await cloud.client.get(
            "/api/v1/webhooks", params={"status": "failed"}, headers=headers
        )
        assert failed.status_code == 200
        [item] = failed.json()["items"]
        assert (item["id"], item["order_id"], item["attempts"]) == (
            deliveries[0].id,
            placed.order_id,
            2,
        )
        assert item["url"] == receiver.url and item["payload"]["status"] == "received"
        assert (
            await cloud.client.get("/api/v1/webhooks", headers=cloud.auth(cloud.warehouse))
        ).status_code == 403
        retry = await cloud.client.post(f"/api/v1/webhooks/{item['id']}/retry", headers=headers)
        assert retry.status_code == 200, retry.text
        assert (retry.json()["status"], retry.json()["attempts"]) == ("pending", 0)
        again = await cloud.client.post(f"/api/v1/webhooks/{item['id']}/retry", headers=headers)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "webhook_not_failed"
        missing = await cloud.client.post("/api/v1/webhooks/999999/retry", headers=headers)
        assert missing.status_code == 404
        clock.now = OPEN_HOURS  # the retry is due at the request time of the API
        assert await sender.send_due() == 1
        await sender.stop()
    deliveries = await _deliveries(cloud)
    assert [(d.status, d.attempts) for d in deliveries] == [("delivered", 1), ("delivered", 1)]
    listed = await cloud.client.get(
        "/api/v1/webhooks", params={"order_id": placed.order_id}, headers=headers
    )
    assert [i["status"] for i in listed.json()["items"]] == ["delivered", "delivered"]
