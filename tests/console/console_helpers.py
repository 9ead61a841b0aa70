"""Shared steps of the console tests: passwords and a logged-in browser-like client."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from cloud.console.auth import CSRF_COOKIE
from cloud.console.sessions import set_password
from cloud.db import Database

PASSWORD = "correct horse battery"


async def give_password(database: Database, name: str, password: str = PASSWORD) -> None:
    async with database.sessions.begin() as session:
        await set_password(
            session=session, user_name=name, password=password, now=datetime.now(UTC)
        )


async def log_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """GET the form (its CSRF cookie), then POST it like a browser does."""
    form = await client.get("/console/login")
    assert form.status_code == 200
    csrf = client.cookies[CSRF_COOKIE]
    return await client.post(
        "/console/login", data={"name": name, "password": password, "csrf_token": csrf}
    )


def csrf_header(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}
