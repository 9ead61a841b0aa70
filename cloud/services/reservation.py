"""Reserving, releasing and consuming an order's units at nodes.

Every balance change is one conditional atomic UPDATE of ``stock_levels`` (checked by its
rowcount) plus a ``stock_movements`` row in the same transaction, so the ledger always sums to
the balance and two orders can never reserve the same unit. :func:`reserve_lines` runs inside a
SAVEPOINT: if any line cannot be reserved, the savepoint is rolled back and no partial
reservation survives, so the caller can try the next candidate in the same transaction.

Movement keys: ``order:<order_id>:<reserve|release|consume>:<node_id>:<sku_id>``; when an order
is re-allocated (a modification), its later reservations carry a ``:<generation>`` suffix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.order_models import AllocationDecision
from cloud.services import outbound_match
from cloud.services.outbound_match import Claim
from cloud.stock_models import Reservation, StockLevel, StockMovement

SOURCE: Final = "order"
_LEVELS: Final[Table] = StockLevel.__table__  # type: ignore[assignment]
_MOVEMENTS: Final[Table] = StockMovement.__table__  # type: ignore[assignment]
_RESERVATIONS: Final[Table] = Reservation.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Pick:
    """``quantity`` units of ``sku_id`` taken from ``node_id``."""

    node_id: str
    sku_id: str
    quantity: int


class _Shortfall(Exception):
    def __init__(self, pick: Pick) -> None:
        super().__init__(f"{pick.node_id}/{pick.sku_id}")
        self.pick = pick


def merge_picks(picks: Iterable[Pick]) -> list[Pick]:
    """One pick per (node, sku), sorted, so concurrent orders lock rows in the same order."""
    totals: dict[tuple[str, str], int] = {}
    for pick in picks:
        key = (pick.node_id, pick.sku_id)
        totals[key] = totals.get(key, 0) + pick.quantity
    return [Pick(node, sku, quantity) for (node, sku), quantity in sorted(totals.items())]


def movement_key(order_id: str, action: str, node_id: str, sku_id: str, generation: int) -> str:
    base = f"order:{order_id}:{action}:{node_id}:{sku_id}"
    return base if generation <= 1 else f"{base}:{generation}"


def _fingerprint(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def movement_row(
    *,
    order_id: str,
    action: str,
    pick: Pick,
    generation: int,
    deltas: tuple[int, int],
    actor: str,
    now: datetime,
    note: str | None = None,
) -> dict[str, Any]:
    delta_on_hand, delta_reserved = deltas
    content = {
        "order_id": order_id,
        "kind": action,
        "node_id": pick.node_id,
        "sku_id": pick.sku_id,
        "quantity": pick.quantity,
    }
    return {
        "idempotency_key": movement_key(order_id, action, pick.node_id, pick.sku_id, generation),
        "fingerprint": _fingerprint(content),
        "node_id": pick.node_id,
        "sku_id": pick.sku_id,
        "kind": action,
        "delta_on_hand": delta_on_hand,
        "delta_reserved": delta_reserved,
        "delta_on_hold": 0,
        "source": SOURCE,
        "source_ref": order_id,
        "actor": actor,
        "note": note,
        "created_at": now,
    }


async def reserve_lines(
    *,
    session: AsyncSession,
    order_id: str,
    picks: Sequence[Pick],
    now: datetime,
    actor: str,
    generation: int = 1,
) -> Pick | None:
    """Reserve every pick or none: None on success, else the first pick that lacked stock
    (everything this call did is rolled back to its savepoint)."""
    merged = merge_picks(picks)
    try:
        if len(merged) == 1:
            # One conditional UPDATE either happens or not: nothing partial to roll back.
            await _reserve_all(session, order_id, merged, now, actor, generation)
        else:
            async with session.begin_nested():
                await _reserve_all(session, order_id, merged, now, actor, generation)
    except _Shortfall as shortfall:
        return shortfall.pick
    return None


async def _reserve_all(
    session: AsyncSession,
    order_id: str,
    picks: list[Pick],
    now: datetime,
    actor: str,
    generation: int,
) -> None:
    for pick in picks:
        result = await session.execute(
            update(_LEVELS)
            .where(
                _LEVELS.c.node_id == pick.node_id,
                _LEVELS.c.sku_id == pick.sku_id,
                _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.on_hold >= pick.quantity,
            )
            .values(reserved=_LEVELS.c.reserved + pick.quantity, updated_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _Shortfall(pick)
    await session.execute(
        insert(_MOVEMENTS),
        [
            movement_row(
                order_id=order_id,
                action="reserve",
                pick=pick,
                generation=generation,
                deltas=(0, pick.quantity),
                actor=actor,
                now=now,
            )
            for pick in picks
        ],
    )
    if generation <= 1:
        # ORM rows: flushed after the (perhaps still pending) order row they refer to.
        session.add_all(
            [
                Reservation(
                    order_id=order_id,
                    node_id=pick.node_id,
                    sku_id=pick.sku_id,
                    quantity=pick.quantity,
                    state="held",
                    updated_at=now,
                )
                for pick in picks
            ]
        )
        return
    # A re-allocation may reuse a (node, sku) of an earlier, released reservation.
    for pick in picks:
        changed = await session.execute(
            update(_RESERVATIONS)
            .where(
                _RESERVATIONS.c.order_id == order_id,
                _RESERVATIONS.c.node_id == pick.node_id,
                _RESERVATIONS.c.sku_id == pick.sku_id,
                _RESERVATIONS.c.state != "held",
            )
            .values(quantity=pick.quantity, state="held", updated_at=now)
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            await session.execute(
                insert(_RESERVATIONS).values(
                    order_id=order_id,
                    node_id=pick.node_id,
                    sku_id=pick.sku_id,
                    quantity=pick.quantity,
                    state="held",
                    updated_at=now,
                )
            )


async def allocation_generation(*, session: AsyncSession, order_id: str) -> int:
    """How many times the order has been allocated (decisions that reserved stock)."""
    count = await session.scalar(
        select(func.count())
        .select_from(AllocationDecision)
        .where(AllocationDecision.order_id == order_id, AllocationDecision.outcome != "rejected")
    )
    return int(count or 0)


async def _held(session: AsyncSession, order_id: str) -> list[Pick]:
    rows = await session.execute(
        select(Reservation.node_id, Reservation.sku_id, Reservation.quantity)
        .where(Reservation.order_id == order_id, Reservation.state == "held")
        .order_by(Reservation.node_id, Reservation.sku_id)
    )
    return [Pick(node, sku, quantity) for node, sku, quantity in rows]


async def release_order(
    *, session: AsyncSession, order_id: str, now: datetime, actor: str
) -> list[Pick]:
    """Give back every held reservation of the order (reserved -= q); returns what was
    released, nothing when nothing is held (a replay)."""
    return await _finish(session, order_id, "release", now, actor)


async def consume_order(
    *, session: AsyncSession, order_id: str, now: datetime, actor: str
) -> list[Pick]:
    """At dispatch: the held units leave the node (on_hand -= q, reserved -= q), except
    units a dock door already booked out (:mod:`cloud.services.outbound_match`): for those
    only reserved -= q."""
    return await _finish(session, order_id, "consume", now, actor)


@dataclass(frozen=True, slots=True)
class _Finished:
    pick: Pick
    off_hand: int  # units taken off on-hand (0 when released)
    claims: list[Claim]  # dock-door passes that had already booked units out


async def _finish(
    session: AsyncSession, order_id: str, action: str, now: datetime, actor: str
) -> list[Pick]:
    picks = await _held(session, order_id)
    if not picks:
        return []
    generation = await allocation_generation(session=session, order_id=order_id)
    consuming = action == "consume"
    done: list[_Finished] = []
    for pick in picks:
        if not await _close_reservation(session, order_id, pick, consuming, now):
            continue  # another request finished it first
        claims: list[Claim] = []
        if consuming:
            claims = await outbound_match.match_dispatch(
                session, node_id=pick.node_id, sku_id=pick.sku_id, quantity=pick.quantity, now=now
            )
        off_hand = pick.quantity - outbound_match.matched_quantity(claims) if consuming else 0
        await _take(session, order_id, pick, off_hand, now)
        done.append(_Finished(pick, off_hand, claims))
    if done:
        await _store_movements(session, order_id, action, generation, done, actor, now)
    return [finished.pick for finished in done]


async def _close_reservation(
    session: AsyncSession, order_id: str, pick: Pick, consuming: bool, now: datetime
) -> bool:
    """Mark the held reservation consumed or released; False if it is no longer held."""
    closed = await session.execute(
        update(_RESERVATIONS)
        .where(
            _RESERVATIONS.c.order_id == order_id,
            _RESERVATIONS.c.node_id == pick.node_id,
            _RESERVATIONS.c.sku_id == pick.sku_id,
            _RESERVATIONS.c.state == "held",
        )
        .values(state="consumed" if consuming else "released", updated_at=now)
    )
    return bool(closed.rowcount == 1)  # type: ignore[attr-defined]


async def _take(
    session: AsyncSession, order_id: str, pick: Pick, off_hand: int, now: datetime
) -> None:
    """reserved -= the pick, on_hand -= ``off_hand``, only if the balance holds them."""
    result = await session.execute(
        update(_LEVELS)
        .where(
            and_(
                _LEVELS.c.node_id == pick.node_id,
                _LEVELS.c.sku_id == pick.sku_id,
                _LEVELS.c.reserved >= pick.quantity,
                _LEVELS.c.on_hand >= off_hand,
            )
        )
        .values(
            reserved=_LEVELS.c.reserved - pick.quantity,
            on_hand=_LEVELS.c.on_hand - off_hand,
            updated_at=now,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            409,
            "stock_inconsistent",
            f"order {order_id}: {pick.node_id}/{pick.sku_id} holds fewer units than the "
            f"order's reservation of {pick.quantity}; count the stock and retry",
        )


async def _store_movements(
    session: AsyncSession,
    order_id: str,
    action: str,
    generation: int,
    done: list[_Finished],
    actor: str,
    now: datetime,
) -> None:
    """One movement per finished pick; a consume's matches and open units are stored too."""
    rows = [
        movement_row(
            order_id=order_id,
            action=action,
            pick=finished.pick,
            generation=generation,
            deltas=(-finished.off_hand, -finished.pick.quantity),
            actor=actor,
            now=now,
            note=outbound_match.dispatch_note(finished.claims),
        )
        for finished in done
    ]
    if action != "consume":
        await session.execute(insert(_MOVEMENTS), rows)
        return
    stored = await session.execute(
        insert(_MOVEMENTS).returning(_MOVEMENTS.c.id, sort_by_parameter_order=True), rows
    )
    for finished, movement_id in zip(done, stored.scalars().all(), strict=True):
        await outbound_match.record_dispatch(
            session,
            order_id=order_id,
            movement_id=movement_id,
            node_id=finished.pick.node_id,
            sku_id=finished.pick.sku_id,
            quantity=finished.pick.quantity,
            claims=finished.claims,
            now=now,
        )
