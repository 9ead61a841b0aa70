"""The catalogue snapshot a gateway caches: its node, the node's locations, active SKUs."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Location, NodeGateway, Sku
from cloud.catalog_schemas import CatalogueSnapshot, NodePublic, SnapshotLocation, SnapshotSku
from cloud.pii import PiiCipher
from cloud.services.catalog_network import NodeKind


async def gateway_snapshot(
    *, session: AsyncSession, gateway_id: str, cipher: PiiCipher
) -> CatalogueSnapshot:
    node_id = await session.scalar(
        select(NodeGateway.node_id).where(NodeGateway.gateway_id == gateway_id)
    )
    if node_id is None:
        raise ApiError(
            404,
            "gateway_not_installed",
            f"gateway {gateway_id!r} is not installed at any node; an admin lists it in the "
            "node's gateways (PUT /api/v1/nodes/{id} or import-catalogue --kind nodes)",
        )
    node = (await NodeKind(cipher).load(session, [node_id]))[node_id]
    locations = await session.execute(
        select(Location.code, Location.zone_id)
        .where(Location.node_id == node_id)
        .order_by(Location.code)
    )
    skus = await session.scalars(select(Sku).where(Sku.active.is_(True)).order_by(Sku.id))
    return CatalogueSnapshot(
        node=NodePublic.model_validate(node.model_dump()),
        locations=[SnapshotLocation(code=code, zone_id=zone) for code, zone in locations],
        skus=[
            SnapshotSku(
                id=sku.id,
                gtin=sku.gtin,
                name=sku.name,
                temperature_class=sku.temperature_class,
                pack_of=sku.pack_of,
                pack_quantity=sku.pack_quantity,
            )
            for sku in skus
        ],
    )


def snapshot_body_and_etag(snapshot: CatalogueSnapshot) -> tuple[bytes, str]:
    """Canonical JSON bytes and a strong ETag (quoted SHA-256 of exactly those bytes)."""
    body = json.dumps(
        snapshot.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    return body, f'"{hashlib.sha256(body).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: ``*`` or any listed tag (weak comparison) equals ``etag``."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
