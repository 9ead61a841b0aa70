"""A real cold-chain alarm record, ingested through POST /api/v1/ingest, opens a hold on the
chilled stock of its zone; release and write-off happen once; counts report shortfalls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.services.stock_ledger import MovementSpec, apply_movement
from cloud.stock_rules import MovementKind, Source, delta_for, fingerprint
from firmware_bridge.records import Alarm, Severity
from tests.cloud.cloud_helpers import T0, Cloud
from tests.cloud.domain_seed import DUMPLINGS, FW_XUHUI, MILK, WATER
from tests.cloud.stock.stock_helpers import (
    assert_ledger_balances,
    balance,
    exceptions,
    movements,
    post_movement,
    project,
    receive,
    seeded,
    send,
)

YOGURT = "sku-yogurt-4"


def excursion(zone: str, device: str, *, ended: bool = False) -> Alarm:
    evidence = {
        "zone": zone,
        "device": device,
        "band": {"min_c": 0.0, "max_c": 4.0, "tolerance_s": 600.0},
        "first_out": {"time": "2025-03-01T08:00:00Z", "value_c": 6.5},
        "last_out": {"time": "2025-03-01T08:10:00Z", "value_c": 7.0},
        "peak": {"time": "2025-03-01T08:10:00Z", "value_c": 7.0},
    }
    return Alarm(
        rule="coldchain.excursion",
        subject=f"{zone}/{device}",
        severity=Severity.CRITICAL,
        started_at=T0,
        ended_at=T0 + timedelta(minutes=30) if ended else None,
        evidence=evidence,
    )


async def reserve(cloud: Cloud, sku_id: str, quantity: int) -> None:
    """Reserve like order allocation does: a ``reserve`` movement through the ledger."""
    spec = MovementSpec(
        key=f"order:o-1:reserve:{FW_XUHUI}:{sku_id}",
        fingerprint=fingerprint({"order": "o-1", "quantity": quantity}),
        node_id=FW_XUHUI,
        sku_id=sku_id,
        kind=MovementKind.RESERVE,
        source=Source.ORDER,
        source_ref="o-1",
        actor="allocation",
    )
    async with cloud.database.sessions.begin() as session:
        await apply_movement(
            session,
            spec=spec,
            delta=delta_for(MovementKind.RESERVE, quantity),
            now=datetime.now(UTC),
        )


async def close(cloud: Cloud, hold_id: int, action: str, comment: Any, token: str = "") -> Any:
    return await cloud.client.post(
        f"/api/v1/holds/{hold_id}/{action}",
        json={"comment": comment},
        headers=cloud.auth(token or cloud.operator),
    )


async def test_alarm_hold_release_write_off_and_shortfall(cloud: Cloud) -> None:
    await seeded(cloud)
    for sku_id, quantity in ((MILK, 10), (YOGURT, 4), (WATER, 5), (DUMPLINGS, 3)):
        await receive(cloud, FW_XUHUI, sku_id, quantity, f"in-{sku_id}")
    await reserve(cloud, MILK, 2)
    silence = Alarm("coldchain.silence", "chiller/fridge-1", Severity.WARNING, T0, None, {})
    await send(
        cloud,
        "gw-a",
        1,
        [
            excursion("chiller", "fridge-1"),
            silence,
            excursion("chiller", "fridge-1", ended=True),
            excursion("cellar", "probe-9"),
        ],
    )
    report = await project(cloud)
    assert (report.applied, report.ignored, report.exceptions) == (1, 2, 1)
    # Only what was available went on hold; the 2 reserved units stay promised.
    assert await balance(cloud, FW_XUHUI, MILK) == (10, 2, 8, 0)
    assert await balance(cloud, FW_XUHUI, YOGURT) == (4, 0, 4, 0)
    assert await balance(cloud, FW_XUHUI, WATER) == (5, 0, 0, 5)
    assert await balance(cloud, FW_XUHUI, DUMPLINGS) == (3, 0, 0, 3)
    held = await cloud.client.get(
        "/api/v1/holds", params={"status": "held"}, headers=cloud.auth(cloud.operator)
    )
    (hold,) = held.json()
    assert (hold["node_id"], hold["zone_id"], hold["status"], hold["alarm_ref"]) == (
        FW_XUHUI,
        f"{FW_XUHUI}-chilled",
        "held",
        "gw-a:1",
    )
    assert hold["lines"] == [{"sku_id": MILK, "quantity": 8}, {"sku_id": YOGURT, "quantity": 4}]
    alarm = hold["evidence"]["alarm"]
    assert (alarm["rule"], alarm["subject"], alarm["seq"]) == (
        "coldchain.excursion",
        "chiller/fridge-1",
        1,
    )
    assert alarm["evidence"]["peak"]["value_c"] == 7.0
    (unmapped,) = await exceptions(cloud)
    assert (unmapped["source_ref"], unmapped["kind"]) == ("alarm:gw-a:4", "unknown_zone")

    # Closing needs a comment, operator or admin, and happens once.
    assert (await close(cloud, hold["id"], "release", "  ")).status_code == 422
    refused = await close(cloud, hold["id"], "release", "ok", cloud.warehouse)
    assert refused.status_code == 403
    released = await close(cloud, hold["id"], "release", "probe re-seated, goods at 3 °C")
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["closed_by"]) == ("released", "operator")
    assert released.json()["comment"] == "probe re-seated, goods at 3 °C"
    assert await balance(cloud, FW_XUHUI, MILK) == (10, 2, 0, 8)
    assert await balance(cloud, FW_XUHUI, YOGURT) == (4, 0, 0, 4)
    for action in ("release", "write-off"):
        again = await close(cloud, hold["id"], action, "again")
        assert again.status_code == 409
        assert again.json()["error"]["message"] == (
            f"hold {hold['id']} is already released; nothing was changed"
        )
    assert (await close(cloud, 999, "release", "x")).status_code == 404

    # A freezer alarm holds the dumplings; writing them off takes them out of on-hand.
    await send(cloud, "gw-a", 5, [excursion("freezer", "freezer-1")])
    assert (await project(cloud)).applied == 1
    assert await balance(cloud, FW_XUHUI, DUMPLINGS) == (3, 0, 3, 0)
    frozen = (
        await cloud.client.get(
            "/api/v1/holds", params={"status": "held"}, headers=cloud.auth(cloud.admin)
        )
    ).json()[0]
    written = await close(cloud, frozen["id"], "write-off", "thawed overnight", cloud.admin)
    assert written.json()["status"] == "written_off"
    assert await balance(cloud, FW_XUHUI, DUMPLINGS) == (0, 0, 0, 0)
    assert (await close(cloud, frozen["id"], "write-off", "again")).status_code == 409
    assert await balance(cloud, FW_XUHUI, DUMPLINGS) == (0, 0, 0, 0)
    hold_moves = [
        (m["kind"], m["sku_id"], m["delta_on_hand"], m["delta_on_hold"], m["source"])
        for m in await movements(cloud)
        if m["source"] == "coldchain"
    ]
    assert hold_moves == [
        ("hold", MILK, 0, 8, "coldchain"),
        ("hold", YOGURT, 0, 4, "coldchain"),
        ("unhold", MILK, 0, -8, "coldchain"),
        ("unhold", YOGURT, 0, -4, "coldchain"),
        ("hold", DUMPLINGS, 0, 3, "coldchain"),
        ("write_off", DUMPLINGS, -3, -3, "coldchain"),
    ]
    all_holds = await cloud.client.get("/api/v1/holds", headers=cloud.auth(cloud.admin))
    assert [h["status"] for h in all_holds.json()] == ["released", "written_off"]

    # A count below the reservations keeps them and reports the shortfall.
    count = {"node_id": FW_XUHUI, "sku_id": MILK, "kind": "count", "quantity": 1}
    counted = await post_movement(cloud, count, key="count-milk")
    assert counted.json()["delta_on_hand"] == -9
    assert await balance(cloud, FW_XUHUI, MILK) == (1, 2, 0, -1)
    shortfall = (await exceptions(cloud))[-1]
    assert (shortfall["kind"], shortfall["source_ref"]) == (
        "shortfall",
        "shortfall:manual:count-milk",
    )
    assert shortfall["reason"] == (
        f"reservations exceed counted stock: {MILK} at {FW_XUHUI} is 1 unit(s) short of its "
        "reservations and holds"
    )
    await assert_ledger_balances(cloud)
