"""Console authentication: the session cookie (or a user API key for scripts), roles and CSRF."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.console.sessions import CONSOLE_ROLES, csrf_token, session_principal
from cloud.deps import get_database, get_session
from cloud.security import USER_KEY_PREFIX, Principal, Role
from cloud.services.auth import authenticate

SESSION_COOKIE = "retailedge_session"
CSRF_COOKIE = "retailedge_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


async def current_user(request: Request) -> Principal | None:
    """The console user of this request: its session cookie, else a bearer user API key."""
    database = get_database(request)
    token = request.cookies.get(SESSION_COOKIE)
    header = request.headers.get("authorization", "")
    async with database.sessions() as session:
        if token:
            return await session_principal(session=session, token=token, now=datetime.now(UTC))
        if header.lower().startswith("bearer ") and header[7:].startswith(USER_KEY_PREFIX):
            return await authenticate(session=session, token=header[7:].strip())
    return None


class ConsoleGuard:
    """Admits console users with one of ``roles``; 401 without a login, 403 for other roles."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:
        principal = await current_user(request)
        if principal is None:
            raise ApiError(
                401, "not_logged_in", "log in at /console/login (or send a user API key)"
            )
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(role.value for role in self.roles))
            raise ApiError(
                403,
                "forbidden_role",
                f"role {principal.role.value!r} may not see this; it needs one of: {allowed}",
            )
        return principal


# Commits before the response is sent (FastAPI's default request scope runs a yield
# dependency's exit after sending, so a client could act on an answer not yet committed).
CommittedSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
ConsoleUser = Annotated[Principal, Depends(ConsoleGuard(CONSOLE_ROLES))]
ConsoleFleet = Annotated[Principal, Depends(ConsoleGuard(frozenset({Role.ADMIN, Role.OPERATOR})))]


def check_csrf(request: Request, submitted: str | None) -> None:
    """Double-submit check for cookie-authenticated POSTs: the token in the form or header must
    equal the CSRF cookie, and both must belong to the session cookie. API-key calls carry no
    cookie a browser could send on its own, so they need no token."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if not session_token:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = csrf_token(session_token)
    if (
        not submitted
        or not hmac.compare_digest(submitted, cookie)
        or not hmac.compare_digest(submitted, expected)
    ):
        raise ApiError(
            403, "csrf_failed", f"{CSRF_FIELD}: missing or stale; reload the page and try again"
        )


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"
