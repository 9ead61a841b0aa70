"""Catalogue look-ups the stock services need: nodes in scope, SKUs by id or GTIN in base
units, a gateway's node, locations and pallet manifests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Location, Node, NodeGateway, PalletManifest, Sku
from cloud.security import Principal
from cloud.services.scope import visible_node_ids
from cloud.stock_rules import Line


async def require_node(
    session: AsyncSession, *, principal: Principal, node_id: str, field: str
) -> Node:
    """The node ``node_id`` if the principal may move stock there; 422 if unknown, 403 if out
    of the principal's scope (warehouse users work at their nodes only)."""
    node = await session.get(Node, node_id)
    if node is None:
        raise ApiError(422, "unknown_node", f"{field}: no node {node_id!r}")
    visible = await visible_node_ids(session=session, principal=principal)
    if visible is not None and node_id not in visible:
        raise ApiError(
            403, "node_out_of_scope", f"{field}: {principal.name!r} does not work at {node_id!r}"
        )
    return node


async def scoped_nodes(
    session: AsyncSession, *, principal: Principal, node_id: str | None
) -> frozenset[str] | None:
    """The nodes a listing may show: None for all, else a set (a warehouse user's nodes,
    narrowed to ``node_id`` when given)."""
    visible = await visible_node_ids(session=session, principal=principal)
    if node_id is None:
        return visible
    if visible is not None and node_id not in visible:
        raise ApiError(
            403, "node_out_of_scope", f"node_id: {principal.name!r} does not work at {node_id!r}"
        )
    return frozenset({node_id})


async def skus_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, Sku]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.scalars(select(Sku).where(Sku.id.in_(wanted)))).all()
    return {row.id: row for row in rows}


def _cache(session: AsyncSession, name: str) -> dict[Any, Any]:
    """A look-up cache that lives as long as the session (one request or projector batch)."""
    caches: dict[str, dict[Any, Any]] = session.info.setdefault("stock_lookup", {})
    return caches.setdefault(name, {})


async def skus_by_gtin(session: AsyncSession, gtins: Iterable[str]) -> dict[str, Sku]:
    cache = _cache(session, "gtin")
    gtins = list(gtins)
    wanted = set(gtins) - set(cache)
    if wanted:
        rows = (await session.scalars(select(Sku).where(Sku.gtin.in_(wanted)))).all()
        cache.update(dict.fromkeys(wanted))
        cache.update({row.gtin: row for row in rows})
    return {gtin: cache[gtin] for gtin in gtins if cache[gtin] is not None}


def packs(skus: Iterable[Sku]) -> dict[str, tuple[str, int]]:
    """Case SKU id -> (unit SKU id, units per case), for :func:`cloud.stock_rules.units`."""
    return {sku.id: (sku.pack_of, sku.pack_quantity) for sku in skus if sku.pack_of is not None}


async def gateway_node(session: AsyncSession, gateway_id: str) -> str | None:
    row = await session.get(NodeGateway, gateway_id)
    return None if row is None else row.node_id


async def location(session: AsyncSession, *, node_id: str, code: str) -> Location | None:
    cache = _cache(session, "location")
    if (node_id, code) not in cache:
        cache[node_id, code] = await session.get(Location, (node_id, code))
    found: Location | None = cache[node_id, code]
    return found


async def manifest_lines(session: AsyncSession, sscc: str) -> list[Line] | None:
    manifest = await session.get(PalletManifest, sscc)
    if manifest is None:
        return None
    return [Line(str(line["sku_id"]), int(line["quantity"])) for line in manifest.lines]
