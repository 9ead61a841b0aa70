"""Roles, principals and token material (pure: no database, no HTTP)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

GATEWAY_TOKEN_PREFIX: Final = "rgw_"
USER_KEY_PREFIX: Final = "rku_"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    WAREHOUSE = "warehouse"
    # A sales channel's integration: submits and reads only its own orders (name = channel id).
    CHANNEL = "channel"
    GATEWAY = "gateway"
    # A courier's rider app: sees and confirms only its own tasks (name = courier id).
    RIDER = "rider"


USER_ROLES: Final[frozenset[Role]] = frozenset(
    {Role.ADMIN, Role.OPERATOR, Role.WAREHOUSE, Role.CHANNEL, Role.RIDER}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a user (by name) or a gateway (``gateway_id`` set)."""

    role: Role
    name: str
    gateway_id: str | None = None


def new_gateway_token() -> str:
    return GATEWAY_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_user_key() -> str:
    return USER_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Hex SHA-256; tokens carry 256 random bits, so no salt or slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
