"""Per-process snapshots of the node network, the SKU catalogue and the channels for order
intake.

Orders arrive far more often than the catalogue changes, so placement reads nodes, SKUs and
channels from memory. A snapshot older than :data:`MAX_AGE_S` is re-checked with one cheap
query (row count and newest ``updated_at`` of nodes and SKUs) and a table is reloaded when its
stamp changed; channels (no ``updated_at``) are reloaded on every re-check. So a catalogue
change made through any API replica is in force within :data:`MAX_AGE_S`; a SKU reference the
snapshot does not know is looked up in the database before it is called unknown, so a SKU
created a moment ago is never refused.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.atp import NodeInfo
from cloud.catalog_models import Channel, Node, Sku

MAX_AGE_S: Final = 0.5


@dataclass(frozen=True, slots=True)
class SkuInfo:
    id: str
    gtin: str
    temperature_class: str
    category: str
    active: bool


@dataclass
class Snapshot:
    """Nodes and SKUs as of the last check; read it, never change it."""

    nodes: tuple[NodeInfo, ...] = ()
    skus: dict[str, SkuInfo] = field(default_factory=dict)
    by_gtin: dict[str, SkuInfo] = field(default_factory=dict)
    # channel id -> (kind, webhook URL, active)
    channels: dict[str, tuple[str, str | None, bool]] = field(default_factory=dict)
    node_stamp: tuple[Any, ...] | None = None
    sku_stamp: tuple[Any, ...] | None = None
    checked_at: float = -1e9


_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()


def _engine(session: AsyncSession) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _stamp(count: Any, newest: datetime | None) -> tuple[Any, ...]:
    return (int(count or 0), newest.isoformat() if newest is not None else None)


def node_info(node: Node) -> NodeInfo:
    return NodeInfo(
        id=node.id,
        kind=node.kind,
        lat=node.lat,
        lon=node.lon,
        timezone=node.timezone,
        opening_hours=node.opening_hours,
        capabilities=frozenset(node.capabilities or ()),
        delivery_radius_km=node.delivery_radius_km,
        active=bool(node.active),
    )


def _sku_info(sku: Sku) -> SkuInfo:
    return SkuInfo(sku.id, sku.gtin, sku.temperature_class, sku.category, bool(sku.active))


async def snapshot(*, session: AsyncSession, max_age_s: float = MAX_AGE_S) -> Snapshot:
    """The snapshot for the session's database, re-checked when older than ``max_age_s``."""
    engine = _engine(session)
    snapshot = _snapshots.get(engine)
    if snapshot is None:
        snapshot = Snapshot()
        _snapshots[engine] = snapshot
    checked_at = time.monotonic()
    if checked_at - snapshot.checked_at < max_age_s:
        return snapshot
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(Node).scalar_subquery(),
                select(func.max(Node.updated_at)).scalar_subquery(),
                select(func.count()).select_from(Sku).scalar_subquery(),
                select(func.max(Sku.updated_at)).scalar_subquery(),
            )
        )
    ).one()
    node_stamp, sku_stamp = _stamp(row[0], row[1]), _stamp(row[2], row[3])
    if node_stamp != snapshot.node_stamp:
        nodes = (await session.scalars(select(Node).order_by(Node.id))).all()
        snapshot.nodes = tuple(node_info(node) for node in nodes)
        snapshot.node_stamp = node_stamp
    if sku_stamp != snapshot.sku_stamp:
        skus = [_sku_info(sku) for sku in (await session.scalars(select(Sku))).all()]
        snapshot.skus = {sku.id: sku for sku in skus}
        snapshot.by_gtin = {sku.gtin: sku for sku in skus}
        snapshot.sku_stamp = sku_stamp
    channels = await session.execute(
        select(Channel.id, Channel.kind, Channel.webhook_url, Channel.active)
    )
    snapshot.channels = {row.id: (row.kind, row.webhook_url, bool(row.active)) for row in channels}
    snapshot.checked_at = checked_at
    return snapshot


def gtin14(reference: str) -> str | None:
    """An 8/12/13/14-digit GTIN left-padded to 14 digits, or None if ``reference`` is not one."""
    if reference.isdigit() and len(reference) in (8, 12, 13, 14):
        return reference.zfill(14)
    return None


async def resolve_skus(
    *, session: AsyncSession, catalogue: Snapshot, references: list[str]
) -> dict[str, SkuInfo]:
    """Each reference (SKU id or GTIN) that names a SKU, mapped to it; unknown ones are left
    out (the caller names them)."""
    snapshot = catalogue
    found: dict[str, SkuInfo] = {}
    missing: list[str] = []
    for reference in references:
        sku = snapshot.skus.get(reference)
        if sku is None:
            gtin = gtin14(reference)
            sku = snapshot.by_gtin.get(gtin) if gtin else None
        if sku is None:
            missing.append(reference)
        else:
            found[reference] = sku
    if missing:
        gtins = [g for g in (gtin14(r) for r in missing) if g]
        rows = (
            await session.scalars(select(Sku).where(or_(Sku.id.in_(missing), Sku.gtin.in_(gtins))))
        ).all()
        for sku in map(_sku_info, rows):
            for reference in missing:
                if reference == sku.id or gtin14(reference) == sku.gtin:
                    found[reference] = sku
    return found


def forget(session: AsyncSession) -> None:
    """Drop the snapshot (tests that change the catalogue without touching ``updated_at``)."""
    _snapshots.pop(_engine(session), None)
