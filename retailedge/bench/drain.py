"""``retailedge bench drain``: a gateway with a backlog of buffered records drains it to a local
cloud over loopback; both are real processes (``retailedge cloud serve`` on SQLite, ``retailedge
gateway run``). The rate counts the records acknowledged from the first acknowledgement to the
last, so the gateway's start-up is not in it. Afterwards the cloud's database is read to check
every seq is stored exactly once. The gateway is configured as a LAN gateway draining a backlog
would be (``batch_max_records = 20,000``, about 4 MB before gzip: fewer requests, commits and
acks per record; the default of 1,000 suits slow mobile links). The baseline, measured in the
same run, is a bare FastAPI endpoint inserting the same records in 5,000-record JSON batches
into SQLite (see ``bare_ingest``)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cloud.progress import text_bar
from edge.buffer import Buffer
from retailedge.bench.bare_ingest import measure_bare_ingest
from retailedge.bench.workload import telemetry
from retailedge.demo_config import write_gateway_config
from retailedge.processes import (
    Child,
    free_port,
    retailedge_command,
    run_checked,
    start_child,
    wait_for_http,
)

BATCH_RECORDS = 20_000
BASELINE_BATCH_RECORDS = 5000
PREFILL_CHUNK = 20_000
RECORD_TABLES = ("positions", "measurements", "tag_reads", "scans", "alarms")


async def _prefill(path: Path, count: int, progress: Callable[[str], None]) -> None:
    source = telemetry(count)
    async with Buffer.open(path) as buffer:
        done = 0
        while done < count:
            chunk = [next(source) for _ in range(min(PREFILL_CHUNK, count - done))]
            await buffer.append(chunk)
            done += len(chunk)
            if done % 200_000 == 0 or done == count:
                progress(f"buffered {text_bar(done, count)} {done:,} of {count:,} records")


async def _wait_for_ack(
    cloud_url: str,
    api_key: str,
    gateway_id: str,
    target: int,
    gateway: Child,
    progress: Callable[[str], None],
) -> tuple[int, float, float]:
    """Poll the cloud until the ack reaches ``target``: (first ack, its time, end time)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    first: tuple[int, float] | None = None
    last_report = time.monotonic()
    async with httpx.AsyncClient(base_url=cloud_url, headers=headers, timeout=10.0) as client:
        while True:
            gateway.ensure_running()
            gateways = (await client.get("/api/v1/gateways")).json()
            ack = next(int(g["ack_seq"]) for g in gateways if g["id"] == gateway_id)
            now = time.monotonic()
            if first is None and ack > 0:
                first = (ack, now)
            if ack >= target:
                assert first is not None
                return first[0], first[1], now
            if now - last_report > 2:
                progress(f"acknowledged {text_bar(ack, target)} {ack:,} of {target:,}")
                last_report = now
            await asyncio.sleep(0.02)


def _count_stored(database: Path, gateway_id: str, record_count: int) -> tuple[int, int]:
    """(duplicates, missing) among seqs 1..record_count in the cloud's record tables."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = 0
        seqs: set[int] = set()
        for table in RECORD_TABLES:
            for (seq,) in connection.execute(
                f"SELECT seq FROM {table} WHERE gateway_id = ?", (gateway_id,)
            ):
                rows += 1
                seqs.add(int(seq))
    finally:
        connection.close()
    missing = len(set(range(1, record_count + 1)) - seqs)
    return rows - len(seqs), missing


async def _drain(
    folder: Path, record_count: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    cloud_dir = folder / "cloud"
    args = ["--data-dir", str(cloud_dir)]
    run_checked(retailedge_command("cloud", "migrate", *args))
    operator = json.loads(
        run_checked(
            retailedge_command(
                "cloud", "create-user", "--name", "bench", "--role", "operator", "--json", *args
            )
        )
    )
    gateway_id = "bench-gw"
    token = json.loads(
        run_checked(
            retailedge_command("cloud", "create-gateway", "--id", gateway_id, "--json", *args)
        )
    )["token"]
    port = free_port()
    cloud = start_child(
        "cloud",
        retailedge_command("cloud", "serve", "--port", str(port), *args),
        folder / "logs" / "cloud.log",
    )
    url = f"http://127.0.0.1:{port}"
    gateway: Child | None = None
    try:
        await wait_for_http(f"{url}/healthz", cloud)
        gateway_dir = folder / "gateway"
        gateway_dir.mkdir(parents=True)
        await _prefill(gateway_dir / "outbox.db", record_count, progress)
        config = write_gateway_config(
            "warehouse-gateway.toml",
            gateway_dir / "gateway.toml",
            gateway_id=gateway_id,
            data_dir=gateway_dir,
            cloud_url=url,
            token=token,
            serial_port=None,
            overrides={
                "uplink": {
                    "batch_max_records": BATCH_RECORDS,
                    "batch_max_bytes": 16_000_000,
                    "interval_s": 0.01,
                }
            },
        )
        gateway = start_child(
            "gateway",
            retailedge_command("gateway", "run", "--config", str(config)),
            folder / "logs" / "gateway.log",
        )
        progress(f"draining {record_count:,} records to {url}")
        first_ack, first_at, done_at = await _wait_for_ack(
            url, operator["api_key"], gateway_id, record_count, gateway, progress
        )
    finally:
        if gateway is not None:
            await gateway.stop(timeout_s=30)
        await cloud.stop(timeout_s=15)
    duplicates, missing = _count_stored(cloud_dir / "cloud.db", gateway_id, record_count)
    seconds = done_at - first_at
    return {
        "records": record_count,
        "seconds": round(seconds, 3),
        "records_per_s": round((record_count - first_ack) / seconds) if seconds > 0 else None,
        "duplicates": duplicates,
        "missing": missing,
        "batch_records": BATCH_RECORDS,
    }


def run_drain_bench(
    record_count: int, baseline_records: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="retailedge-bench-drain-") as folder:
        result = asyncio.run(_drain(Path(folder), record_count, progress))
        rate = result["records_per_s"]
        drained = "in one batch (no rate)" if rate is None else f"at {rate:,} records/s"
        progress(f"drained {drained}; measuring the bare baseline")
        baseline = measure_bare_ingest(
            Path(folder) / "bare", baseline_records, BASELINE_BATCH_RECORDS
        )
    result["baseline_records_per_s"] = round(baseline)
    result["baseline"] = "bare FastAPI endpoint, 5,000-record JSON batches into SQLite"
    if result["records_per_s"]:
        result["ratio"] = round(result["records_per_s"] / baseline, 3)
    return result
