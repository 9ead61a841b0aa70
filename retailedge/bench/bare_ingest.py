"""Baseline for ``bench drain``: the least a JSON-over-HTTP ingest can do. A bare FastAPI endpoint
parses a 5,000-record JSON batch and inserts it into SQLite with one executemany per batch; a
client posts the batches one after another over loopback. No auth, no validation, no
idempotency."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path

import httpx
from fastapi import FastAPI, Request

from firmware_bridge.wire import record_to_wire
from retailedge.bench.workload import telemetry
from retailedge.processes import free_port, start_child, wait_for_http

COLUMNS = ("seq", "kind", "device_id", "time", "lat", "lon", "value")


def create_app(database: Path) -> FastAPI:
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, kind TEXT, device_id TEXT, "
        "time TEXT, lat REAL, lon REAL, value REAL)"
    )
    app = FastAPI()

    @app.post("/ingest")
    async def ingest(request: Request) -> dict[str, int]:
        records = json.loads(await request.body())
        rows = [tuple(record.get(column) for column in COLUMNS) for record in records]
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
        return {"stored": len(rows)}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def measure_bare_ingest(folder: Path, record_count: int, batch_records: int) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_child(
        "bare ingest server",
        [sys.executable, "-m", "retailedge.bench.bare_ingest", str(folder / "bare.db"), str(port)],
        folder / "bare.log",
    )
    try:
        asyncio.run(wait_for_http(f"{url}/healthz", server))
        with httpx.Client(base_url=url, timeout=30.0) as client:
            wire = [record_to_wire(r, seq) for seq, r in enumerate(telemetry(record_count), 1)]
            bodies = [
                json.dumps(wire[i : i + batch_records]).encode()
                for i in range(0, len(wire), batch_records)
            ]
            started = time.perf_counter()
            for body in bodies:
                client.post(
                    "/ingest", content=body, headers={"Content-Type": "application/json"}
                ).raise_for_status()
            return record_count / (time.perf_counter() - started)
    finally:
        asyncio.run(server.stop(timeout_s=10))


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        create_app(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning"
    )
