"""Grouped placement on SQLite in one thread hop per batch.

Through aiosqlite every statement is a round trip to the connection's thread, and a placement
needs about ten; on a busy two-core machine each hop costs milliseconds of scheduling. So the
SQLite writer runs a whole batch of placements synchronously in one worker thread, on its own
connection, inside one ``BEGIN IMMEDIATE`` transaction: one query each for existing orders,
members and stock levels of the whole batch, then per order the same pure steps as
:func:`cloud.services.order_placement.place_order` (service rules, ATP, allocation policy).
The stock read at the start is exact while the transaction holds the write lock, so an order
reserves against it in memory (an option whose picks are not all there is skipped without a
statement); at the end one conditional atomic UPDATE per (node, SKU) applies the batch's total
there, the guard against overselling — if any matches no row the whole batch rolls back and
the queue places its orders again one savepoint each — and one multi-row INSERT per table
stores the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, bindparam, event, insert, select, update
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url

from cloud.allocation_policy import Option, explain_choice, explain_rejection, plan_options
from cloud.api_error import ApiError
from cloud.atp import (
    BasketLine,
    Candidate,
    PromiseClass,
    evaluate_nodes,
    outside_every_area,
    promise_deadline,
)
from cloud.catalog_models import Member
from cloud.channels import NormalisedOrder
from cloud.db import SQLITE_BUSY_TIMEOUT_MS
from cloud.db import _sqlite_on_connect as sqlite_on_connect
from cloud.member_rules import RuleSet, decide_service
from cloud.order_models import AllocationDecision, Order, OrderEvent, OrderLine, WebhookDelivery
from cloud.order_schemas import AllocationSummary, OrderPlaced, PlacedLine
from cloud.order_status import OrderStatus
from cloud.pii import PiiCipher
from cloud.services.allocation import AllocationConfig
from cloud.services.allocation_cache import SkuInfo, Snapshot
from cloud.services.order_lifecycle import status_payload
from cloud.services.reservation import Pick, merge_picks, movement_row
from cloud.stock_models import Reservation, StockLevel, StockMovement

_T: Final[dict[str, Table]] = {
    "orders": Order.__table__,  # type: ignore[dict-item]
    "lines": OrderLine.__table__,  # type: ignore[dict-item]
    "events": OrderEvent.__table__,  # type: ignore[dict-item]
    "decisions": AllocationDecision.__table__,  # type: ignore[dict-item]
    "webhooks": WebhookDelivery.__table__,  # type: ignore[dict-item]
    "reservations": Reservation.__table__,  # type: ignore[dict-item]
    "movements": StockMovement.__table__,  # type: ignore[dict-item]
}
_LEVELS: Final[Table] = StockLevel.__table__  # type: ignore[assignment]

# Orders already known by (channel, external id). Two expanding IN lists instead of a row-value
# IN: the statement compiles once (a row-value list is coerced element by element on every
# batch) and the unique index on (channel, external_id) still serves it; pairs that match only
# crosswise are dropped in Python.
_EXISTING: Final = select(
    _T["orders"].c.channel,
    _T["orders"].c.external_id,
    _T["orders"].c.id,
    _T["orders"].c.fingerprint,
).where(
    _T["orders"].c.channel.in_(bindparam("channels", expanding=True)),
    _T["orders"].c.external_id.in_(bindparam("external_ids", expanding=True)),
)
_MEMBERS: Final = select(Member.id, Member.tier, Member.tags, Member.active).where(
    Member.id.in_(bindparam("ids", expanding=True))
)
_AVAILABLE: Final = select(
    _LEVELS.c.node_id,
    _LEVELS.c.sku_id,
    _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.on_hold,
).where(_LEVELS.c.sku_id.in_(bindparam("skus", expanding=True)))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A placement checked as far as it can be without the database (in the event loop)."""

    order_id: str
    channel_id: str
    channel_kind: str
    webhook_url: str | None
    order: NormalisedOrder
    fingerprint: str
    skus: tuple[SkuInfo, ...]
    actor: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Replay:
    """The order exists with the same content: answer with the stored order."""

    order_id: str


Outcome = OrderPlaced | Replay | ApiError


@dataclass
class _Rows:
    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in _T}
    )
    # (node, sku) -> units the batch reserves there, applied by one conditional UPDATE each
    reserve: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].append(row)


def sync_engine_for(url: str) -> Engine:
    """A synchronous engine on the same SQLite file, configured like :mod:`cloud.db`."""
    sync_url = make_url(url).set(drivername="sqlite")
    engine = create_sync_engine(
        sync_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
    )
    event.listen(engine, "connect", sqlite_on_connect)
    return engine


def place_batch(
    engine: Engine,
    jobs: Sequence[Prepared],
    *,
    catalogue: Snapshot,
    rules: tuple[int, RuleSet],
    cipher: PiiCipher,
    config: AllocationConfig,
) -> list[Outcome]:
    """Place ``jobs`` in one transaction (call it in a worker thread). Raises only when the
    transaction itself fails; per-order refusals are returned as ApiError outcomes."""
    with engine.connect() as connection:
        return place_in_transaction(
            connection, jobs, catalogue=catalogue, rules=rules, cipher=cipher, config=config
        )


def place_in_transaction(
    connection: Connection,
    jobs: Sequence[Prepared],
    *,
    catalogue: Snapshot,
    rules: tuple[int, RuleSet],
    cipher: PiiCipher,
    config: AllocationConfig,
) -> list[Outcome]:
    """:func:`place_batch` on an open connection with no transaction begun: on SQLite through
    the synchronous engine, on PostgreSQL through ``AsyncConnection.run_sync``."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.begin()
    try:
        outcomes = _place_all(connection, jobs, catalogue, rules, cipher, config)
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
    return outcomes


def _place_all(
    connection: Connection,
    jobs: Sequence[Prepared],
    catalogue: Snapshot,
    rules: tuple[int, RuleSet],
    cipher: PiiCipher,
    config: AllocationConfig,
) -> list[Outcome]:
    existing = _existing(connection, jobs)
    members = _members(connection, jobs)
    stock = _stock(connection, jobs)
    rows = _Rows()
    outcomes: list[Outcome] = []
    for job in jobs:
        key = (job.channel_id, job.order.external_id)
        known = existing.get(key)
        if known is not None:
            order_id, fingerprint = known
            if fingerprint != job.fingerprint:
                outcomes.append(_conflict(job, order_id))
            else:
                outcomes.append(Replay(order_id))
            continue
        try:
            placed = _place_one(job, catalogue, rules, cipher, config, stock, members, rows)
        except ApiError as refused:
            outcomes.append(refused)
            continue
        existing[key] = (job.order_id, job.fingerprint)
        outcomes.append(placed)
    _apply_reservations(connection, rows.reserve, max((job.now for job in jobs), default=None))
    for name, table_rows in rows.tables.items():
        if table_rows:
            connection.execute(insert(_T[name]), table_rows)
    return outcomes


def _conflict(job: Prepared, order_id: str) -> ApiError:
    return ApiError(
        409,
        "duplicate_order_conflict",
        f"external_id: order {job.order.external_id!r} of channel {job.channel_id!r} was "
        f"already placed as {order_id} with other content; use a new external id",
    )


def _existing(
    connection: Connection, jobs: Sequence[Prepared]
) -> dict[tuple[str, str], tuple[str, str]]:
    keys = {(job.channel_id, job.order.external_id) for job in jobs}
    result = connection.execute(
        _EXISTING,
        {
            "channels": sorted({channel for channel, _ in keys}),
            "external_ids": sorted({external_id for _, external_id in keys}),
        },
    )
    return {(c, e): (i, f) for c, e, i, f in result if (c, e) in keys}


def _members(
    connection: Connection, jobs: Sequence[Prepared]
) -> dict[str, tuple[str, frozenset[str], bool]]:
    ids = sorted({job.order.member_id for job in jobs if job.order.member_id})
    if not ids:
        return {}
    result = connection.execute(_MEMBERS, {"ids": ids})
    return {row.id: (row.tier, frozenset(row.tags or ()), bool(row.active)) for row in result}


def _stock(connection: Connection, jobs: Sequence[Prepared]) -> dict[tuple[str, str], int]:
    skus = sorted({sku.id for job in jobs for sku in job.skus})
    result = connection.execute(_AVAILABLE, {"skus": skus})
    return {(node, sku): int(units) for node, sku, units in result}


def _place_one(
    job: Prepared,
    catalogue: Snapshot,
    rules: tuple[int, RuleSet],
    cipher: PiiCipher,
    config: AllocationConfig,
    stock: dict[tuple[str, str], int],
    members: dict[str, tuple[str, frozenset[str], bool]],
    rows: _Rows,
) -> OrderPlaced:
    from cloud.services.order_placement import ChannelInfo, service_context

    order_in = job.order
    tier: str | None = None
    tags: frozenset[str] = frozenset()
    if order_in.member_id is not None:
        member = members.get(order_in.member_id)
        if member is None or not member[2]:
            raise ApiError(
                422, "unknown_member", f"member_id: no active member {order_in.member_id!r}"
            )
        tier, tags = member[0], member[1]
    basket = [
        BasketLine(sku.id, line.quantity, sku.temperature_class)
        for sku, line in zip(job.skus, order_in.lines, strict=True)
    ]
    candidates = evaluate_nodes(
        catalogue.nodes,
        lat=order_in.lat,
        lon=order_in.lon,
        basket=basket,
        stock=stock,
        timing=config.timing,
        now=job.now,
    )
    if outside_every_area(candidates):
        raise ApiError(
            422,
            "outside_delivery_area",
            f"address: ({order_in.lat:.5f}, {order_in.lon:.5f}) is outside the delivery area "
            "of every node",
        )
    rule_version, rule_set = rules
    channel = ChannelInfo(job.channel_id, job.channel_kind, job.webhook_url)
    service = decide_service(rule_set, service_context(channel, order_in, job.skus, tier, tags))
    requested = PromiseClass(order_in.requested_promise or service.promise_class)
    chosen = _reserve_first(job, candidates, basket, requested, config, stock, rows)
    now = job.now
    if chosen is None:
        status, reason = OrderStatus.FAILED.value, explain_rejection(candidates, requested)
        outcome, node_ids, promise, promise_by = "rejected", [], requested, None
        nodes: tuple[str | None, ...] = tuple(None for _ in basket)
        summary = reason
    else:
        by_id = {c.node.id: c for c in candidates}
        status, reason = OrderStatus.ALLOCATED.value, None
        outcome, node_ids, promise = chosen.outcome, chosen.node_ids, chosen.promise
        promise_by = max(promise_deadline(promise, by_id[n].node, now) for n in node_ids)
        nodes = chosen.nodes
        summary = explain_choice(chosen, candidates, requested)
    order_row = {
        "id": job.order_id,
        "channel": job.channel_id,
        "external_id": order_in.external_id,
        "fingerprint": job.fingerprint,
        "member_id": order_in.member_id,
        "status": status,
        "status_reason": reason,
        "promise_class": promise.value,
        "promise_by": promise_by,
        "priority": service.priority,
        "service": service.as_dict(),
        "rule_version": rule_version,
        "delivery_lat": order_in.lat,
        "delivery_lon": order_in.lon,
        "address_enc": cipher.encrypt(order_in.address_text),
        "recipient_name_enc": cipher.encrypt(order_in.recipient_name),
        "recipient_phone_enc": cipher.encrypt(order_in.recipient_phone),
        "placed_at": order_in.placed_at or now,
        "updated_at": now,
        "version": 2,
    }
    rows.add("orders", order_row)
    lines = [
        {
            "order_id": job.order_id,
            "line_no": number,
            "sku_id": sku.id,
            "quantity": line.quantity,
            "unit_price_cents": line.unit_price_cents,
            "node_id": node,
        }
        for number, (sku, line, node) in enumerate(
            zip(job.skus, order_in.lines, nodes, strict=True), start=1
        )
    ]
    for line in lines:
        rows.add("lines", line)
    rows.add(
        "decisions",
        {
            "order_id": job.order_id,
            "outcome": outcome,
            "node_ids": node_ids,
            "promise_by": promise_by,
            "candidates": [c.figures(promise) for c in candidates if c.within_radius][:20],
            "summary": summary,
            "decided_at": now,
        },
    )
    for from_status, to_status, why in ((None, "received", None), ("received", status, reason)):
        rows.add(
            "events",
            {
                "order_id": job.order_id,
                "from_status": from_status,
                "to_status": to_status,
                "reason": why,
                "actor": job.actor,
                "at": now,
            },
        )
    if job.webhook_url:
        _webhooks(job, order_row, rows)
    return OrderPlaced(
        order_id=job.order_id,
        channel=job.channel_id,
        external_id=order_in.external_id,
        status=status,
        status_reason=reason,
        promise_class=promise.value,
        promise_by=promise_by,
        nodes=node_ids,
        service=service.as_dict(),
        rule_version=rule_version,
        lines=[PlacedLine(**{k: v for k, v in line.items() if k != "order_id"}) for line in lines],
        allocation=AllocationSummary(outcome=outcome, node_ids=node_ids, summary=summary),
        replayed=False,
    )


def _webhooks(job: Prepared, order_row: dict[str, Any], rows: _Rows) -> None:
    order = Order(
        id=job.order_id,
        channel=job.channel_id,
        external_id=job.order.external_id,
        status=OrderStatus.RECEIVED.value,
        status_reason=None,
        version=1,
        promise_by=None,
    )
    received = status_payload(order, job.now)
    order.status, order.status_reason = order_row["status"], order_row["status_reason"]
    order.version, order.promise_by = order_row["version"], order_row["promise_by"]
    for body in (received, status_payload(order, job.now)):
        rows.add(
            "webhooks",
            {
                "order_id": job.order_id,
                "channel": job.channel_id,
                "url": job.webhook_url,
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": job.now,
                "last_error": None,
                "created_at": job.now,
                "delivered_at": None,
            },
        )


def _reserve_first(
    job: Prepared,
    candidates: Sequence[Candidate],
    basket: Sequence[BasketLine],
    requested: PromiseClass,
    config: AllocationConfig,
    stock: dict[tuple[str, str], int],
    rows: _Rows,
) -> Option | None:
    """The first option whose picks are all available in ``stock`` (exact: read under the
    write lock and kept up to date); its units are taken from ``stock`` and added to the
    batch's reservations, which :func:`_apply_reservations` writes with conditional UPDATEs."""
    for option in plan_options(candidates, basket, requested, config.split):
        picks = merge_picks(
            Pick(node, line.sku_id, line.quantity)
            for node, line in zip(option.nodes, basket, strict=True)
        )
        if any(stock.get((p.node_id, p.sku_id), 0) < p.quantity for p in picks):
            continue
        for pick in picks:
            key = (pick.node_id, pick.sku_id)
            stock[key] -= pick.quantity
            rows.reserve[key] = rows.reserve.get(key, 0) + pick.quantity
            rows.add(
                "movements",
                movement_row(
                    order_id=job.order_id,
                    action="reserve",
                    pick=pick,
                    generation=1,
                    deltas=(0, pick.quantity),
                    actor=job.actor,
                    now=job.now,
                ),
            )
            rows.add(
                "reservations",
                {
                    "order_id": job.order_id,
                    "node_id": pick.node_id,
                    "sku_id": pick.sku_id,
                    "quantity": pick.quantity,
                    "state": "held",
                    "updated_at": job.now,
                },
            )
        return option
    return None


class StockMoved(Exception):
    """A conditional reservation UPDATE matched no row: the stock read at the start of the
    batch was not what the database holds. The batch is rolled back (the queue then places
    its orders one savepoint each)."""


# The conditional reservation as plain SQL (the statement
# :func:`cloud.services.reservation.reserve_lines` issues through the ORM session).
_RESERVE_SQL: Final = (
    "UPDATE stock_levels SET reserved = reserved + ?, updated_at = ? "
    "WHERE node_id = ? AND sku_id = ? AND on_hand - reserved - on_hold >= ?"
)


def _apply_reservations(
    connection: Connection, totals: dict[tuple[str, str], int], now: datetime | None
) -> None:
    """One conditional UPDATE per (node, SKU) for the batch's total there, all or nothing:
    the guard against overselling, whatever the in-memory figures said (StockMoved)."""
    if not totals or now is None:
        return
    if connection.dialect.name != "sqlite":
        _apply_reservations_portable(connection, totals, now)
        return
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format
    parameters = [(units, stamp, node, sku, units) for (node, sku), units in sorted(totals.items())]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(_RESERVE_SQL, parameters)
        updated = cursor.rowcount
    finally:
        cursor.close()
    if updated != len(parameters):
        raise StockMoved(f"{len(parameters) - updated} of {len(parameters)} reservations failed")


_RESERVE: Final = (
    update(_LEVELS)
    .where(
        _LEVELS.c.node_id == bindparam("node"),
        _LEVELS.c.sku_id == bindparam("sku"),
        _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.on_hold >= bindparam("units"),
    )
    .values(reserved=_LEVELS.c.reserved + bindparam("units"), updated_at=bindparam("now"))
)


def _apply_reservations_portable(
    connection: Connection, totals: dict[tuple[str, str], int], now: datetime
) -> None:
    """The same guard through SQLAlchemy, one statement per (node, SKU) in a fixed order (so
    concurrent batches lock rows in the same order on PostgreSQL, whose row lock makes a
    waiting UPDATE re-check the condition against the committed stock)."""
    for (node, sku), units in sorted(totals.items()):
        result = connection.execute(
            _RESERVE, {"node": node, "sku": sku, "units": units, "now": now}
        )
        if result.rowcount != 1:
            raise StockMoved(f"reservation of {units} x {sku} at {node} failed")
