"""User API keys."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Channel
from cloud.db import Database
from cloud.fleet_models import Courier
from cloud.models import ApiKey
from cloud.schemas import UserCreated, UserRoleName
from cloud.security import hash_token, new_user_key


async def create_user(
    *, session: AsyncSession, name: str, role: UserRoleName, now: datetime
) -> UserCreated:
    """A new user with a fresh API key; ApiError 409 if the name is taken. Flushes, no commit."""
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise _exists(name)
    if role == "channel" and await session.get(Channel, name) is None:
        raise ApiError(
            422,
            "unknown_channel",
            f"name: a channel user's name is its channel id and there is no channel {name!r}; "
            "create the channel first (POST /api/v1/channels or import-catalogue --kind channels)",
        )
    if role == "rider" and await session.get(Courier, name) is None:
        raise ApiError(
            422,
            "unknown_courier",
            f"name: a rider user's name is its courier id and there is no courier {name!r}; "
            "register the courier first (POST /api/v1/couriers)",
        )
    key = new_user_key()
    session.add(ApiKey(name=name, role=role, key_hash=hash_token(key), created_at=now))
    try:
        await session.flush()
    except IntegrityError:
        raise _exists(name) from None
    return UserCreated(name=name, role=role, api_key=key)


async def create_user_in(database_url: str, *, name: str, role: UserRoleName) -> str:
    """A new user's API key, created and committed in the (migrated) database at
    ``database_url``: for tools and tests that seed a server they started."""
    database = Database(database_url)
    try:
        async with database.sessions.begin() as session:
            created = await create_user(
                session=session, name=name, role=role, now=datetime.now(UTC)
            )
        return created.api_key
    finally:
        await database.dispose()


def _exists(name: str) -> ApiError:
    return ApiError(409, "user_exists", f"user {name!r} already exists; choose another name")
