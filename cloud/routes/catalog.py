"""Catalogue CRUD: nodes, storage zones, locations, SKUs, pallet manifests, channels.

Writes are admin-only; POST creates (idempotent for identical content, 409 otherwise), PUT
creates or replaces, DELETE deactivates (nodes, SKUs, channels). Lists page with
``limit``/``offset``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud.catalog_models import Channel, Location, Node, Sku, StorageZone
from cloud.catalog_schemas import (
    ChannelIn,
    ChannelPublic,
    LocationIn,
    LocationPublic,
    ManifestIn,
    ManifestPublic,
    NodeIn,
    NodePublic,
    Page,
    SkuIn,
    SkuPublic,
    TemperatureClass,
    ZoneIn,
    ZonePublic,
)
from cloud.catalog_schemas import (
    NodeKind as NodeKindName,
)
from cloud.deps import AdminOnly, AdminOrOperator, AnyUser, PiiDep, RoleDocumentedRoute, SessionDep
from cloud.services import catalog
from cloud.services.catalog_base import Listing
from cloud.services.catalog_goods import ManifestKind, SkuKind
from cloud.services.catalog_network import LocationKind, NodeKind, ZoneKind, location_key
from cloud.services.catalog_parties import ChannelKind

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute, tags=["catalogue"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Records to skip (next_offset of a page).")]
ActiveFilter = Annotated[bool | None, Query(description="Only active (true) or inactive (false).")]


def _now() -> datetime:
    return datetime.now(UTC)


def _created(response: Response, created: bool) -> None:
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK


def _channel_public(item: ChannelIn) -> ChannelPublic:
    return ChannelPublic(
        id=item.id,
        kind=item.kind,
        webhook_url=item.webhook_url,
        has_webhook_secret=item.webhook_secret is not None,
        active=item.active,
    )


# -- nodes --


@router.get("/nodes", response_model=Page[NodePublic])
async def list_nodes(
    _: AnyUser,
    session: SessionDep,
    pii: PiiDep,
    kind: Annotated[NodeKindName | None, Query()] = None,
    active: ActiveFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[NodePublic]:
    """Nodes (DCs, front warehouses, stores) with their gateways, by id."""
    filters = []
    if kind is not None:
        filters.append(Node.kind == kind)
    if active is not None:
        filters.append(Node.active.is_(active))
    return await catalog.list_page(
        session=session,
        kind=NodeKind(pii),
        listing=Listing(tuple(filters), limit, offset),
        public=lambda item: NodePublic.model_validate(item.model_dump()),
    )


@router.post("/nodes", response_model=NodePublic, status_code=status.HTTP_201_CREATED)
async def create_node(
    body: NodeIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> NodePublic:
    """Create a node (201; 200 when an identical node exists; 409 when it differs)."""
    item, created = await catalog.save_one(
        session=session, kind=NodeKind(pii), item=body, now=_now(), mode="create"
    )
    _created(response, created)
    return NodePublic.model_validate(item.model_dump())


@router.get("/nodes/{node_id}", response_model=NodePublic)
async def get_node(node_id: str, _: AnyUser, session: SessionDep, pii: PiiDep) -> NodePublic:
    item = await catalog.get_one(session=session, kind=NodeKind(pii), key=node_id)
    return NodePublic.model_validate(item.model_dump())


@router.put("/nodes/{node_id}", response_model=NodePublic)
async def put_node(
    node_id: str,
    body: NodeIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> NodePublic:
    """Create or replace a node (its gateway list included)."""
    kind = NodeKind(pii)
    catalog.check_path_key(kind, body, node_id)
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=_now(), mode="upsert"
    )
    _created(response, created)
    return NodePublic.model_validate(item.model_dump())


@router.delete("/nodes/{node_id}", response_model=NodePublic)
async def deactivate_node(
    node_id: str, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> NodePublic:
    """Deactivate a node (kept for history; PUT it with active=true to bring it back)."""
    item = await NodeKind(pii).deactivate(session, node_id, _now())
    return NodePublic.model_validate(item.model_dump())


# -- storage zones --


@router.get("/zones", response_model=Page[ZonePublic])
async def list_zones(
    _: AnyUser,
    session: SessionDep,
    pii: PiiDep,
    node_id: Annotated[str | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ZonePublic]:
    """Storage zones with the cold-chain alarm subjects that stand for them."""
    filters = () if node_id is None else (StorageZone.node_id == node_id,)
    return await catalog.list_page(
        session=session,
        kind=ZoneKind(pii),
        listing=Listing(filters, limit, offset),
        public=lambda item: ZonePublic.model_validate(item.model_dump()),
    )


@router.post("/zones", response_model=ZonePublic, status_code=status.HTTP_201_CREATED)
async def create_zone(
    body: ZoneIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> ZonePublic:
    item, created = await catalog.save_one(
        session=session, kind=ZoneKind(pii), item=body, now=_now(), mode="create"
    )
    _created(response, created)
    return ZonePublic.model_validate(item.model_dump())


@router.get("/zones/{zone_id}", response_model=ZonePublic)
async def get_zone(zone_id: str, _: AnyUser, session: SessionDep, pii: PiiDep) -> ZonePublic:
    item = await catalog.get_one(session=session, kind=ZoneKind(pii), key=zone_id)
    return ZonePublic.model_validate(item.model_dump())


@router.put("/zones/{zone_id}", response_model=ZonePublic)
async def put_zone(
    zone_id: str,
    body: ZoneIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> ZonePublic:
    kind = ZoneKind(pii)
    catalog.check_path_key(kind, body, zone_id)
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=_now(), mode="upsert"
    )
    _created(response, created)
    return ZonePublic.model_validate(item.model_dump())


# -- locations --


@router.get("/locations", response_model=Page[LocationPublic])
async def list_locations(
    _: AnyUser,
    session: SessionDep,
    pii: PiiDep,
    node_id: Annotated[str | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[LocationPublic]:
    """Bin, shelf and dock codes, by node and code."""
    filters = () if node_id is None else (Location.node_id == node_id,)
    return await catalog.list_page(
        session=session,
        kind=LocationKind(pii),
        listing=Listing(filters, limit, offset),
        public=lambda item: LocationPublic.model_validate(item.model_dump()),
    )


@router.post("/locations", response_model=LocationPublic, status_code=status.HTTP_201_CREATED)
async def create_location(
    body: LocationIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> LocationPublic:
    item, created = await catalog.save_one(
        session=session, kind=LocationKind(pii), item=body, now=_now(), mode="create"
    )
    _created(response, created)
    return LocationPublic.model_validate(item.model_dump())


@router.get("/locations/{node_id}/{code:path}", response_model=LocationPublic)
async def get_location(
    node_id: str, code: str, _: AnyUser, session: SessionDep, pii: PiiDep
) -> LocationPublic:
    item = await catalog.get_one(
        session=session, kind=LocationKind(pii), key=location_key(node_id, code)
    )
    return LocationPublic.model_validate(item.model_dump())


@router.put("/locations/{node_id}/{code:path}", response_model=LocationPublic)
async def put_location(
    node_id: str,
    code: str,
    body: LocationIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> LocationPublic:
    kind = LocationKind(pii)
    catalog.check_path_key(kind, body, location_key(node_id, code))
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=_now(), mode="upsert"
    )
    _created(response, created)
    return LocationPublic.model_validate(item.model_dump())


# -- SKUs --


@router.get("/skus", response_model=Page[SkuPublic])
async def list_skus(
    _: AnyUser,
    session: SessionDep,
    pii: PiiDep,
    category: Annotated[str | None, Query()] = None,
    temperature_class: Annotated[TemperatureClass | None, Query()] = None,
    gtin: Annotated[str | None, Query(description="GTIN-14 (zero-padded)")] = None,
    active: ActiveFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[SkuPublic]:
    """SKUs by id; GTINs are 14 digits."""
    filters = []
    if category is not None:
        filters.append(Sku.category == category)
    if temperature_class is not None:
        filters.append(Sku.temperature_class == temperature_class)
    if gtin is not None:
        filters.append(Sku.gtin == gtin.rjust(14, "0"))
    if active is not None:
        filters.append(Sku.active.is_(active))
    return await catalog.list_page(
        session=session,
        kind=SkuKind(pii),
        listing=Listing(tuple(filters), limit, offset),
        public=lambda item: SkuPublic.model_validate(item.model_dump()),
    )


@router.post("/skus", response_model=SkuPublic, status_code=status.HTTP_201_CREATED)
async def create_sku(
    body: SkuIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> SkuPublic:
    item, created = await catalog.save_one(
        session=session, kind=SkuKind(pii), item=body, now=_now(), mode="create"
    )
    _created(response, created)
    return SkuPublic.model_validate(item.model_dump())


@router.get("/skus/{sku_id}", response_model=SkuPublic)
async def get_sku(sku_id: str, _: AnyUser, session: SessionDep, pii: PiiDep) -> SkuPublic:
    item = await catalog.get_one(session=session, kind=SkuKind(pii), key=sku_id)
    return SkuPublic.model_validate(item.model_dump())


@router.put("/skus/{sku_id}", response_model=SkuPublic)
async def put_sku(
    sku_id: str,
    body: SkuIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> SkuPublic:
    kind = SkuKind(pii)
    catalog.check_path_key(kind, body, sku_id)
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=_now(), mode="upsert"
    )
    _created(response, created)
    return SkuPublic.model_validate(item.model_dump())


@router.delete("/skus/{sku_id}", response_model=SkuPublic)
async def deactivate_sku(sku_id: str, _: AdminOnly, session: SessionDep, pii: PiiDep) -> SkuPublic:
    """Deactivate a SKU: it leaves the gateway snapshot; history keeps it."""
    item = await SkuKind(pii).deactivate(session, sku_id, _now())
    return SkuPublic.model_validate(item.model_dump())


# -- pallet manifests --


@router.get("/manifests", response_model=Page[ManifestPublic])
async def list_manifests(
    _: AnyUser, session: SessionDep, pii: PiiDep, limit: Limit = 100, offset: Offset = 0
) -> Page[ManifestPublic]:
    """What SSCC-labelled pallets hold, by SSCC."""
    return await catalog.list_page(
        session=session,
        kind=ManifestKind(pii),
        listing=Listing((), limit, offset),
        public=lambda item: ManifestPublic.model_validate(item.model_dump()),
    )


@router.post("/manifests", response_model=ManifestPublic, status_code=status.HTTP_201_CREATED)
async def create_manifest(
    body: ManifestIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> ManifestPublic:
    item, created = await catalog.save_one(
        session=session, kind=ManifestKind(pii), item=body, now=_now(), mode="create"
    )
    _created(response, created)
    return ManifestPublic.model_validate(item.model_dump())


@router.get("/manifests/{sscc}", response_model=ManifestPublic)
async def get_manifest(sscc: str, _: AnyUser, session: SessionDep, pii: PiiDep) -> ManifestPublic:
    item = await catalog.get_one(session=session, kind=ManifestKind(pii), key=sscc)
    return ManifestPublic.model_validate(item.model_dump())


@router.put("/manifests/{sscc}", response_model=ManifestPublic)
async def put_manifest(
    sscc: str,
    body: ManifestIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> ManifestPublic:
    kind = ManifestKind(pii)
    catalog.check_path_key(kind, body, sscc)
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=_now(), mode="upsert"
    )
    _created(response, created)
    return ManifestPublic.model_validate(item.model_dump())


# -- channels --


@router.get("/channels", response_model=Page[ChannelPublic])
async def list_channels(
    _: AdminOrOperator,
    session: SessionDep,
    pii: PiiDep,
    active: ActiveFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ChannelPublic]:
    """Sales channels; webhook secrets are never shown."""
    filters = () if active is None else (Channel.active.is_(active),)
    return await catalog.list_page(
        session=session,
        kind=ChannelKind(pii),
        listing=Listing(filters, limit, offset),
        public=_channel_public,
    )


@router.post("/channels", response_model=ChannelPublic, status_code=status.HTTP_201_CREATED)
async def create_channel(
    body: ChannelIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> ChannelPublic:
    """Create a channel; then `POST /api/v1/users` with role channel and its id as name."""
    item, created = await catalog.save_one(
        session=session, kind=ChannelKind(pii), item=body, now=_now(), mode="create"
    )
    _created(response, created)
    return _channel_public(item)


@router.get("/channels/{channel_id}", response_model=ChannelPublic)
async def get_channel(
    channel_id: str, _: AdminOrOperator, session: SessionDep, pii: PiiDep
) -> ChannelPublic:
    item = await catalog.get_one(session=session, kind=ChannelKind(pii), key=channel_id)
    return _channel_public(item)


@router.put("/channels/{channel_id}", response_model=ChannelPublic)
async def put_channel(
    channel_id: str,
    body: ChannelIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> ChannelPublic:
    kind = ChannelKind(pii)
    catalog.check_path_key(kind, body, channel_id)
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=_now(), mode="upsert"
    )
    _created(response, created)
    return _channel_public(item)


@router.delete("/channels/{channel_id}", response_model=ChannelPublic)
async def deactivate_channel(
    channel_id: str, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> ChannelPublic:
    item = await ChannelKind(pii).deactivate(session, channel_id, _now())
    return _channel_public(item)
