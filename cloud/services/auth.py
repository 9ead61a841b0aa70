"""Resolve a bearer token to a principal by its SHA-256 hash."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import ApiKey, Gateway
from cloud.security import GATEWAY_TOKEN_PREFIX, USER_KEY_PREFIX, Principal, Role, hash_token


async def authenticate(*, session: AsyncSession, token: str) -> Principal | None:
    """The principal owning ``token``, or None when no gateway or user has it."""
    digest = hash_token(token)
    if token.startswith(GATEWAY_TOKEN_PREFIX):
        gateway_id = await session.scalar(select(Gateway.id).where(Gateway.token_hash == digest))
        if gateway_id is None:
            return None
        return Principal(role=Role.GATEWAY, name=gateway_id, gateway_id=gateway_id)
    if token.startswith(USER_KEY_PREFIX):
        row = (
            await session.execute(select(ApiKey.name, ApiKey.role).where(ApiKey.key_hash == digest))
        ).one_or_none()
        if row is None:
            return None
        return Principal(role=Role(row.role), name=row.name)
    return None
