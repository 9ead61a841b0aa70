"""Async engine construction; SQLite connections get WAL, a busy timeout and foreign keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 15_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``)."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Runs outside any transaction, which journal_mode=WAL requires.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit is on disk before ingest acks it, so the gateway may delete what the cloud
    # acknowledged even if the server loses power (NORMAL in WAL mode can lose the last commits).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def session_factory(
    engine: AsyncEngine, info: Mapping[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; each starts with a copy of ``info`` as its ``Session.info``."""
    return async_sessionmaker(engine, expire_on_commit=False, info=dict(info or {}))


class Database:
    """An engine and its session factory, owned by one app or one CLI command.

    ``session_info`` carries settings that services read from the session they are given
    (e.g. :func:`cloud.services.outbound_match.session_info`)."""

    def __init__(self, url: str, *, session_info: Mapping[str, Any] | None = None) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine, session_info)

    async def dispose(self) -> None:
        await self.engine.dispose()
