"""The uplink against the real cloud app (in-process, SQLite): a corrupt buffered record is
quarantined on the gateway and becomes a recorded gap in the cloud, everything else arrives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from cloud import Settings, create_app
from cloud.db import Database
from cloud.migrate import upgrade_database
from edge.buffer import Buffer
from edge.config import UplinkSettings
from edge.uplink import Uplink
from tests.cloud.conftest import seed_credentials
from tests.edge.edge_factories import position, scan

SETTINGS = UplinkSettings(interval_s=0.01, backoff_initial_s=0.01, backoff_max_s=0.02)


async def test_a_corrupt_record_is_quarantined_and_the_cloud_records_the_gap(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await upgrade_database(database_url)
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path))
    database: Database = app.state.database
    tokens = await seed_credentials(database)
    outbox = tmp_path / "outbox.db"
    async with Buffer.open(outbox) as buf:
        await buf.append([position(0), scan(1), position(2), position(3), scan(4)])
    with sqlite3.connect(outbox) as db:
        db.execute('UPDATE outbox SET payload = \'{"kind":"position",}\' WHERE seq = 3')

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://cloud") as client,
        Buffer.open(outbox) as buf,
    ):
        uplink = Uplink(
            buf,
            client,
            SETTINGS,
            gateway_id="gw-a",
            cloud_url="http://cloud",
            token=tokens["gw-a"],
            health=lambda: {"probe": True},
        )
        assert await uplink.drain(10.0) is True
        quarantined = await buf.quarantined_records()
        operator = {"Authorization": f"Bearer {tokens['operator']}"}
        stats = (await client.get("/api/v1/stats", headers=operator)).json()
        (gateway,) = [
            g
            for g in (await client.get("/api/v1/gateways", headers=operator)).json()
            if g["id"] == "gw-a"
        ]

    assert [(seq, kind) for seq, kind, _ in quarantined] == [(3, "position")]
    assert quarantined[0][2].startswith("400: invalid_json: ")
    assert uplink.stats.quarantined == 1
    assert uplink.stats.acknowledged == {"position": 2, "scan": 2}
    assert (stats["stored"]["position"], stats["stored"]["scan"]) == (2, 2)
    assert (stats["rejected"], stats["gaps"]) == (0, 1)
    assert (gateway["ack_seq"], gateway["health"]) == (5, {"probe": True})
    assert uplink.stats.clock_skew_s is not None and abs(uplink.stats.clock_skew_s) < 1.0
    with sqlite3.connect(tmp_path / "cloud.db") as db:
        gaps = db.execute("SELECT from_seq, to_seq FROM ingest_gaps").fetchall()
    assert gaps == [(3, 3)]
