"""A buffer file found corrupt at start-up: the gateway moves it aside (kept byte for byte),
reports it loudly (log and status.json), starts a new buffer and records flow to the cloud again,
with seqs the cloud has not seen yet."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware_bridge.records import Record
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
)
from tests.integration.faults import FaultProxy
from tests.integration.producer import Producer, ProducerLog, record_number

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """One cloud for the module: each test has its own gateway id and reads only its rows."""
    cloud = start_cloud(tmp_path_factory.mktemp("cloud"), free_port())
    try:
        yield cloud
    finally:
        asyncio.run(cloud.child.stop(timeout_s=10))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def overwrite_with_garbage(path: Path) -> None:
    size = path.stat().st_size
    path.write_bytes(random.Random(5).randbytes(size))


def produce(gateway: GatewayProcess, count: int, start_n: int) -> ProducerLog:
    producer = Producer(gateway.local_url, batch_size=25, start_n=start_n).start()
    try:
        producer.wait_acked(count, timeout_s=30)
    finally:
        log = producer.stop()
    assert log.statuses.keys() == {200} and log.transport_errors == 0
    return log


def assert_stored_once(log: ProducerLog, stored: dict[int, Record]) -> None:
    """Each acknowledged record is in the cloud once, at the seq the gateway gave it."""
    by_number: dict[int, tuple[int, Record]] = {}
    for seq, record in stored.items():
        assert record_number(record) not in by_number, f"stored twice: {record}"
        by_number[record_number(record)] = (seq, record)
    for seq, record in log.acked.items():
        assert by_number.get(record_number(record)) == (seq, record)


@pytest.mark.parametrize("damage", [truncate, overwrite_with_garbage], ids=lambda f: f.__name__)
def test_corrupt_buffer_is_moved_aside_reported_and_replaced(
    tmp_path: Path, cloud: Cloud, damage: Callable[[Path], None]
) -> None:
    with FaultProxy(cloud.url) as proxy:
        gateway = GatewayProcess.create(
            tmp_path,
            cloud,
            f"gw-corrupt-{damage.__name__}",
            cloud_url=proxy.url,
            uplink={"drain_timeout_s": 0.5},
        )
        try:
            gateway.start()
            delivered = produce(gateway, 200, start_n=0)
            wait_cloud_ack(cloud, gateway.gateway_id, max(delivered.acked), gateway.running(), 30)
            # Records the cloud never saw stay in the buffer file that is about to be damaged.
            proxy.down()
            stranded = produce(gateway, 300, start_n=10_000)
            assert gateway.stop() == 0
            assert gateway.status()["buffer"]["records"] == len(stranded.acked)
            acked_before = cloud_ack_seq(cloud, gateway.gateway_id)
            assert acked_before == max(delivered.acked)

            damage(gateway.buffer_path)
            corrupt_bytes = gateway.buffer_path.read_bytes()
            proxy.pass_through()
            gateway.start()
            status = wait_status(
                gateway, lambda s: s.get("recovery") is not None, 10, "a recovery report"
            )
            after = produce(gateway, 200, start_n=20_000)
            wait_cloud_ack(cloud, gateway.gateway_id, max(after.acked), gateway.running(), 30)
            stored = cloud_records(cloud, gateway.gateway_id)
            gaps = cloud_gaps(cloud, gateway.gateway_id)
            log_text = gateway.log_text()
            assert gateway.stop() == 0
        finally:
            gateway.close()

    moved = [Path(p) for p in status["recovery"]["moved_aside"]]
    assert moved and moved[0].name.startswith("outbox.db")
    assert moved[0].read_bytes() == corrupt_bytes, "the corrupt file is kept as it was"
    assert all(p.parent == gateway.data_dir for p in moved)
    loud = [
        line
        for line in log_text.splitlines()
        if str(moved[0]) in line and re.search(r"\b(ERROR|CRITICAL|WARNING)\b", line)
    ]
    assert loud, f"no warning/error log line names {moved[0]}"

    assert_stored_once(delivered, stored)
    assert_stored_once(after, stored)
    # The new buffer does not hand out seqs the cloud already holds.
    assert min(after.acked) > acked_before
    lost = [r for r in stranded.acked.values() if r in stored.values()]
    assert lost == [], "records of the damaged file cannot reappear"
    assert len(stored) == len(delivered.acked) + len(after.acked)
    # Their seqs are not reused (the new buffer may skip further ahead): the cloud records every
    # seq between its last ack and the new buffer's first as a gap instead of hiding the loss.
    assert gaps == list(range(acked_before + 1, min(after.acked)))
    assert set(stranded.acked) <= set(gaps)
