"""FastAPI dependencies: settings, database sessions and role-checked principals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.db import Database
from cloud.pii import PiiCipher
from cloud.security import Principal, Role
from cloud.services.auth import authenticate
from cloud.settings import Settings
from cloud.telemetry.base import TelemetryStore

_bearer = HTTPBearer(
    auto_error=False,
    description="Gateway token (rgw_...) or user API key (rku_...): `retailedge cloud create-*`",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_telemetry(request: Request) -> TelemetryStore:
    store: TelemetryStore = request.app.state.telemetry
    return store


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the route returns without error."""
    async with get_database(request).sessions.begin() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# "function" scope: the transaction commits before the answer is sent, so a 2xx means stored
# (the default "request" scope would commit after the response has gone out).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
TelemetryDep = Annotated[TelemetryStore, Depends(get_telemetry)]


class RoleGuard:
    """Authenticates the bearer token and admits only ``roles``; see :func:`require_roles`."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or not credentials.credentials:
            raise ApiError(
                401,
                "missing_token",
                "send 'Authorization: Bearer <token>' with a gateway token or user API key",
            )
        # Own short transaction, so the route's transaction starts with its own first statement.
        async with get_database(request).sessions() as session:
            principal = await authenticate(session=session, token=credentials.credentials)
        if principal is None:
            raise ApiError(
                401, "invalid_token", "the token is not known; ask an admin for a new one"
            )
        if principal.role not in self.roles:
            allowed = ", ".join(role.value for role in self.roles)
            raise ApiError(
                403,
                "forbidden_role",
                f"role {principal.role.value!r} may not call this; it needs one of: {allowed}",
            )
        return principal


def require_roles(*roles: Role) -> RoleGuard:
    """The dependency each protected route declares: ``Depends(require_roles(Role.ADMIN))``."""
    return RoleGuard(roles)


def _guards(dependant: Dependant) -> list[RoleGuard]:
    found = [dependant.call] if isinstance(dependant.call, RoleGuard) else []
    for child in dependant.dependencies:
        found.extend(_guards(child))
    return found


class RoleDocumentedRoute(APIRoute):
    """Appends the roles a route admits to its OpenAPI description (and ``x-roles``)."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        roles = sorted({role.value for guard in _guards(self.dependant) for role in guard.roles})
        note = "Allowed roles: " + (", ".join(roles) if roles else "none (no authentication).")
        self.description = f"{self.description}\n\n{note}".strip()
        self.openapi_extra = {**(self.openapi_extra or {}), "x-roles": roles}


AdminOrOperator = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OPERATOR))]
AdminOnly = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
GatewayOnly = Annotated[Principal, Depends(require_roles(Role.GATEWAY))]
AnyUser = Annotated[
    Principal, Depends(require_roles(Role.ADMIN, Role.OPERATOR, Role.WAREHOUSE, Role.CHANNEL))
]


def get_pii_cipher(request: Request) -> PiiCipher:
    cipher: PiiCipher = request.app.state.pii
    return cipher


PiiDep = Annotated[PiiCipher, Depends(get_pii_cipher)]
# Stock at nodes: warehouse users only at their nodes (checked by the stock services).
StockStaff = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OPERATOR, Role.WAREHOUSE))]
AdminOrWarehouse = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.WAREHOUSE))]
RiderOnly = Annotated[Principal, Depends(require_roles(Role.RIDER))]
