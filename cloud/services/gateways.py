"""Gateway registration and listing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.models import Gateway
from cloud.schemas import GatewayCreated, GatewayPublic
from cloud.security import hash_token, new_gateway_token
from firmware_bridge.wire import format_time


async def create_gateway(
    *, session: AsyncSession, gateway_id: str, now: datetime
) -> GatewayCreated:
    """Register ``gateway_id`` with a fresh token; ApiError 409 if it exists. Flushes, no commit."""
    if await session.get(Gateway, gateway_id) is not None:
        raise _exists(gateway_id)
    token = new_gateway_token()
    session.add(Gateway(id=gateway_id, token_hash=hash_token(token), created_at=now, ack_seq=0))
    try:
        await session.flush()
    except IntegrityError:
        raise _exists(gateway_id) from None
    return GatewayCreated(id=gateway_id, token=token)


def _exists(gateway_id: str) -> ApiError:
    return ApiError(
        409, "gateway_exists", f"gateway {gateway_id!r} already exists; choose another id"
    )


async def list_gateways(*, session: AsyncSession) -> list[GatewayPublic]:
    rows = (await session.scalars(select(Gateway).order_by(Gateway.id))).all()
    return [
        GatewayPublic(
            id=row.id,
            ack_seq=row.ack_seq,
            last_seen=None if row.last_seen is None else format_time(row.last_seen),
            clock_skew_s=row.clock_skew_s,
            health=row.last_health,
        )
        for row in rows
    ]
