"""Console passwords and login sessions (keyword-only services taking ``session``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.console.passwords import (
    PasswordHash,
    WeakPassword,
    hash_password,
    verify_password,
)
from cloud.console_models import ConsoleSession, UserPassword
from cloud.models import ApiKey
from cloud.security import Principal, Role, hash_token

SESSION_LIFETIME = timedelta(hours=12)
CONSOLE_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.WAREHOUSE})
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY = hash_password("not-a-real-password", salt=b"\0" * 16)


async def set_password(
    *, session: AsyncSession, user_name: str, password: str, now: datetime
) -> None:
    """Set or replace ``user_name``'s console password and end the user's sessions."""
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == user_name)) is None:
        raise ApiError(404, "user_not_found", f"name: no user {user_name!r}; create it first")
    try:
        hashed = hash_password(password)
    except WeakPassword as exc:
        raise ApiError(422, "weak_password", str(exc)) from None
    row = await session.get(UserPassword, user_name)
    if row is None:
        session.add(
            UserPassword(
                user_name=user_name,
                salt_hex=hashed.salt_hex,
                hash_hex=hashed.hash_hex,
                params=hashed.params,
                updated_at=now,
            )
        )
    else:
        row.salt_hex, row.hash_hex, row.params = hashed.salt_hex, hashed.hash_hex, hashed.params
        row.updated_at = now
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_name == user_name))
    await session.flush()


async def log_in(
    *, session: AsyncSession, user_name: str, password: str, now: datetime
) -> tuple[str, Principal] | None:
    """A new session token for a console user with the right password, else None."""
    row = (
        await session.execute(
            select(ApiKey.role, UserPassword.salt_hex, UserPassword.hash_hex, UserPassword.params)
            .join(UserPassword, UserPassword.user_name == ApiKey.name)
            .where(ApiKey.name == user_name)
        )
    ).one_or_none()
    if row is None:
        verify_password(password, _DUMMY)
        return None
    if not verify_password(password, PasswordHash(row.salt_hex, row.hash_hex, row.params)):
        return None
    role = Role(row.role)
    if role not in CONSOLE_ROLES:
        raise ApiError(
            403, "forbidden_role", f"role {role.value!r} has no console; use the API instead"
        )
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=hash_token(token),
            user_name=user_name,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    await session.flush()
    return token, Principal(role=role, name=user_name)


async def session_principal(
    *, session: AsyncSession, token: str, now: datetime
) -> Principal | None:
    """The user a session token belongs to, or None (unknown or expired)."""
    row = (
        await session.execute(
            select(ApiKey.name, ApiKey.role)
            .join(ConsoleSession, ConsoleSession.user_name == ApiKey.name)
            .where(ConsoleSession.token_hash == hash_token(token), ConsoleSession.expires_at > now)
        )
    ).one_or_none()
    if row is None:
        return None
    return Principal(role=Role(row.role), name=row.name)


async def log_out(*, session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))
    )


def csrf_token(session_token: str) -> str:
    """The CSRF token bound to a session (sent as a readable cookie and echoed in requests)."""
    return hashlib.sha256(b"retailedge-csrf:" + session_token.encode()).hexdigest()
