"""``retailedge cloud set-password`` and ``retailedge status`` (in-process click runs)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from cloud.cli import cloud_group
from cloud.console.passwords import PasswordHash, verify_password
from cloud.console_models import UserPassword
from cloud.db import Database
from cloud.status_cli import render_status, status_command, table
from tests.cloud.cloud_helpers import Cloud, batch, position, wire
from tests.console.console_helpers import give_password, log_in


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


async def test_status_renders_what_the_console_endpoint_reports(cloud: Cloud) -> None:
    now = datetime.now(UTC)
    body = batch(
        "gw-a",
        1,
        1,
        [wire(position("van-9", 0), 1)],
        health={"buffer": {"records": 12_000, "oldest_age_s": 30.0}, "evicted": {}},
        sent_at=now,
    )
    ingest = await cloud.client.post(
        "/api/v1/ingest", json=body, headers=cloud.auth(cloud.gateway_a)
    )
    assert ingest.status_code == 200, ingest.text
    response = await cloud.client.get("/console/api/status", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200
    text = render_status(response.json())
    lines = text.splitlines()
    assert lines[0].startswith("RetailEdge status at ")
    gateway_a = next(line for line in lines if line.startswith("gw-a "))
    assert gateway_a.split()[:2] == ["gw-a", "yes"] and "12000" in gateway_a.split()
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
