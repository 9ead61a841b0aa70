"""Property: after any sequence of movements (some refused), the balance equals a simple model,
never goes negative, and the ledger sums to it; replays change nothing (SQLite)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cloud.catalog_models import Node, Sku
from cloud.db import Database
from cloud.migrate import upgrade_database
from cloud.services.stock_ledger import (
    InsufficientStock,
    MovementSpec,
    apply_computed_movement,
    apply_movement,
)
from cloud.stock_models import StockLevel, StockMovement
from cloud.stock_rules import Delta, MovementKind, Source, delta_for, fingerprint

FIXED = [
    MovementKind.RECEIVE,
    MovementKind.SHIP,
    MovementKind.RESERVE,
    MovementKind.RELEASE,
    MovementKind.CONSUME,
    MovementKind.UNHOLD,
    MovementKind.WRITE_OFF,
    MovementKind.POS_RETURN,
]
Op = tuple[str, MovementKind | None, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("fixed"), st.sampled_from(FIXED), st.integers(1, 6)),
        st.tuples(st.just("count"), st.none(), st.integers(0, 12)),
        st.tuples(st.just("hold"), st.none(), st.just(0)),
        st.tuples(st.just("replay"), st.none(), st.integers(0, 30)),
    ),
    max_size=25,
)
_runs = itertools.count()


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ledger') / 'cloud.db'}"
    asyncio.run(upgrade_database(url))
    return url


def _model_step(state: tuple[int, int, int], delta: Delta) -> tuple[int, int, int] | None:
    """The balance after ``delta``, or None if the ledger must refuse it."""
    on_hand, reserved, on_hold = state
    new = (on_hand + delta.on_hand, reserved + delta.reserved, on_hold + delta.on_hold)
    if min(new) < 0:
        return None
    if delta.available < 0 and new[0] - new[1] - new[2] < 0:
        return None
    return new


async def _run(url: str, sequence: list[Op]) -> None:
    run = next(_runs)
    node_id, sku_id = f"n-{run}", f"s-{run}"
    now = datetime.now(UTC)
    database = Database(url)
    async with database.sessions.begin() as session:
        session.add(
            Node(
                id=node_id,
                name="n",
                kind="store",
                lat=31.2,
                lon=121.5,
                timezone="Asia/Shanghai",
                capabilities=["chilled"],
                delivery_radius_km=2.0,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Sku(
                id=sku_id,
                gtin=f"{run:014d}",
                name="s",
                category="c",
                temperature_class="chilled",
                weight_g=1,
                volume_cm3=1,
                created_at=now,
                updated_at=now,
            )
        )
    model = (0, 0, 0)
    done: list[MovementSpec] = []
    for index, (op, kind, quantity) in enumerate(sequence):
        if op == "replay":
            if not done:
                continue
            spec = done[quantity % len(done)]
            async with database.sessions.begin() as session:
                if spec.kind is MovementKind.COUNT_ADJUST:
                    applied = await apply_computed_movement(
                        session, spec=spec, target="count", now=now, counted=-1
                    )
                elif spec.kind is MovementKind.HOLD:
                    applied = await apply_computed_movement(
                        session, spec=spec, target="hold_available", now=now
                    )
                else:
                    applied = await apply_movement(session, spec=spec, delta=Delta(), now=now)
            assert applied is not None and applied.replayed
            continue
        movement_kind = {
            "count": MovementKind.COUNT_ADJUST,
            "hold": MovementKind.HOLD,
        }.get(op, kind)
        assert movement_kind is not None
        spec = MovementSpec(
            key=f"p:{run}:{index}",
            fingerprint=fingerprint({"op": op, "q": quantity}),
            node_id=node_id,
            sku_id=sku_id,
            kind=movement_kind,
            source=Source.MANUAL,
            source_ref=str(index),
            actor="hypothesis",
        )
        if op == "count":
            async with database.sessions.begin() as session:
                await apply_computed_movement(
                    session, spec=spec, target="count", now=now, counted=quantity
                )
            model = (quantity, model[1], model[2])
            done.append(spec)
        elif op == "hold":
            available = model[0] - model[1] - model[2]
            async with database.sessions.begin() as session:
                applied = await apply_computed_movement(
                    session, spec=spec, target="hold_available", now=now
                )
            if available > 0:
                assert applied is not None and applied.delta == Delta(on_hold=available)
                model = (model[0], model[1], model[2] + available)
                done.append(spec)
            else:
                assert applied is None
        else:
            delta = delta_for(movement_kind, quantity)
            expected = _model_step(model, delta)
            try:
                async with database.sessions.begin() as session:
                    await apply_movement(session, spec=spec, delta=delta, now=now)
            except InsufficientStock:
                assert expected is None, (model, movement_kind, quantity)
            else:
                assert expected is not None, (model, movement_kind, quantity)
                model = expected
                done.append(spec)
    async with database.sessions() as session:
        row = await session.get(StockLevel, (node_id, sku_id))
        sums = (
            await session.execute(
                select(
                    func.coalesce(func.sum(StockMovement.delta_on_hand), 0),
                    func.coalesce(func.sum(StockMovement.delta_reserved), 0),
                    func.coalesce(func.sum(StockMovement.delta_on_hold), 0),
                ).where(StockMovement.node_id == node_id, StockMovement.sku_id == sku_id)
            )
        ).one()
    await database.dispose()
    balance = (0, 0, 0) if row is None else (row.on_hand, row.reserved, row.on_hold)
    assert balance == model
    assert tuple(sums) == model


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_ledger_balances_after_any_sequence(ledger_url: str, sequence: list[Op]) -> None:
    asyncio.run(_run(ledger_url, sequence))
