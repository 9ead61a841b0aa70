"""A unit that leaves through an RFID dock door for an order leaves on-hand once, whichever of
the door's tag event (through ingest and the projector) and the order's dispatch (through the
status API or the rider app) is booked first; replays change nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from cloud import Settings, create_app
from cloud.services.outbound_match import match_window
from cloud.stock_models import EpcState, OutboundMatch, OutboundOpen, ProjectionCursor
from firmware_bridge.epc_encode import encode_sgtin96
from firmware_bridge.records import Record, TagDirection, TagEvent, TagEventType
from tests.cloud.allocation.helpers import OPEN_HOURS, assert_ledger_balances, set_clock
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import FW_XUHUI, WATER
from tests.cloud.fleet.fleet_helpers import add_courier, courier_body, rider_step, run_dispatch
from tests.cloud.orders_lifecycle.lifecycle_helpers import (
    place_app_order,
    seeded_with_stock,
    set_status,
)
from tests.cloud.stock.stock_helpers import (
    WATER_PREFIX,
    balance,
    movements,
    project,
    send,
    water_epc,
)

# The seed's case of 24 waters (GTIN-14 indicator 1 on the water's item reference).
WATER_CASE_EPC = encode_sgtin96(WATER_PREFIX, "150001", 1)
RECEIVED = f"manual:test-receive:{FW_XUHUI}:{WATER}:10"


def door_out(epc: str, minutes: float) -> TagEvent:
    """``epc`` leaving through the dock door ``minutes`` after OPEN_HOURS (the orders are
    placed then; a dispatch is at OPEN_HOURS unless the test moves the clock)."""
    time = OPEN_HOURS + timedelta(minutes=minutes)
    return TagEvent(
        reader_id="dock-1",
        zone="door-1",
        epc_hex=epc,
        event=TagEventType.PASSED,
        time=time,
        first_seen=time,
        last_seen=time,
        read_count=9,
        direction=TagDirection.OUT,
    )


async def dispatch(cloud: Cloud, order_id: str) -> None:
    for status in ("picking", "packed", "dispatched"):
        response = await set_status(cloud, cloud.warehouse, order_id, status)
        assert response.status_code == 200, response.text


Booked = tuple[str, str, int, int, str | None]


async def water_movements(cloud: Cloud) -> list[Booked]:
    """(key, kind, Δon_hand, Δreserved, note) of the water at Xuhui, oldest first."""
    return [
        (m["idempotency_key"], m["kind"], m["delta_on_hand"], m["delta_reserved"], m["note"])
        for m in await movements(cloud, node_id=FW_XUHUI, sku_id=WATER)
    ]


async def movement_ids(cloud: Cloud) -> dict[str, int]:
    return {m["idempotency_key"]: m["id"] for m in await movements(cloud, node_id=FW_XUHUI)}


async def outbound(cloud: Cloud) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(matches as (door movement, order movement, order, quantity), open units as
    (movement, side, order, quantity, open quantity)), in id order."""
    async with cloud.database.sessions() as session:
        matches = (
            await session.execute(
                select(
                    OutboundMatch.door_movement_id,
                    OutboundMatch.order_movement_id,
                    OutboundMatch.order_id,
                    OutboundMatch.quantity,
                ).order_by(OutboundMatch.door_movement_id, OutboundMatch.order_movement_id)
            )
        ).all()
        opened = (
            await session.execute(
                select(
                    OutboundOpen.movement_id,
                    OutboundOpen.side,
                    OutboundOpen.order_id,
                    OutboundOpen.quantity,
                    OutboundOpen.open_quantity,
                ).order_by(OutboundOpen.movement_id)
            )
        ).all()
    return [tuple(row) for row in matches], [tuple(row) for row in opened]


def reserve_key(order_id: str) -> str:
    return f"order:{order_id}:reserve:{FW_XUHUI}:{WATER}"


def consume_key(order_id: str) -> str:
    return f"order:{order_id}:consume:{FW_XUHUI}:{WATER}"


async def test_dispatch_then_door_takes_the_units_off_once(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    order = (await place_app_order(cloud, network, "APP-RF1", [(WATER, 3)])).order_id
    assert await balance(cloud, FW_XUHUI, WATER) == (10, 3, 0, 7)
    await dispatch(cloud, order)
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 0, 0, 7)
    await send(cloud, "gw-a", 1, [door_out(water_epc(n), 4) for n in (1, 2, 3)])
    report = await project(cloud)
    assert (report.applied, report.exceptions) == (3, 0)
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 0, 0, 7)
    ids = await movement_ids(cloud)
    consume = ids[consume_key(order)]
    matched = f"door-1 out; 1 for order {order} (consume #{consume})"
    assert await water_movements(cloud) == [
        (RECEIVED, "receive", 10, 0, None),
        (reserve_key(order), "reserve", 0, 3, None),
        (consume_key(order), "consume", -3, -3, None),
        ("tag:gw-a:1", "rfid_out_matched", 0, 0, matched),
        ("tag:gw-a:2", "rfid_out_matched", 0, 0, matched),
        ("tag:gw-a:3", "rfid_out_matched", 0, 0, matched),
    ]
    doors = [ids[f"tag:gw-a:{seq}"] for seq in (1, 2, 3)]
    assert await outbound(cloud) == (
        [(door, consume, order, 1) for door in doors],
        [(consume, "order", order, 3, 0)],
    )
    await assert_ledger_balances(cloud.database)


async def test_door_then_dispatch_ends_with_the_same_balance(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    order = (await place_app_order(cloud, network, "APP-RF2", [(WATER, 3)])).order_id
    await send(cloud, "gw-a", 1, [door_out(water_epc(n), 4) for n in (1, 2, 3)])
    assert (await project(cloud)).applied == 3
    # Which order the units are for is not known yet: they leave on-hand, the order keeps
    # its reservation.
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 3, 0, 4)
    set_clock(cloud, OPEN_HOURS + timedelta(minutes=10))
    await dispatch(cloud, order)
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 0, 0, 7)
    ids = await movement_ids(cloud)
    doors = [ids[f"tag:gw-a:{seq}"] for seq in (1, 2, 3)]
    consume = ids[consume_key(order)]
    note = (
        f"3 unit(s) already booked out by the dock door (movement #{doors[0]}, #{doors[1]}, "
        f"#{doors[2]}): reserved only"
    )
    assert await water_movements(cloud) == [
        (RECEIVED, "receive", 10, 0, None),
        (reserve_key(order), "reserve", 0, 3, None),
        ("tag:gw-a:1", "rfid_out", -1, 0, "door-1 out"),
        ("tag:gw-a:2", "rfid_out", -1, 0, "door-1 out"),
        ("tag:gw-a:3", "rfid_out", -1, 0, "door-1 out"),
        (consume_key(order), "consume", 0, -3, note),
    ]
    assert await outbound(cloud) == (
        [(door, consume, order, 1) for door in doors],
        [(door, "door", None, 1, 0) for door in doors],
    )
    await assert_ledger_balances(cloud.database)


async def test_a_door_out_without_an_order_in_the_window_takes_its_unit(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    order = (await place_app_order(cloud, network, "APP-RF3", [(WATER, 2)])).order_id
    # One unit out 40 minutes before the dispatch (outside the default 30-minute window)...
    await send(cloud, "gw-a", 1, [door_out(water_epc(1), 1)])
    assert (await project(cloud)).applied == 1
    assert await balance(cloud, FW_XUHUI, WATER) == (9, 2, 0, 7)
    set_clock(cloud, OPEN_HOURS + timedelta(minutes=41))
    await dispatch(cloud, order)
    # ...does not count for the order: the dispatch takes its own two units.
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 0, 0, 7)
    # And a unit out 31 minutes after it is non-order outbound too.
    await send(cloud, "gw-a", 2, [door_out(water_epc(2), 72)])
    assert (await project(cloud)).applied == 1
    assert await balance(cloud, FW_XUHUI, WATER) == (6, 0, 0, 6)
    ids = await movement_ids(cloud)
    assert await water_movements(cloud) == [
        (RECEIVED, "receive", 10, 0, None),
        (reserve_key(order), "reserve", 0, 2, None),
        ("tag:gw-a:1", "rfid_out", -1, 0, "door-1 out"),
        (consume_key(order), "consume", -2, -2, None),
        ("tag:gw-a:2", "rfid_out", -1, 0, "door-1 out"),
    ]
    assert await outbound(cloud) == (
        [],
        [
            (ids["tag:gw-a:1"], "door", None, 1, 1),
            (ids[consume_key(order)], "order", order, 2, 2),
            (ids["tag:gw-a:2"], "door", None, 1, 1),
        ],
    )
    await assert_ledger_balances(cloud.database)


async def test_replayed_tag_events_and_dispatch_change_nothing(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    first = (await place_app_order(cloud, network, "APP-RF4", [(WATER, 2)])).order_id
    await dispatch(cloud, first)
    await send(cloud, "gw-a", 1, [door_out(water_epc(1), 2), door_out(water_epc(2), 2)])
    await project(cloud)
    # Two hours later, the second order's units pass the door before it is dispatched.
    set_clock(cloud, OPEN_HOURS + timedelta(hours=2))
    second = (await place_app_order(cloud, network, "APP-RF5", [(WATER, 2)])).order_id
    await send(cloud, "gw-a", 3, [door_out(water_epc(3), 121), door_out(water_epc(4), 121)])
    await project(cloud)
    set_clock(cloud, OPEN_HOURS + timedelta(hours=2, minutes=5))
    await dispatch(cloud, second)
    expected = (6, 0, 0, 6)
    assert await balance(cloud, FW_XUHUI, WATER) == expected
    booked, links = await water_movements(cloud), await outbound(cloud)
    assert [kind for _, kind, *_ in booked] == [
        "receive",
        "reserve",
        "consume",
        "rfid_out_matched",
        "rfid_out_matched",
        "reserve",
        "rfid_out",
        "rfid_out",
        "consume",
    ]
    assert [(order, quantity) for *_, order, quantity in links[0]] == [
        (first, 1),
        (first, 1),
        (second, 1),
        (second, 1),
    ]
    # The same tag events again (the projector's cursor and the tags' door states lost)...
    async with cloud.database.sessions.begin() as session:
        await session.execute(delete(ProjectionCursor))
        await session.execute(delete(EpcState))
    report = await project(cloud)
    assert (report.applied, report.replayed, report.exceptions) == (0, 4, 0)
    # ...and the same dispatch, through the API and again through the ingest of the same batch.
    for order in (first, second):
        again = await set_status(cloud, cloud.warehouse, order, "dispatched")
        assert again.status_code == 200, again.text
    await send(cloud, "gw-a", 3, [door_out(water_epc(3), 121), door_out(water_epc(4), 121)])
    assert (await project(cloud)).records == 0
    assert await balance(cloud, FW_XUHUI, WATER) == expected
    assert await water_movements(cloud) == booked
    assert await outbound(cloud) == links
    await assert_ledger_balances(cloud.database)


@pytest.mark.parametrize("door_first", [False, True], ids=["dispatch-first", "door-first"])
async def test_two_of_three_tags_seen_still_takes_three(cloud: Cloud, door_first: bool) -> None:
    network = await seeded_with_stock(cloud)
    order = (await place_app_order(cloud, network, "APP-RF6", [(WATER, 3)])).order_id
    tags: list[Record] = [door_out(water_epc(1), 1), door_out(water_epc(2), 1)]
    if door_first:
        await send(cloud, "gw-a", 1, tags)
        await project(cloud)
        assert await balance(cloud, FW_XUHUI, WATER) == (8, 3, 0, 5)
        set_clock(cloud, OPEN_HOURS + timedelta(minutes=10))
        await dispatch(cloud, order)
    else:
        await dispatch(cloud, order)
        await send(cloud, "gw-a", 1, tags)
        await project(cloud)
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 0, 0, 7)
    ids = await movement_ids(cloud)
    consume, doors = ids[consume_key(order)], [ids["tag:gw-a:1"], ids["tag:gw-a:2"]]
    booked = {
        key: (kind, on_hand, reserved)
        for key, kind, on_hand, reserved, _ in (await water_movements(cloud))
    }
    matches, opened = await outbound(cloud)
    assert matches == [(door, consume, order, 1) for door in doors]
    if door_first:
        assert booked[consume_key(order)] == ("consume", -1, -3)
        assert booked["tag:gw-a:1"] == booked["tag:gw-a:2"] == ("rfid_out", -1, 0)
        assert opened == [(door, "door", None, 1, 0) for door in doors] + [
            (consume, "order", order, 1, 1)
        ]
    else:
        assert booked[consume_key(order)] == ("consume", -3, -3)
        assert booked["tag:gw-a:1"] == booked["tag:gw-a:2"] == ("rfid_out_matched", 0, 0)
        # The third unit stays open: a door pass of it within the window is matched too.
        assert opened == [(consume, "order", order, 3, 1)]
    await assert_ledger_balances(cloud.database)


async def test_a_case_through_the_door_matches_the_order_part_only(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    order = (await place_app_order(cloud, network, "APP-RF7", [(WATER, 3)])).order_id
    await dispatch(cloud, order)
    receipt = {"node_id": FW_XUHUI, "sku_id": WATER, "kind": "receive", "quantity": 24}
    response = await cloud.client.post(
        "/api/v1/stock/movements",
        json={**receipt, "idempotency_key": "case-in"},
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 201, response.text
    assert await balance(cloud, FW_XUHUI, WATER) == (31, 0, 0, 31)
    # A case of 24 leaves: 3 of its units are the order's (already off on-hand), 21 are not.
    await send(cloud, "gw-a", 1, [door_out(WATER_CASE_EPC, 3)])
    assert (await project(cloud)).applied == 1
    assert await balance(cloud, FW_XUHUI, WATER) == (10, 0, 0, 10)
    ids = await movement_ids(cloud)
    consume, door = ids[consume_key(order)], ids["tag:gw-a:1"]
    assert (await water_movements(cloud))[-1] == (
        "tag:gw-a:1",
        "rfid_out",
        -21,
        0,
        f"door-1 out; 3 for order {order} (consume #{consume})",
    )
    assert await outbound(cloud) == (
        [(door, consume, order, 3)],
        [(consume, "order", order, 3, 0), (door, "door", None, 21, 21)],
    )
    await assert_ledger_balances(cloud.database)


async def test_rider_pickup_matches_the_door_pass(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    key = await add_courier(cloud, courier_body("rider-1"))
    order = (await place_app_order(cloud, network, "APP-RF8", [(WATER, 2)])).order_id
    assert (await run_dispatch(cloud))["assigned"] == 1
    task = f"{order}@{FW_XUHUI}"
    assert (await rider_step(cloud, key, task, "accept")).status_code == 200
    await send(cloud, "gw-a", 1, [door_out(water_epc(1), 16), door_out(water_epc(2), 16)])
    await project(cloud)
    assert await balance(cloud, FW_XUHUI, WATER) == (8, 2, 0, 6)
    set_clock(cloud, OPEN_HOURS + timedelta(minutes=18))
    for _ in range(2):  # the second pickup is a replay
        response = await rider_step(cloud, key, task, "picked-up")
        assert response.status_code == 200, response.text
    assert await balance(cloud, FW_XUHUI, WATER) == (8, 0, 0, 8)
    booked = await water_movements(cloud)
    assert booked[-1][:4] == (consume_key(order), "consume", 0, -2)
    assert [(order_id, quantity) for *_, order_id, quantity in (await outbound(cloud))[0]] == [
        (order, 1),
        (order, 1),
    ]
    await assert_ledger_balances(cloud.database)


async def test_door_pass_and_dispatch_at_once_book_the_units_once(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    orders = [
        (await place_app_order(cloud, network, f"APP-RC{n}", [(WATER, 1)])).order_id
        for n in range(3)
    ]
    for order in orders:
        for status in ("picking", "packed"):
            assert (await set_status(cloud, cloud.warehouse, order, status)).status_code == 200
    await send(cloud, "gw-a", 1, [door_out(water_epc(n), 0) for n in range(3)])

    async def dispatched(order: str) -> None:
        response = await set_status(cloud, cloud.warehouse, order, "dispatched")
        assert response.status_code == 200, response.text

    await asyncio.gather(project(cloud, batch_size=1), *(dispatched(o) for o in orders))
    assert await balance(cloud, FW_XUHUI, WATER) == (7, 0, 0, 7)
    matches, _ = await outbound(cloud)
    assert sorted(order for _, _, order, _ in matches) == sorted(orders)
    await assert_ledger_balances(cloud.database)


async def test_the_window_setting_reaches_every_session(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", data_dir=tmp_path)
    default = create_app(settings).state.database
    narrow = create_app(settings.model_copy(update={"rfid_match_window_min": 5})).state.database
    try:
        async with default.sessions() as one, narrow.sessions.begin() as two:
            assert (match_window(one), match_window(two)) == (
                timedelta(minutes=30),
                timedelta(minutes=5),
            )
    finally:
        await default.dispose()
        await narrow.dispose()
