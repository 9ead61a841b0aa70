"""Outbound matching: a unit that leaves a node through an RFID dock door for an order is seen
twice — by the door's tag event (``rfid_out``) and by the order's dispatch (``consume``) — and
must leave on-hand once.

Per (node, SKU), whichever of the two is booked first takes the units off on-hand and leaves
them *open* (``outbound_open``); the second, if it falls within the window around the first
(the door pass's time against the dispatch's), claims those open units instead of taking them
again: a consume then takes only ``reserved`` for them, a door pass books ``rfid_out_matched``
(no on-hand change). Each claim is an ``outbound_matches`` row naming both movements and the
order. Both sides lock the balance row before reading the other side's open units, so two
bookings of one (node, SKU) in concurrent transactions cannot both miss each other; the claims
are conditional UPDATEs in the transaction of the movement.

The window comes from the session (:func:`session_info`, set by the app from
``RETAILEDGE_RFID_MATCH_WINDOW_MIN``), so every path that dispatches an order uses the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.services.stock_ledger import (
    Applied,
    MovementSpec,
    apply_movement,
    existing_movement,
    lock_level,
    table_of,
)
from cloud.settings import DEFAULT_RFID_MATCH_WINDOW_MIN
from cloud.stock_models import OutboundMatch, OutboundOpen
from cloud.stock_rules import MovementKind, OutboundSide, delta_for, take_oldest_first

OPEN: Final = table_of(OutboundOpen)
MATCHES: Final = table_of(OutboundMatch)
DEFAULT_WINDOW: Final = timedelta(minutes=DEFAULT_RFID_MATCH_WINDOW_MIN)
_WINDOW_KEY: Final = "outbound_match_window"


def session_info(window_min: float) -> dict[str, Any]:
    """``Session.info`` entries that set the matching window (see :class:`cloud.db.Database`)."""
    return {_WINDOW_KEY: timedelta(minutes=window_min)}


def match_window(session: AsyncSession) -> timedelta:
    window = session.info.get(_WINDOW_KEY, DEFAULT_WINDOW)
    assert isinstance(window, timedelta), f"{_WINDOW_KEY} must be a timedelta, not {window!r}"
    return window


@dataclass(frozen=True, slots=True)
class Claim:
    """``quantity`` open units of the other side's movement ``movement_id``, now matched."""

    movement_id: int
    order_id: str | None
    quantity: int


def matched_quantity(claims: Sequence[Claim]) -> int:
    return sum(claim.quantity for claim in claims)


async def _claim_open(
    session: AsyncSession,
    *,
    node_id: str,
    sku_id: str,
    side: OutboundSide,
    at: datetime,
    quantity: int,
) -> list[Claim]:
    """Take up to ``quantity`` of ``side``'s open units of (node, SKU) within the window
    around ``at``, oldest first. The caller holds the balance row's lock."""
    window = match_window(session)
    rows = (
        await session.execute(
            select(OPEN.c.movement_id, OPEN.c.order_id, OPEN.c.open_quantity)
            .where(
                OPEN.c.node_id == node_id,
                OPEN.c.sku_id == sku_id,
                OPEN.c.side == side.value,
                OPEN.c.open_quantity > 0,
                OPEN.c.at.between(at - window, at + window),
            )
            .order_by(OPEN.c.at, OPEN.c.movement_id)
        )
    ).all()
    claims: list[Claim] = []
    takes = take_oldest_first(quantity, [row.open_quantity for row in rows])
    for row, take in zip(rows, takes, strict=True):
        if take == 0:
            break
        claimed = await session.execute(
            update(OPEN)
            .where(OPEN.c.movement_id == row.movement_id, OPEN.c.open_quantity >= take)
            .values(open_quantity=OPEN.c.open_quantity - take)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError(
                f"open outbound units of movement {row.movement_id} changed while "
                f"{node_id}/{sku_id} was locked"
            )
        claims.append(Claim(row.movement_id, row.order_id, take))
    return claims


async def _record(
    session: AsyncSession,
    *,
    side: OutboundSide,
    movement_id: int,
    node_id: str,
    sku_id: str,
    order_id: str | None,
    at: datetime,
    quantity: int,
    claims: Sequence[Claim],
    now: datetime,
) -> None:
    """Store ``claims`` as matches of ``movement_id`` (booked by ``side``) and leave what
    they did not cover open for the other side."""
    if claims:
        await session.execute(
            insert(MATCHES),
            [
                {
                    "node_id": node_id,
                    "sku_id": sku_id,
                    "door_movement_id": (
                        movement_id if side is OutboundSide.DOOR else claim.movement_id
                    ),
                    "order_movement_id": (
                        movement_id if side is OutboundSide.ORDER else claim.movement_id
                    ),
                    "order_id": order_id or claim.order_id,
                    "quantity": claim.quantity,
                    "matched_at": now,
                }
                for claim in claims
            ],
        )
    unmatched = quantity - matched_quantity(claims)
    if unmatched > 0:
        await session.execute(
            insert(OPEN).values(
                movement_id=movement_id,
                node_id=node_id,
                sku_id=sku_id,
                side=side.value,
                order_id=order_id,
                at=at,
                quantity=unmatched,
                open_quantity=unmatched,
            )
        )


# --- the dispatch side (cloud.services.reservation) ------------------------------------------


async def match_dispatch(
    session: AsyncSession, *, node_id: str, sku_id: str, quantity: int, now: datetime
) -> list[Claim]:
    """Before an order's dispatch takes ``quantity`` units of (node, SKU): lock the balance
    and claim units a dock door already booked out around ``now``."""
    await lock_level(session, node_id=node_id, sku_id=sku_id, now=now)
    return await _claim_open(
        session, node_id=node_id, sku_id=sku_id, side=OutboundSide.DOOR, at=now, quantity=quantity
    )


async def record_dispatch(
    session: AsyncSession,
    *,
    order_id: str,
    movement_id: int,
    node_id: str,
    sku_id: str,
    quantity: int,
    claims: Sequence[Claim],
    now: datetime,
) -> None:
    """After the consume movement is stored: its matches, and its unmatched units left open
    for a dock door's tag events."""
    await _record(
        session,
        side=OutboundSide.ORDER,
        movement_id=movement_id,
        node_id=node_id,
        sku_id=sku_id,
        order_id=order_id,
        at=now,
        quantity=quantity,
        claims=claims,
        now=now,
    )


def dispatch_note(claims: Sequence[Claim]) -> str | None:
    """The consume movement's note when dock-door passes already booked some units out."""
    if not claims:
        return None
    movements = ", ".join(f"#{claim.movement_id}" for claim in claims)
    return (
        f"{matched_quantity(claims)} unit(s) already booked out by the dock door "
        f"(movement {movements}): reserved only"
    )


# --- the dock-door side (cloud.services.stock_projection) ------------------------------------


def door_note(base: str | None, claims: Sequence[Claim]) -> str | None:
    if not claims:
        return base
    matched = ", ".join(
        f"{claim.quantity} for order {claim.order_id} (consume #{claim.movement_id})"
        for claim in claims
    )
    return f"{base}; {matched}" if base else matched


async def book_door_out(
    session: AsyncSession, *, spec: MovementSpec, quantity: int, at: datetime, now: datetime
) -> Applied:
    """An ``rfid_out`` of ``quantity`` units that passed the door at ``at``: units an order's
    dispatch already took off on-hand around ``at`` are matched (``rfid_out_matched`` when
    all are), the rest leave on-hand and stay open for a dispatch. A replay changes nothing.
    Raises :class:`~cloud.services.stock_ledger.InsufficientStock` like ``apply_movement``."""
    await lock_level(session, node_id=spec.node_id, sku_id=spec.sku_id, now=now)
    stored = await existing_movement(session, spec)
    if stored is not None:
        return stored
    claims = await _claim_open(
        session,
        node_id=spec.node_id,
        sku_id=spec.sku_id,
        side=OutboundSide.ORDER,
        at=at,
        quantity=quantity,
    )
    unmatched = quantity - matched_quantity(claims)
    kind = MovementKind.RFID_OUT if unmatched else MovementKind.RFID_OUT_MATCHED
    booked = replace(spec, kind=kind, note=door_note(spec.note, claims))
    applied = await apply_movement(
        session, spec=booked, delta=delta_for(MovementKind.RFID_OUT, unmatched), now=now
    )
    assert not applied.replayed, f"{spec.key} was stored while its balance was locked"
    await _record(
        session,
        side=OutboundSide.DOOR,
        movement_id=applied.movement_id,
        node_id=spec.node_id,
        sku_id=spec.sku_id,
        order_id=None,
        at=at,
        quantity=quantity,
        claims=claims,
        now=now,
    )
    return applied
