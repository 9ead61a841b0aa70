"""Shared fixtures: real services (skipped with a reason when absent, failing in CI) and paths."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


def _postgres_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _postgres_database_url(name: str) -> str:
    return f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"


def _create_postgres_database(template: str | None = None) -> str:
    name = f"retailedge_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    _postgres_admin(f'CREATE DATABASE "{name}"{clause}')
    return name


def _drop_postgres_database(name: str) -> None:
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _scratch_postgres_database(template: str | None = None) -> Iterator[str]:
    name = _create_postgres_database(template)
    try:
        yield name
    finally:
        _drop_postgres_database(name)


class _TemplateCopies:
    """Fresh copies of the migrated template, each made while the test before it runs.

    CREATE DATABASE ... TEMPLATE takes ~0.5 s, nearly all of it the server writing and syncing
    files, so one thread makes the next copy and another drops used ones while tests run,
    instead of each test waiting for both. Every test still gets a database nobody used."""

    def __init__(self, template: str) -> None:
        self._template = template
        self._creator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-copy")
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-drop")
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def take(self) -> str:
        ready = self._next or self._creator.submit(_create_postgres_database, self._template)
        self._next = self._creator.submit(_create_postgres_database, self._template)
        return ready.result()

    def drop(self, name: str) -> None:
        self._drops.append(self._dropper.submit(_drop_postgres_database, name))

    def close(self) -> None:
        if self._next is not None:
            with contextlib.suppress(Exception):  # its failure is of no test
                self.drop(self._next.result())
        self._creator.shutdown(wait=True)
        self._dropper.shutdown(wait=True)
        for dropped in self._drops:
            dropped.result()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards (asyncpg URL)."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    with _scratch_postgres_database() as name:
        yield _postgres_database_url(name)


@pytest.fixture(scope="session")
def _migrated_postgres_template() -> Iterator[str]:
    """A database migrated to the newest schema once per run, copied by each test that needs one."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    from cloud.migrate import upgrade_database

    with _scratch_postgres_database() as name:
        asyncio.run(upgrade_database(_postgres_database_url(name)))
        yield name


@pytest.fixture(scope="session")
def _postgres_template_copies(_migrated_postgres_template: str) -> Iterator[_TemplateCopies]:
    copies = _TemplateCopies(_migrated_postgres_template)
    try:
        yield copies
    finally:
        copies.close()


@pytest.fixture
def migrated_postgres_url(_postgres_template_copies: _TemplateCopies) -> Iterator[str]:
    """A fresh PostgreSQL database already at the newest schema (a copy of a migrated template)."""
    name = _postgres_template_copies.take()
    try:
        yield _postgres_database_url(name)
    finally:
        _postgres_template_copies.drop(name)


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cloud.migrate import upgrade_database

    path = tmp_path_factory.mktemp("sqlite-template") / "cloud.db"
    asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def migrated_sqlite_url(_migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A SQLite database file in tmp_path already at the newest schema."""
    path = tmp_path / "cloud.db"
    shutil.copyfile(_migrated_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def mqtt_broker() -> tuple[str, int]:
    require_service("Mosquitto", MQTT_HOST, MQTT_PORT)
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def free_port() -> int:
    return retailedge.processes.free_port()


# The suite runs on two pytest-xdist workers (pyproject's addopts). These long tests drive
# several real processes in real time (a live fleet, the demo, browsers, benchmarks); they run
# one after another on one worker, so no two of them compete for the machine's two cores.
_ONE_AT_A_TIME = (
    "tests/integration/test_live_fleet.py",
    "tests/integration/test_demo.py",
    "tests/integration/test_bench.py",
    "tests/console/test_console_demo.py",
    "tests/console/test_console_browser.py",
    "tests/cloud/allocation/test_bench_allocate.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        if Path(str(item.path)).relative_to(root).as_posix() in _ONE_AT_A_TIME:
            item.add_marker(pytest.mark.xdist_group("real-time"))
