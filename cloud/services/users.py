"""User API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.models import ApiKey
from cloud.schemas import UserCreated, UserRoleName
from cloud.security import hash_token, new_user_key


async def create_user(
    *, session: AsyncSession, name: str, role: UserRoleName, now: datetime
) -> UserCreated:
    """A new user with a fresh API key; ApiError 409 if the name is taken. Flushes, no commit."""
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise _exists(name)
    key = new_user_key()
    session.add(ApiKey(name=name, role=role, key_hash=hash_token(key), created_at=now))
    try:
        await session.flush()
    except IntegrityError:
        raise _exists(name) from None
    return UserCreated(name=name, role=role, api_key=key)


def _exists(name: str) -> ApiError:
    return ApiError(409, "user_exists", f"user {name!r} already exists; choose another name")
