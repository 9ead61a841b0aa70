"""Alembic configured in code (no ini file): upgrade a database to the newest schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from cloud.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, connection: Connection | None = None) -> Config:
    """An Alembic config for ``database_url``; ``connection`` makes env.py reuse it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Apply every pending migration; safe to call at each start."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, database_url, revision)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, database_url: str, revision: str) -> None:
    command.upgrade(alembic_config(database_url, connection), revision)
