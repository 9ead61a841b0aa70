"""A 5,000-record batch must go through quickly on both backends."""

from __future__ import annotations

import time

from tests.cloud.cloud_helpers import Cloud, batch, positions
from tests.cloud.test_cloud_api import ingest, result


async def test_5000_record_batch_is_fast(cloud: Cloud) -> None:
    body = batch("gw-a", 1, 5000, positions("truck-1", 1, 2500) + positions("truck-2", 2501, 5000))
    started = time.perf_counter()
    outcome = result(await ingest(cloud, body, gzipped=True))
    elapsed = time.perf_counter() - started
    assert outcome == {"ack_seq": 5000, "stored": 5000, "duplicates": 0, "rejected": [], "gaps": []}
    print(f"5000 records in {elapsed:.3f}s = {5000 / elapsed:,.0f} records/s")
    assert elapsed < 5.0
