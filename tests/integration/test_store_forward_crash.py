"""kill -9 at the worst moments, with real cloud and gateway processes: whatever a producer was
told is durable reaches the cloud exactly once, with its values, in production order per device."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.records import Position, Record
from retailedge.processes import free_port
from tests.integration.cluster import (
    Cloud,
    GatewayProcess,
    cloud_ack_seq,
    cloud_records,
    cloud_track,
    start_cloud,
    wait_cloud_ack,
    wait_status,
    wait_until,
)
from tests.integration.faults import Exchange, Fate, FaultProxy
from tests.integration.producer import VEHICLES, Producer, check_delivery

pytestmark = pytest.mark.integration

PREFIXES = ["a-", "b-"]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """One cloud for the module: each test has its own gateway id and reads only its rows."""
    cloud = start_cloud(tmp_path_factory.mktemp("cloud"), free_port())
    try:
        yield cloud
    finally:
        asyncio.run(cloud.child.stop(timeout_s=10))


def assert_track_matches(cloud: Cloud, stored: dict[int, Record], prefixes: list[str]) -> None:
    """The cloud's track API returns exactly the positions its database holds, per vehicle."""
    for vehicle in [prefix + v for prefix in prefixes for v in VEHICLES]:
        expected = {
            seq: r
            for seq, r in stored.items()
            if isinstance(r, Position) and r.device_id == vehicle
        }
        assert cloud_track(cloud, vehicle) == expected


def finish(gateway: GatewayProcess) -> None:
    """A drained gateway stops cleanly with an empty buffer."""
    wait_status(gateway, lambda s: s["buffer"]["records"] == 0, 10, "an empty buffer")
    assert gateway.stop() == 0, gateway.log_text()[-2000:]
    assert gateway.status()["buffer"]["records"] == 0


def test_kill_9_under_full_load_loses_and_duplicates_nothing_acknowledged(
    tmp_path: Path, cloud: Cloud
) -> None:
    gateway = GatewayProcess.create(tmp_path, cloud, "gw-kill")
    # Two producers at full rate, so commits group requests of both when the kill lands.
    producers = [
        Producer(gateway.local_url, batch_size=50, prefix=prefix, start_n=i * 10_000_000)
        for i, prefix in enumerate(PREFIXES)
    ]
    try:
        gateway.start()
        for producer in producers:
            producer.start()
        for producer in producers:
            producer.wait_acked(1500, timeout_s=30)
        gateway.kill()
        acked_at_kill = [p.acked_count() for p in producers]
        for producer in producers:
            wait_until(lambda p=producer: p.log().transport_errors > 0, 10, "producers to notice")
        gateway.start()
        for producer, acked in zip(producers, acked_at_kill, strict=True):
            producer.wait_acked(acked + 1500, timeout_s=30)
        logs = [producer.stop() for producer in producers]
        last_seq = max(max(log.acked) for log in logs)
        wait_cloud_ack(cloud, gateway.gateway_id, last_seq, gateway.running(), 60)
        stored = cloud_records(cloud, gateway.gateway_id)
        delivery = check_delivery(logs, stored)
        assert delivery.missing_acked == []
        assert_track_matches(cloud, stored, PREFIXES)
        finish(gateway)
    finally:
        for producer in producers:
            producer.stop()
        gateway.close()
    for log in logs:
        assert log.statuses.keys() == {200}
        # The kill cut requests in flight; those may or may not have arrived, never twice.
        assert log.transport_errors >= 1
    assert delivery.acked >= 6000
    assert delivery.stored == delivery.acked + delivery.unacked_stored


def test_kill_9_after_cloud_committed_but_before_the_ack_arrived(
    tmp_path: Path, cloud: Cloud
) -> None:
    dropped: list[Exchange] = []
    with FaultProxy(cloud.url) as proxy:
        gateway = GatewayProcess.create(tmp_path, cloud, "gw-drop", cloud_url=proxy.url)
        producer = Producer(gateway.local_url, batch_size=20, rate=2000)

        def kill_gateway(exchange: Exchange) -> None:
            # Called in the proxy while the gateway waits for this answer: it never gets it.
            gateway.kill()
            dropped.append(exchange)

        try:
            gateway.start()
            producer.start()
            producer.wait_acked(500, timeout_s=30)
            proxy.commit_then_drop(kill_gateway)
            wait_until(lambda: bool(dropped), 20, "the proxy to drop a committed batch")
            lost = dropped[0]
            assert lost.status == 200 and lost.ack_seq == lost.last_seq, lost
            assert lost.first_seq is not None and lost.last_seq is not None
            assert cloud_ack_seq(cloud, gateway.gateway_id) == lost.last_seq
            assert gateway.child is not None
            assert gateway.child.process.returncode == -9
            acked_at_kill = producer.acked_count()

            gateway.start()
            producer.wait_acked(acked_at_kill + 500, timeout_s=30)
            log = producer.stop()
            wait_cloud_ack(cloud, gateway.gateway_id, max(log.acked), gateway.running(), 60)
            stored = cloud_records(cloud, gateway.gateway_id)
            delivery = check_delivery(log, stored)
            assert delivery.missing_acked == []
            assert_track_matches(cloud, stored, [""])
            finish(gateway)
        finally:
            producer.stop()
            gateway.close()
        exchanges = proxy.exchanges()

    # The restarted gateway resent the committed batch from its last ack; the cloud applied none
    # of it again and said so.
    after = exchanges[exchanges.index(lost) + 1 :]
    resent = next(e for e in after if e.forwarded and e.path == "/api/v1/ingest")
    assert resent.first_seq == lost.first_seq
    assert resent.seqs[: len(lost.seqs)] == lost.seqs
    assert resent.status == 200
    assert resent.answer is not None and resent.answer["duplicates"] == len(lost.seqs)
    assert [e.fate for e in exchanges].count(Fate.DROPPED_AFTER_COMMIT) == 1
