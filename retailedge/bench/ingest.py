"""``retailedge bench ingest``: records per second into the gateway's durable buffer through the
real pipeline (producers awaiting ``Pipeline.put``, answered only once their records are
committed), against raw ``sqlite3.executemany`` of the same rows into the same schema with the
same durability settings and the same rows per transaction: there are as many producers as
it takes to have ``rows_per_transaction`` records in flight, which is the most one group
commit can hold. Both run in this process, alternately, ``repeat`` times; medians count."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.buffer import Buffer, record_source, serialize_payload
from edge.eviction import evictable_flag
from edge.pipeline import Pipeline
from firmware_bridge.records import Record
from retailedge.bench.progress import Progress, ProgressBar
from retailedge.bench.stats import median, percentile
from retailedge.bench.workload import telemetry

PRODUCERS = 32
RECORDS_PER_PUT = 50


@dataclass(frozen=True)
class IngestRun:
    records_per_s: float
    commit_latencies_s: list[float]


async def _pipeline_run(
    path: Path, records: Sequence[Record], producers: int, bar: ProgressBar
) -> IngestRun:
    chunks = [records[i : i + RECORDS_PER_PUT] for i in range(0, len(records), RECORDS_PER_PUT)]
    latencies: list[float] = []
    written = 0
    async with Buffer.open(path) as buffer:
        pipeline = Pipeline(buffer)
        runner = asyncio.create_task(pipeline.run())
        next_chunk = iter(chunks)

        async def producer() -> None:
            nonlocal written
            for chunk in next_chunk:
                began = time.perf_counter()
                await pipeline.put(chunk)
                latencies.append(time.perf_counter() - began)
                written += len(chunk)
                bar.update(written)

        started = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(producers)))
        elapsed = time.perf_counter() - started
        bar.finish()
        pipeline.stop()
        await runner
        stored = (await buffer.stats()).records
    if stored != len(records):
        raise RuntimeError(f"pipeline stored {stored} of {len(records)} records")
    return IngestRun(len(records) / elapsed, latencies)


def _baseline_run(
    path: Path, records: Sequence[Record], rows_per_transaction: int, bar: ProgressBar
) -> float:
    asyncio.run(_create_schema(path))
    # Exactly the row the pipeline stores, eviction flag included (it feeds a partial index).
    rows = [
        (
            seq,
            record.kind.value,
            record_source(record),
            time.time(),
            serialize_payload(record),
            evictable_flag(record.kind.value),
        )
        for seq, record in enumerate(records, start=1)
    ]
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        started = time.perf_counter()
        for start in range(0, len(rows), rows_per_transaction):
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO outbox (seq, kind, device_id, created_at, payload, evictable) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows[start : start + rows_per_transaction],
            )
            connection.execute("COMMIT")
            bar.update(min(len(rows), start + rows_per_transaction))
        elapsed = time.perf_counter() - started
        bar.finish()
    finally:
        connection.close()
    return len(rows) / elapsed


async def _create_schema(path: Path) -> None:
    async with Buffer.open(path):
        pass


def run_ingest_bench(
    record_count: int, repeat: int, rows_per_transaction: int, progress: Progress
) -> dict[str, Any]:
    records = list(telemetry(record_count))
    producers = max(1, rows_per_transaction // RECORDS_PER_PUT)
    ours: list[IngestRun] = []
    baseline: list[float] = []
    with tempfile.TemporaryDirectory(prefix="retailedge-bench-ingest-") as folder:
        for attempt in range(1, repeat + 1):
            run = f"run {attempt}/{repeat}"
            bar = ProgressBar(progress, f"{run}: pipeline", record_count, "records written")
            ours.append(
                asyncio.run(
                    _pipeline_run(Path(folder) / f"ours-{attempt}.db", records, producers, bar)
                )
            )
            base = Path(folder) / f"baseline-{attempt}.db"
            bar = ProgressBar(progress, f"{run}: raw executemany", record_count, "records written")
            baseline.append(_baseline_run(base, records, rows_per_transaction, bar))
            progress(
                f"run {attempt}/{repeat}: pipeline {ours[-1].records_per_s:,.0f} records/s, "
                f"raw executemany {baseline[-1]:,.0f} records/s"
            )
    records_per_s = median([run.records_per_s for run in ours])
    baseline_per_s = median(baseline)
    p99_ms = median([percentile(run.commit_latencies_s, 0.99) * 1000 for run in ours])
    return {
        "records_per_s": round(records_per_s),
        "baseline_records_per_s": round(baseline_per_s),
        "ratio": round(records_per_s / baseline_per_s, 3),
        "p99_commit_ms": round(p99_ms, 2),
        "records": record_count,
        "repeat": repeat,
        "producers": producers,
        "records_per_put": RECORDS_PER_PUT,
        "baseline_rows_per_transaction": rows_per_transaction,
    }
