"""``retailedge cloud set-password`` and ``retailedge status`` (in-process click runs)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cloud.cli import cloud_group
from cloud.console.passwords import PasswordHash, verify_password
from cloud.console_models import UserPassword
from cloud.db import Database
from cloud.status_cli import config_cell, connectors_cell, render_status, status_command, table
from tests.cloud.cloud_helpers import Cloud, batch, position, wire
from tests.console.console_helpers import give_password, log_in
from tests.console.edge_health import gps_snapshots, health


def test_set_password_from_stdin_stores_a_salted_scrypt_hash(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path)]
    created = runner.invoke(
        cloud_group, ["create-user", "--name", "ops", "--role", "operator", *args]
    )
    assert created.exit_code == 0, created.output
    weak = runner.invoke(
        cloud_group, ["set-password", "--name", "ops", "--password-stdin", *args], input="short\n"
    )
    assert weak.exit_code == 2 and "password: use at least 10 characters" in weak.output
    unknown = runner.invoke(
        cloud_group,
        ["set-password", "--name", "ghost", "--password-stdin", *args],
        input="long enough password\n",
    )
    assert unknown.exit_code == 1 and "no user 'ghost'" in unknown.output
    done = runner.invoke(
        cloud_group,
        ["set-password", "--name", "ops", "--password-stdin", *args],
        input="long enough password\n",
    )
    assert done.exit_code == 0 and done.output == "console password set for ops\n"
    prompted = runner.invoke(
        cloud_group,
        ["set-password", "--name", "ops", *args],
        input="another long password\nanother long password\n",
    )
    assert prompted.exit_code == 0, prompted.output

    async def stored() -> PasswordHash:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}")
        try:
            async with database.sessions() as session:
                row = await session.get(UserPassword, "ops")
                assert row is not None
                return PasswordHash(row.salt_hex, row.hash_hex, row.params)
        finally:
            await database.dispose()

    hashed = asyncio.run(stored())
    assert "another long password" not in hashed.hash_hex
    assert verify_password("another long password", hashed)
    assert not verify_password("long enough password", hashed)


def test_table_aligns_columns_and_marks_missing_values() -> None:
    assert table(["a", "long header"], [("x", None), ("wider", 3)]).splitlines() == [
        "a      long header",
        "-----  -----------",
        "x      -",
        "wider  3",
    ]


async def test_status_renders_what_the_console_endpoint_reports(
    cloud: Cloud, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    config = await cloud.client.put(
        "/api/v1/gateways/gw-a/config",
        json={"coldchain": [{"zone": "chiller-1", "devices": ["probe-1"], "max_c": 4.0}]},
        headers=cloud.auth(cloud.admin),
    )
    assert config.status_code == 200, config.text
    # The health a real gateway sends: its connectors' own snapshots, a buffer over 10,000.
    document = health(
        "gw-a", records=12_000, oldest_age_s=30.0, connectors=await gps_snapshots(tmp_path)
    )
    body = batch("gw-a", 1, 1, [wire(position("van-9", 0), 1)], health=document, sent_at=now)
    ingest = await cloud.client.post(
        "/api/v1/ingest", json=body, headers=cloud.auth(cloud.gateway_a)
    )
    assert ingest.status_code == 200, ingest.text
    response = await cloud.client.get("/console/api/status", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200
    text = render_status(response.json())
    lines = text.splitlines()
    assert lines[0].startswith("RetailEdge status at ")
    header = next(line for line in lines if line.startswith("gateway "))
    assert header.split()[-3:] == ["uplink", "connectors", "config"]
    gateway_a = next(line for line in lines if line.startswith("gw-a "))
    assert gateway_a.split()[:2] == ["gw-a", "yes"] and "12000" in gateway_a.split()
    assert gateway_a.endswith("connected  gps:connected, gps-spare:starting  1")
    gateway_b = next(line for line in lines if line.startswith("gw-b "))
    assert gateway_b.split()[1] == "NO"
    gateways = {g["id"]: g for g in response.json()["gateways"]}
    assert (gateways["gw-a"]["ack_seq"], gateways["gw-a"]["buffer_records"]) == (1, 12_000)
    assert gateways["gw-b"]["online"] is False and gateways["gw-b"]["ack_seq"] == 0
    assert any(line.startswith("van-9 ") and "52.52000,13.40500" in line for line in lines)
    backlog = next(line for line in lines if "gateway_backlog" in line)
    assert backlog.split()[:3] == ["warning", "gateway_backlog", "gw-a"]
    assert "Orders by status" in text
    await give_password(cloud.database, "operator")
    await log_in(cloud.client, "operator")
    cookie_status = await cloud.client.get("/console/api/status")
    assert cookie_status.status_code == 200


def test_status_says_what_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(status_command, [], env={"RETAILEDGE_API_KEY": None})
    assert missing.exit_code == 2 and "--api-key" in missing.output
    down = runner.invoke(
        status_command, ["--cloud-url", "http://127.0.0.1:9", "--api-key", "rku_x"]
    )
    assert down.exit_code == 1 and "cloud at http://127.0.0.1:9 not reachable" in down.output


def _vehicle(number: int, speed_mps: float | None, seen_s_ago: float) -> dict[str, Any]:
    return {
        "id": f"van-{number:04d}",
        "kind": "vehicle",
        "lat": 31.2,
        "lon": 121.4,
        "speed_mps": speed_mps,
        "course_deg": None,
        "last_seen": (NOW - timedelta(seconds=seen_s_ago)).isoformat(),
        "courier_id": None,
    }


NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _fleet_status(vehicles: list[dict[str, Any]], alarms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "generated_at": NOW.isoformat(),
        "gateways": [],
        "vehicles": vehicles,
        "alarms": alarms,
        "orders_by_status": {},
    }


def test_a_big_fleet_shows_alarmed_then_recent_vehicles_and_sums_up_the_rest() -> None:
    # 900 moving (van-0000..0899), 80 stopped, 20 with no speed; van-0500 was seen longest ago.
    vehicles = [_vehicle(n, 8.0, n + 1) for n in range(900)]
    vehicles += [_vehicle(n, 0.2, n + 1) for n in range(900, 980)]
    vehicles += [_vehicle(n, None, n + 1) for n in range(980, 1000)]
    vehicles[500]["last_seen"] = (NOW - timedelta(hours=3)).isoformat()
    alarm = {
        "severity": "critical",
        "kind": "cold_chain",
        "subject": "van-0500",
        "state": "open",
        "message": "chiller above 8 °C",
    }
    lines = render_status(_fleet_status(vehicles, [alarm]), vehicles_shown=20).splitlines()

    assert "Vehicles (1000)" in lines
    rows = lines[lines.index("Vehicles (1000)") + 3 :]
    shown = [row.split()[0] for row in rows[:20]]
    assert shown == ["van-0500", *(f"van-{n:04d}" for n in range(19))]
    assert rows[20] == "… and 980 more (moving 880, stopped 80, no speed 20)"
    assert rows[21] == ""  # then the alarms table

    everything = render_status(_fleet_status(vehicles[:5], []), vehicles_shown=20)
    assert "more (" not in everything
    none_shown = render_status(_fleet_status(vehicles[900:985], []), vehicles_shown=0)
    assert "… and 85 more (moving 0, stopped 80, no speed 5)" in none_shown.splitlines()


def test_connector_and_config_cells() -> None:
    assert connectors_cell({}) is None
    assert connectors_cell({"b": "error", "a": "connected"}) == "a:connected, b:error"
    many = {f"ble-{n}": "listening" for n in range(5)}
    assert connectors_cell(many) == "ble-0:listening, ble-1:listening, ble-2:listening +2 more"
    assert config_cell(None, None) is None
    assert config_cell("3", None) == "3"
    assert config_cell("3", 3) == "3"
    assert config_cell("3", 2) == "3 (runs 2)"
    assert config_cell(None, 1) == "runs 1"


def test_status_refuses_a_negative_vehicle_count() -> None:
    runner = CliRunner()
    refused = runner.invoke(status_command, ["--api-key", "rku_x", "--vehicles", "-1"])
    assert refused.exit_code == 2 and "--vehicles" in refused.output
