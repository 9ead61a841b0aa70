"""The InfluxDB telemetry store against a real victoria-metrics (InfluxDB 2 write API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud import Settings, create_app
from cloud.migrate import upgrade_database
from cloud.telemetry import InfluxTelemetryStore
from firmware_bridge.records import Measurement, Quantity, Unit
from tests.cloud.cloud_helpers import Cloud, batch, position, wire
from tests.cloud.conftest import seed_credentials
from tests.cloud.test_cloud_api import ingest, result
from tests.cloud.victoria import Victoria, victoria_metrics

T1 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
MATCH = '{__name__=~"position_lat|position_seq|measurement_value"}'


@pytest.fixture
def victoria(tmp_path: Path) -> Any:
    with victoria_metrics(tmp_path) as server:
        yield server


@pytest.fixture
async def influx_cloud(victoria: Victoria, tmp_path: Path) -> AsyncIterator[Cloud]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await upgrade_database(url)
    settings = Settings(
        database_url=url, data_dir=tmp_path, telemetry_store="influx", influx_url=victoria.url
    )
    app = create_app(settings)
    tokens = await seed_credentials(app.state.database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
            yield Cloud(
                client, app.state.database, tokens["admin"], tokens["operator"],
                tokens["warehouse"], tokens["gw-a"], tokens["gw-b"],
            )  # fmt: skip


def records(first_seq: int, count: int) -> list[dict[str, Any]]:
    """Alternating positions of truck-1 and fridge temperatures, one second apart."""
    out = []
    for seq in range(first_seq, first_seq + count):
        moment = T1 + timedelta(seconds=seq)
        if seq % 2:
            fix = position("truck-1", 0, lat=50 + seq / 1000)
            out.append(wire(type(fix)(**{**_fields(fix), "time": moment}), seq))
        else:
            temp = Measurement("fridge-1", moment, Quantity.TEMPERATURE, seq / 4, Unit.CELSIUS)
            out.append(wire(temp, seq))
    return out


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__ if name != "kind"}


def expected(last_seq: int) -> dict[Any, list[Any]]:
    ms = [int((T1 + timedelta(seconds=seq)).timestamp() * 1000) for seq in range(last_seq + 1)]
    odd = range(1, last_seq + 1, 2)
    even = range(2, last_seq + 1, 2)
    truck = (("device_id", "truck-1"), ("fix_quality", "gps"), ("gateway_id", "gw-a"))
    fridge = (("device_id", "fridge-1"), ("gateway_id", "gw-a"), ("quantity", "temperature"),
              ("unit", "Cel"))  # fmt: skip
    return {
        ("position_lat", truck): [(ms[s], 50 + s / 1000) for s in odd],
        ("position_seq", truck): [(ms[s], s) for s in odd],
        ("measurement_value", fridge): [(ms[s], s / 4) for s in even],
    }


async def telemetry(cloud: Cloud) -> dict[str, Any]:
    response = await cloud.client.get("/api/v1/stats", headers=cloud.auth(cloud.operator))
    body: dict[str, Any] = response.json()["telemetry"]
    return body


async def wait_drained(cloud: Cloud, written: int, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await telemetry(cloud)
        if status["pending_records"] == 0 and status["written_records"] >= written:
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)


async def test_ingest_reaches_victoria_once_even_when_replayed(
    influx_cloud: Cloud, victoria: Victoria
) -> None:
    cloud = influx_cloud
    body = batch("gw-a", 1, 40, records(1, 40))
    assert result(await ingest(cloud, body))["ack_seq"] == 40
    status = await wait_drained(cloud, 40)
    assert (status["store"], status["written_records"], status["write_failures"]) == (
        "influx", 40, 0
    )  # fmt: skip
    assert victoria.export(MATCH) == expected(40)
    stats = (await cloud.client.get("/api/v1/stats", headers=cloud.auth(cloud.admin))).json()
    assert (stats["stored"]["position"], stats["stored"]["measurement"]) == (20, 0)

    # A replayed batch is a duplicate for ingest: nothing new reaches the outbox.
    assert result(await ingest(cloud, body))["duplicates"] == 40
    # A drainer that wrote but crashed before deleting writes the same points again.
    store: InfluxTelemetryStore = cloud.client._transport.app.state.telemetry  # type: ignore[attr-defined]
    from cloud.ingest.envelope import parse_batch
    from cloud.ingest.plan import plan_batch

    plan = plan_batch(parse_batch(body), ack_seq=0)
    async with cloud.database.sessions.begin() as session:
        await store.stage(session, gateway_id="gw-a", rows=plan.rows, now=datetime.now(UTC))
    store.committed()
    await wait_drained(cloud, 80)
    assert victoria.export(MATCH) == expected(40)


async def test_outbox_holds_records_while_victoria_is_down(
    influx_cloud: Cloud, victoria: Victoria
) -> None:
    cloud = influx_cloud
    victoria.stop()
    assert result(await ingest(cloud, batch("gw-a", 1, 30, records(1, 30))))["ack_seq"] == 30
    assert result(await ingest(cloud, batch("gw-a", 31, 60, records(31, 30))))["ack_seq"] == 60
    deadline = time.monotonic() + 10
    while (status := await telemetry(cloud))["write_failures"] < 2:
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)
    assert (status["pending_records"], status["pending_batches"]) == (60, 2)
    assert status["written_records"] == 0
    assert "unreachable" in status["last_error"]
    victoria.start()
    status = await wait_drained(cloud, 60)
    assert (status["consecutive_failures"], status["last_error"]) == (0, None)
    assert victoria.export(MATCH) == expected(60)
