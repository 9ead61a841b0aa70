"""Gateway configuration documents: set by admins, downloaded by each gateway by version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.gateway_config_models import GatewayConfigRow
from cloud.gateway_config_schemas import GatewayConfigDoc, canonical_document
from cloud.models import Gateway
from firmware_bridge.wire import format_time


class GatewayConfigPublic(BaseModel):
    gateway_id: str
    version: int
    document: dict[str, Any]
    updated_at: str
    updated_by: str


def _public(row: GatewayConfigRow) -> GatewayConfigPublic:
    return GatewayConfigPublic(
        gateway_id=row.gateway_id,
        version=row.version,
        document=row.document,
        updated_at=format_time(row.updated_at),
        updated_by=row.updated_by,
    )


async def _require_gateway(session: AsyncSession, gateway_id: str) -> None:
    if await session.get(Gateway, gateway_id) is None:
        raise ApiError(
            404,
            "gateway_not_found",
            f"gateway {gateway_id!r} is not registered; see GET /api/v1/gateways",
        )


async def put_config(
    *,
    session: AsyncSession,
    gateway_id: str,
    document: GatewayConfigDoc,
    actor: str,
    now: datetime,
) -> tuple[GatewayConfigPublic, bool]:
    """Store ``document`` as the gateway's config; the version grows by one unless the document
    equals the current one. Returns the config and whether it changed. Flushes, no commit."""
    await _require_gateway(session, gateway_id)
    stored = canonical_document(document)
    row = await session.get(GatewayConfigRow, gateway_id, with_for_update=True)
    if row is not None and row.document == stored:
        return _public(row), False
    if row is None:
        row = GatewayConfigRow(
            gateway_id=gateway_id, version=1, document=stored, updated_at=now, updated_by=actor
        )
        session.add(row)
    else:
        row.version += 1
        row.document = stored
        row.updated_at = now
        row.updated_by = actor
    try:
        await session.flush()
    except IntegrityError:
        raise ApiError(
            409, "config_conflict", "another change to this config was saved meanwhile; retry"
        ) from None
    return _public(row), True


async def get_config(*, session: AsyncSession, gateway_id: str) -> GatewayConfigPublic:
    """The gateway's current config; ApiError 404 when the gateway or its config is unknown."""
    await _require_gateway(session, gateway_id)
    row = await session.get(GatewayConfigRow, gateway_id)
    if row is None:
        raise ApiError(
            404,
            "no_config",
            f"gateway {gateway_id!r} has no cloud configuration yet; it runs on the rules of "
            "its local config file (PUT /api/v1/gateways/{id}/config sets one)",
        )
    return _public(row)
