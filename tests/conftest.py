"""Shared fixtures: real services (skipped with a reason when absent, failing in CI) and paths."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import retailedge.processes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def services_required() -> bool:
    return os.environ.get("RETAILEDGE_REQUIRE_SERVICES") == "1"


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is not listening; under RETAILEDGE_REQUIRE_SERVICES=1 fail instead."""
    if port_open(host, port):
        return
    message = f"{name} is not listening on {host}:{port}"
    if services_required():
        pytest.fail(f"{message} (RETAILEDGE_REQUIRE_SERVICES=1: CI must provide it)")
    pytest.skip(f"{message}; start it to run this test")


def shared_data(relative: str) -> Path:
    """A file or folder under ../shared/data, or a skip with the reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (it ships beside the project, not in it)")
    return path


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards (asyncpg URL)."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    import asyncpg

    name = f"retailedge_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def mqtt_broker() -> tuple[str, int]:
    require_service("Mosquitto", MQTT_HOST, MQTT_PORT)
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def free_port() -> int:
    return retailedge.processes.free_port()
