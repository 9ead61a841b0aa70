"""Gateway scans and dock-door tag events, ingested through POST /api/v1/ingest, projected
onto the stock ledger; exceptions for what cannot be applied; re-running changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from cloud.projector import StockProjector
from cloud.services.gateways import create_gateway
from cloud.services.projector import project_pending
from cloud.stock_models import ProjectionCursor
from firmware_bridge.epc_encode import encode_grai96
from firmware_bridge.records import ScanOperation, TagDirection, TagEvent, TagEventType
from tests.cloud.cloud_helpers import T0, Cloud, batch, wire
from tests.cloud.domain_seed import FW_XUHUI, MILK, WATER, WATER_CASE
from tests.cloud.stock.stock_helpers import (
    PALLET_SSCC,
    assert_ledger_balances,
    balance,
    exceptions,
    level,
    movements,
    pallet_epc,
    project,
    scan,
    seeded,
    send,
    water_epc,
)
from tests.cloud.test_cloud_api import ingest, result

R, PUT, PICK, PACK, SHIP, COUNT = (
    ScanOperation.RECEIVE,
    ScanOperation.PUT_AWAY,
    ScanOperation.PICK,
    ScanOperation.PACK,
    ScanOperation.SHIP,
    ScanOperation.COUNT,
)


async def test_every_scan_operation_and_code_kind(cloud: Cloud) -> None:
    network = await seeded(cloud)
    water = network.skus[WATER]["gtin"]
    await send(
        cloud,
        "gw-a",
        1,
        [
            scan(R, f"(01){water}", 10, "A-01-01", 1),
            scan(R, network.skus[WATER_CASE]["gtin"], 1, "DOCK-1", 2),
            scan(R, f"(00){PALLET_SSCC}", 1, "DOCK-1", 3),
            scan(R, water_epc(1), 1, "DOCK-1", 4),
            scan(R, "urn:epc:id:sgtin:6901234.050001.2", 1, "DOCK-1", 5),
            scan(PUT, water, 84, "C-01-01", 6),
            scan(PICK, water, 5, "C-01-01", 7),
            scan(PACK, water, 5, "DOCK-1", 8),
            scan(SHIP, water, 4, "DOCK-1", 9),
            scan(COUNT, network.skus[MILK]["gtin"], 4, "C-01-02", 10),
            scan(R, "6901234599992", 1, "DOCK-1", 11),
            scan(R, water, 1, "Z-99", 12),
            scan(SHIP, water, 1000, "DOCK-1", 13),
            scan(R, "(10)LOT42", 1, "DOCK-1", 14),
        ],
    )
    report = await project(cloud, batch_size=4)
    assert (report.applied, report.ignored, report.exceptions, report.batches) == (10, 0, 4, 4)
    assert await balance(cloud, FW_XUHUI, WATER) == (80, 0, 0, 80)
    assert await balance(cloud, FW_XUHUI, MILK) == (4, 0, 0, 4)
    # Put-away moved the water to the chilled zone of bin C-01-01; milk stays in its default.
    assert (await level(cloud, FW_XUHUI, WATER) or {})["zone_id"] == f"{FW_XUHUI}-chilled"
    booked = [
        (m["idempotency_key"], m["sku_id"], m["kind"], m["delta_on_hand"])
        for m in await movements(cloud, node_id=FW_XUHUI)
    ]
    assert booked == [
        ("scan:gw-a:1", WATER, "receive", 10),
        ("scan:gw-a:2", WATER, "receive", 24),
        (f"scan:gw-a:3:{WATER}", WATER, "receive", 48),
        (f"scan:gw-a:3:{MILK}", MILK, "receive", 6),
        ("scan:gw-a:4", WATER, "receive", 1),
        ("scan:gw-a:5", WATER, "receive", 1),
        ("scan:gw-a:6", WATER, "put_away", 0),
        ("scan:gw-a:7", WATER, "pick", 0),
        ("scan:gw-a:8", WATER, "pack", 0),
        ("scan:gw-a:9", WATER, "ship", -4),
        ("scan:gw-a:10", MILK, "count_adjust", -2),
    ]
    first = (await movements(cloud, node_id=FW_XUHUI))[0]
    assert (first["source"], first["source_ref"], first["actor"]) == ("scan", "scan:gw-a:1", "op-7")
    found = {(e["source_ref"], e["kind"]): e["reason"] for e in await exceptions(cloud)}
    assert found == {
        ("scan:gw-a:11", "unknown_sku"): "no SKU with GTIN 06901234599992",
        ("scan:gw-a:12", "unknown_location"): f"location 'Z-99' does not exist at {FW_XUHUI}",
        ("scan:gw-a:13", "insufficient_stock"): (
            f"ship of 1000 unit(s) of {WATER} at {FW_XUHUI} exceeds what is there"
        ),
        ("scan:gw-a:14", "bad_code"): (
            "code '(10)LOT42': code '(10)LOT42' carries neither a GTIN (01) nor an SSCC (00)"
        ),
    }
    # Running again finds nothing new; replaying from seq 0 changes nothing either.
    assert (await project(cloud)).records == 0
    async with cloud.database.sessions.begin() as session:
        await session.execute(delete(ProjectionCursor))
    again = await project(cloud)
    assert (again.applied, again.replayed, again.exceptions) == (0, 10, 4)
    assert await balance(cloud, FW_XUHUI, WATER) == (80, 0, 0, 80)
    assert len(await movements(cloud)) == len(booked)
    assert len(await exceptions(cloud)) == 4
    await assert_ledger_balances(cloud)


def tag(seq_minute: int, epc: str, direction: TagDirection | None) -> TagEvent:
    time = T0 + timedelta(minutes=seq_minute)
    return TagEvent(
        reader_id="dock-1",
        zone="door-1",
        epc_hex=epc,
        event=TagEventType.PASSED if direction else TagEventType.ARRIVED,
        time=time,
        first_seen=time,
        last_seen=time,
        read_count=12,
        direction=direction,
    )


async def test_dock_door_tag_events_count_each_pass_once(cloud: Cloud) -> None:
    await seeded(cloud)
    IN, OUT = TagDirection.IN, TagDirection.OUT
    grai = encode_grai96("6901234", "00001", 5)
    await send(
        cloud,
        "gw-a",
        1,
        [
            tag(1, water_epc(1), IN),
            tag(2, water_epc(1), IN),  # seen entering again: not a second unit
            tag(3, water_epc(1), OUT),
            tag(4, water_epc(2), IN),
            tag(5, water_epc(3), None),  # arrived at a shelf reader: not a dock pass
            tag(6, pallet_epc(), IN),
            tag(7, pallet_epc(), IN),
            tag(8, grai, IN),
        ],
    )
    report = await project(cloud)
    assert (report.applied, report.ignored, report.exceptions) == (4, 3, 1)
    assert await balance(cloud, FW_XUHUI, WATER) == (49, 0, 0, 49)
    assert await balance(cloud, FW_XUHUI, MILK) == (6, 0, 0, 6)
    booked = [
        (m["idempotency_key"], m["kind"], m["delta_on_hand"], m["source"], m["source_ref"])
        for m in await movements(cloud)
    ]
    assert booked == [
        ("tag:gw-a:1", "rfid_in", 1, "rfid", f"epc:{water_epc(1)}"),
        ("tag:gw-a:3", "rfid_out", -1, "rfid", f"epc:{water_epc(1)}"),
        ("tag:gw-a:4", "rfid_in", 1, "rfid", f"epc:{water_epc(2)}"),
        (f"tag:gw-a:6:{WATER}", "rfid_in", 48, "rfid", f"epc:{pallet_epc()}"),
        (f"tag:gw-a:6:{MILK}", "rfid_in", 6, "rfid", f"epc:{pallet_epc()}"),
    ]
    (problem,) = await exceptions(cloud)
    assert (problem["source_ref"], problem["kind"]) == ("tag:gw-a:8", "bad_code")
    assert problem["raw"]["epc_hex"] == grai
    # A gateway installed at no node: its scans are exceptions, and its cursor moves on.
    async with cloud.database.sessions.begin() as session:
        token = (
            await create_gateway(session=session, gateway_id="gw-loose", now=datetime.now(UTC))
        ).token
    body = batch("gw-loose", 1, 1, [wire(scan(R, water_epc(9), 1, "DOCK-1", 9), 1)])
    assert result(await ingest(cloud, body, token))["ack_seq"] == 1
    loose = await project(cloud)
    assert (loose.applied, loose.exceptions) == (0, 1)
    assert (await exceptions(cloud))[-1]["reason"] == (
        "gateway gw-loose is not installed at any node (node_gateways)"
    )
    assert (await project(cloud)).records == 0
    await assert_ledger_balances(cloud)


async def test_background_projector_and_concurrent_passes_apply_once(cloud: Cloud) -> None:
    network = await seeded(cloud)
    water = network.skus[WATER]["gtin"]
    await send(cloud, "gw-a", 1, [scan(R, water, 1, "A-01-01", i) for i in range(30)])
    # Two passes at once (two API replicas): every record is applied exactly once.
    first, second = await asyncio.gather(
        project_pending(cloud.database, batch_size=10),
        project_pending(cloud.database, batch_size=10),
    )
    assert first.applied + second.applied == 30
    assert await balance(cloud, FW_XUHUI, WATER) == (30, 0, 0, 30)
    # The app's background task picks up what arrives later, and stops cleanly.
    projector = StockProjector(cloud.database, interval_s=0.05)
    await projector.start()
    try:
        await send(cloud, "gw-a", 31, [scan(SHIP, water, 4, "DOCK-1", 31)])
        for _ in range(200):
            if await balance(cloud, FW_XUHUI, WATER) == (26, 0, 0, 26):
                break
            await asyncio.sleep(0.05)
    finally:
        await projector.stop()
    assert await balance(cloud, FW_XUHUI, WATER) == (26, 0, 0, 26)
    await assert_ledger_balances(cloud)
