"""Gateway registration, listing and heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.ingest.heartbeat import Heartbeat
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


async def record_heartbeat(*, session: AsyncSession, heartbeat: Heartbeat, now: datetime) -> int:
    """Set the gateway's last_seen, clock skew and health in one statement; its ack_seq, which
    a heartbeat never changes. ApiError 404 when the gateway is not registered."""
    statement = (
        update(Gateway)
        .where(Gateway.id == heartbeat.gateway_id)
        .values(
            last_seen=now,
            clock_skew_s=(now - heartbeat.sent_at).total_seconds(),
            last_health=heartbeat.health,
        )
        .returning(Gateway.ack_seq)
    )
    ack_seq = (await session.execute(statement)).scalar_one_or_none()
    if ack_seq is None:
        raise ApiError(
            404,
            "gateway_not_found",
            f"gateway {heartbeat.gateway_id!r} is not registered; create it first",
        )
    return int(ack_seq)
