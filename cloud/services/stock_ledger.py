"""The ledger primitive: one movement row plus one conditional atomic UPDATE of the balance,
in the caller's transaction. Every stock change in the cloud goes through here.

The movement row is inserted first (``ON CONFLICT DO NOTHING`` on its idempotency key), so a
replay finds its key taken and changes nothing; the balance UPDATE carries its own condition
(no column below zero, available not below zero when the movement takes from it), so two
concurrent requests can never both take the last unit. If the condition fails the caller's
transaction (or savepoint) must roll back: :class:`InsufficientStock` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.catalog_models import Sku, StorageZone
from cloud.models import Base, UTCDateTime
from cloud.services.sql import upsert_insert
from cloud.stock_models import StockLevel, StockMovement
from cloud.stock_rules import Delta, MovementKind, Source


def table_of(model: type[Base]) -> Table:
    """The Core table of an ORM model (typed as a Table, which mapped models always have)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


LEVELS = table_of(StockLevel)
MOVEMENTS = table_of(StockMovement)


class InsufficientStock(Exception):
    """The balance cannot take the movement (it would go below zero or below available)."""

    def __init__(self, node_id: str, sku_id: str, kind: MovementKind, delta: Delta) -> None:
        self.node_id = node_id
        self.sku_id = sku_id
        self.kind = kind
        self.delta = delta
        taking = -delta.available if delta.available < 0 else -delta.on_hand
        super().__init__(
            f"{kind.value} of {taking} unit(s) of {sku_id} at {node_id} exceeds what is there"
        )


class IdempotencyConflict(Exception):
    """The idempotency key was used before for different content."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for different content")


@dataclass(frozen=True, slots=True)
class MovementSpec:
    """Who, what and why of one movement; the delta is passed separately."""

    key: str
    fingerprint: str
    node_id: str
    sku_id: str
    kind: MovementKind
    source: Source
    source_ref: str
    actor: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    movement_id: int
    delta: Delta
    replayed: bool


async def ensure_level(session: AsyncSession, *, node_id: str, sku_id: str, now: datetime) -> None:
    """Create the (node, SKU) balance row if missing, in the node's zone of the SKU's class."""
    default_zone = (
        select(StorageZone.id)
        .join(Sku, Sku.temperature_class == StorageZone.temperature_class)
        .where(StorageZone.node_id == node_id, Sku.id == sku_id)
        .order_by(StorageZone.id)
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        upsert_insert(session, LEVELS)
        .values(
            node_id=node_id,
            sku_id=sku_id,
            zone_id=default_zone,
            on_hand=0,
            reserved=0,
            on_hold=0,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["node_id", "sku_id"])
    )
    await session.execute(statement)


def _row_values(spec: MovementSpec, delta: Delta, now: datetime) -> dict[str, object]:
    return {
        "idempotency_key": spec.key,
        "fingerprint": spec.fingerprint,
        "node_id": spec.node_id,
        "sku_id": spec.sku_id,
        "kind": spec.kind.value,
        "delta_on_hand": delta.on_hand,
        "delta_reserved": delta.reserved,
        "delta_on_hold": delta.on_hold,
        "source": spec.source.value,
        "source_ref": spec.source_ref,
        "actor": spec.actor,
        "note": spec.note,
        "created_at": now,
    }


async def existing_movement(session: AsyncSession, spec: MovementSpec) -> Applied | None:
    """The movement already stored under ``spec.key`` (a replay), None if there is none;
    raises :class:`IdempotencyConflict` if it was stored for other content."""
    row = (
        await session.execute(
            select(
                MOVEMENTS.c.id,
                MOVEMENTS.c.fingerprint,
                MOVEMENTS.c.delta_on_hand,
                MOVEMENTS.c.delta_reserved,
                MOVEMENTS.c.delta_on_hold,
            ).where(MOVEMENTS.c.idempotency_key == spec.key)
        )
    ).one_or_none()
    if row is None:
        return None
    if row.fingerprint != spec.fingerprint:
        raise IdempotencyConflict(spec.key)
    delta = Delta(row.delta_on_hand, row.delta_reserved, row.delta_on_hold)
    return Applied(row.id, delta, replayed=True)


def _at(spec: MovementSpec) -> list[ColumnElement[bool]]:
    return [LEVELS.c.node_id == spec.node_id, LEVELS.c.sku_id == spec.sku_id]


async def lock_level(session: AsyncSession, *, node_id: str, sku_id: str, now: datetime) -> None:
    """Lock the (node, SKU) balance row until the transaction ends (creating it if missing),
    so what the caller reads next includes every change committed to this balance."""
    statement = (
        update(LEVELS)
        .where(LEVELS.c.node_id == node_id, LEVELS.c.sku_id == sku_id)
        .values(updated_at=now)
    )
    if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
        await ensure_level(session, node_id=node_id, sku_id=sku_id, now=now)
        await session.execute(statement)


def guards(delta: Delta) -> list[ColumnElement[bool]]:
    """Conditions under which ``delta`` keeps the balance valid: no column below zero, and
    available not below zero when the movement takes from it."""
    conditions: list[ColumnElement[bool]] = []
    for column, change in (
        (LEVELS.c.on_hand, delta.on_hand),
        (LEVELS.c.reserved, delta.reserved),
        (LEVELS.c.on_hold, delta.on_hold),
    ):
        if change < 0:
            conditions.append(column + change >= 0)
    if delta.available < 0:
        available = LEVELS.c.on_hand - LEVELS.c.reserved - LEVELS.c.on_hold
        conditions.append(available + delta.available >= 0)
    return conditions


async def apply_movement(
    session: AsyncSession,
    *,
    spec: MovementSpec,
    delta: Delta,
    now: datetime,
    zone_id: str | None = None,
) -> Applied:
    """Record ``spec`` and change the balance by ``delta`` (and set its zone if given).

    A replay (same key, same fingerprint) changes nothing; raises :class:`IdempotencyConflict`
    or :class:`InsufficientStock` (then roll back: the movement row is already inserted).
    """
    inserted = (
        await session.execute(
            upsert_insert(session, MOVEMENTS)
            .values(**_row_values(spec, delta, now))
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(MOVEMENTS.c.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        existing = await existing_movement(session, spec)
        assert existing is not None, f"movement {spec.key} conflicted but is not stored"
        return existing
    values: dict[str, object] = {
        "on_hand": LEVELS.c.on_hand + delta.on_hand,
        "reserved": LEVELS.c.reserved + delta.reserved,
        "on_hold": LEVELS.c.on_hold + delta.on_hold,
        "updated_at": now,
    }
    if zone_id is not None:
        values["zone_id"] = zone_id
    statement = update(LEVELS).where(*_at(spec), *guards(delta)).values(**values)
    if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
        # No balance row yet (the first movement of this SKU here), or not enough stock.
        await ensure_level(session, node_id=spec.node_id, sku_id=spec.sku_id, now=now)
        if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
            raise InsufficientStock(spec.node_id, spec.sku_id, spec.kind, delta)
    return Applied(inserted, delta, replayed=False)


ComputedTarget = Literal["count", "hold_available"]


async def apply_computed_movement(
    session: AsyncSession,
    *,
    spec: MovementSpec,
    target: ComputedTarget,
    now: datetime,
    counted: int = 0,
) -> Applied | None:
    """A movement whose delta the database computes from the balance under a row lock:

    - ``count``: ``on_hand`` becomes ``counted`` (delta = counted - on_hand);
    - ``hold_available``: everything available goes on hold (delta on_hold = available);
      nothing is recorded (None) when nothing is available.

    The balance row is locked first (an UPDATE), the movement row is inserted with
    ``INSERT ... SELECT`` computing the delta, and the balance moves by that stored delta.
    """
    await lock_level(session, node_id=spec.node_id, sku_id=spec.sku_id, now=now)
    available = LEVELS.c.on_hand - LEVELS.c.reserved - LEVELS.c.on_hold
    conditions = _at(spec)
    if target == "count":
        on_hand_delta: ColumnElement[int] = literal(counted) - LEVELS.c.on_hand
        on_hold_delta: ColumnElement[int] = literal(0)
    else:
        on_hand_delta, on_hold_delta = literal(0), available
        conditions.append(available > 0)
    fixed = _row_values(spec, Delta(), now)
    columns: list[ColumnElement[Any]] = [
        literal(fixed["idempotency_key"]).label("idempotency_key"),
        literal(spec.fingerprint).label("fingerprint"),
        LEVELS.c.node_id,
        LEVELS.c.sku_id,
        literal(spec.kind.value).label("kind"),
        on_hand_delta.label("delta_on_hand"),
        literal(0).label("delta_reserved"),
        on_hold_delta.label("delta_on_hold"),
        literal(spec.source.value).label("source"),
        literal(spec.source_ref).label("source_ref"),
        literal(spec.actor).label("actor"),
        literal(spec.note).label("note"),
        literal(now, UTCDateTime()).label("created_at"),
    ]
    names = [column.name for column in columns]
    inserted = (
        await session.execute(
            upsert_insert(session, MOVEMENTS)
            .from_select(names, select(*columns).where(*conditions))
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(MOVEMENTS.c.id, MOVEMENTS.c.delta_on_hand, MOVEMENTS.c.delta_on_hold)
        )
    ).one_or_none()
    if inserted is None:
        return await existing_movement(session, spec)
    delta = Delta(on_hand=inserted.delta_on_hand, on_hold=inserted.delta_on_hold)
    await session.execute(
        update(LEVELS)
        .where(*_at(spec))
        .values(on_hand=LEVELS.c.on_hand + delta.on_hand, on_hold=LEVELS.c.on_hold + delta.on_hold)
    )
    return Applied(inserted.id, delta, replayed=False)


async def shortfall(session: AsyncSession, *, node_id: str, sku_id: str) -> int:
    """How many units reservations and holds exceed on-hand by (0 when they do not)."""
    excess = (
        await session.execute(
            select(LEVELS.c.reserved + LEVELS.c.on_hold - LEVELS.c.on_hand).where(
                LEVELS.c.node_id == node_id, LEVELS.c.sku_id == sku_id
            )
        )
    ).scalar_one_or_none()
    return max(0, int(excess or 0))
