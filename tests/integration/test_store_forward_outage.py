"""The cloud unreachable or unreliable while devices keep producing: everything acknowledged to a
producer drains once the cloud is back, once each, in production order per device; when the
buffer cap is hit, only telemetry is lost and exactly as much as the gateway reports."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from retailedge.processes import free_port
from tests.integration.cluster import (
    Cloud,
    GatewayProcess,
    cloud_ack_seq,
    cloud_gaps,
    cloud_records,
    start_cloud,
    wait_cloud_ack,
    wait_status,
    wait_until,
)
from tests.integration.faults import Fate, FaultProxy
from tests.integration.producer import Producer, check_delivery, is_business

pytestmark = pytest.mark.integration

OUTAGE_S = float(os.environ.get("RETAILEDGE_OUTAGE_S", "60"))
RATE = 200


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """One cloud for the module: each test has its own gateway id and reads only its rows."""
    cloud = start_cloud(tmp_path_factory.mktemp("cloud"), free_port())
    try:
        yield cloud
    finally:
        asyncio.run(cloud.child.stop(timeout_s=10))


def test_cloud_down_for_a_minute_then_full_drain_in_order(tmp_path: Path, cloud: Cloud) -> None:
    with FaultProxy(cloud.url) as proxy:
        gateway = GatewayProcess.create(tmp_path, cloud, "gw-outage", cloud_url=proxy.url)
        producer = Producer(gateway.local_url, batch_size=20, rate=RATE)
        try:
            gateway.start()
            producer.start()
            producer.wait_acked(200, timeout_s=20)
            wait_cloud_ack(cloud, gateway.gateway_id, 200, gateway.running(), 20)

            proxy.down()
            ack_at_outage = cloud_ack_seq(cloud, gateway.gateway_id)
            produced_at_outage = producer.acked_count()
            time.sleep(OUTAGE_S)
            produced_in_outage = producer.acked_count() - produced_at_outage
            during = wait_status(
                gateway,
                lambda s: s["uplink"]["consecutive_failures"] >= 3,
                10,
                "the uplink to report failures",
            )
            assert cloud_ack_seq(cloud, gateway.gateway_id) == ack_at_outage
            backlog = producer.acked_count() - ack_at_outage
            assert during["buffer"]["records"] >= backlog - RATE * 2  # status is ~1 s old
            assert during["buffer"]["oldest_age_s"] >= OUTAGE_S - 2

            proxy.pass_through()
            time.sleep(1.0)
            log = producer.stop()
            wait_cloud_ack(cloud, gateway.gateway_id, max(log.acked), gateway.running(), 60)
            wait_status(gateway, lambda s: s["buffer"]["records"] == 0, 10, "a drained buffer")
            stored = cloud_records(cloud, gateway.gateway_id)
        finally:
            producer.stop()
            gateway.close()
    delivery = check_delivery(log, stored)
    assert delivery.missing_acked == []
    assert log.transport_errors == 0 and log.statuses.keys() == {200}
    # Nothing unacknowledged: every record produced was stored, once; devices kept producing.
    assert delivery.stored == delivery.acked
    assert produced_in_outage >= RATE * OUTAGE_S * 0.5


def test_flaky_cloud_same_outcome(tmp_path: Path, cloud: Cloud) -> None:
    injected = (Fate.ERROR_BEFORE, Fate.ERROR_AFTER, Fate.HELD_BEFORE, Fate.HELD_AFTER)
    with FaultProxy(cloud.url) as proxy:
        gateway = GatewayProcess.create(
            tmp_path,
            cloud,
            "gw-flaky",
            cloud_url=proxy.url,
            uplink={"request_timeout_s": 0.5, "batch_max_records": 200},
        )
        producer = Producer(gateway.local_url, batch_size=25, rate=1500)
        try:
            gateway.start()
            proxy.flaky(0.3, seed=11)
            producer.start()
            wait_until(
                lambda: all(proxy.fates().get(fate, 0) >= 2 for fate in injected),
                60,
                "the proxy to inject every kind of fault twice",
            )
            proxy.pass_through()
            log = producer.stop()
            wait_cloud_ack(cloud, gateway.gateway_id, max(log.acked), gateway.running(), 60)
            stored = cloud_records(cloud, gateway.gateway_id)
        finally:
            producer.stop()
            gateway.close()
        exchanges = proxy.exchanges()
    delivery = check_delivery(log, stored)
    assert delivery.missing_acked == []
    assert delivery.stored == delivery.acked
    # Batches the cloud committed but the gateway saw fail were sent again and not re-applied.
    committed_unseen = [e for e in exchanges if e.fate in (Fate.ERROR_AFTER, Fate.HELD_AFTER)]
    assert all(e.status == 200 for e in committed_unseen)
    resent = [
        e
        for e in exchanges
        if e.answer is not None
        and isinstance(e.answer.get("duplicates"), int)
        and e.answer["duplicates"] > 0
    ]
    assert resent, "no batch was ever resent after a lost answer"


def test_cap_reached_during_outage_loses_only_reported_telemetry(
    tmp_path: Path, cloud: Cloud
) -> None:
    cap = 400
    produced = 1500  # a fifth of it business: ~300 < cap, so every business record fits
    with FaultProxy(cloud.url) as proxy:
        proxy.down()
        gateway = GatewayProcess.create(
            tmp_path,
            cloud,
            "gw-cap",
            cloud_url=proxy.url,
            uplink={"drain_timeout_s": 0.5},
            buffer={"max_records": cap},
        )
        producer = Producer(gateway.local_url, batch_size=25)
        try:
            gateway.start()
            producer.start()
            producer.wait_acked(produced, timeout_s=30)
            log = producer.stop()
            full = wait_status(
                gateway,
                lambda s: s["buffer"]["records"] + sum(s["evicted"].values()) == len(log.acked),
                10,
                "status.json to account for every record produced",
            )
            assert full["buffer"]["records"] <= cap
            assert full["buffer"]["max_records"] == cap
            # Evictions are counted in the buffer itself: a kill -9 does not reset them.
            gateway.kill()
            gateway.start()
            after_restart = wait_status(
                gateway, lambda s: s["evicted"] == full["evicted"], 10, "persisted evictions"
            )
            assert after_restart["buffer"]["records"] == full["buffer"]["records"]

            proxy.pass_through()
            wait_cloud_ack(cloud, gateway.gateway_id, max(log.acked), gateway.running(), 60)
            stored = cloud_records(cloud, gateway.gateway_id)
            gaps = cloud_gaps(cloud, gateway.gateway_id)
            assert gateway.stop() == 0
        finally:
            producer.stop()
            gateway.close()

    evicted = [seq for seq in sorted(log.acked) if seq not in stored]
    delivery = check_delivery(log, stored, may_miss=evicted)
    assert log.statuses.keys() == {200}, "the cap must not refuse business records that fit"
    business = sorted(seq for seq, r in log.acked.items() if is_business(r))
    assert len(business) == len(log.acked) // 5
    assert all(seq in stored for seq in business)
    assert all(not is_business(log.acked[seq]) for seq in evicted)
    assert Counter(log.acked[seq].kind.value for seq in evicted) == full["evicted"]
    assert len(evicted) == sum(full["evicted"].values()) >= len(log.acked) - cap
    assert gaps == evicted
    assert delivery.stored == len(log.acked) - len(evicted) == full["buffer"]["records"]
    # Oldest first: every surviving telemetry record is younger than every evicted one.
    surviving_telemetry = [seq for seq, r in stored.items() if not is_business(r)]
    assert max(evicted) < min(surviving_telemetry)
