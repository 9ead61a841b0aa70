"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloud.db import Database
from cloud.errors import install_error_handlers
from cloud.routes import admin, health, ingest, ingest_log, vehicles
from cloud.settings import Settings
from cloud.telemetry import make_telemetry_store


def create_app(settings: Settings) -> FastAPI:
    """The cloud API on ``settings``' database (migrate it first: :mod:`cloud.migrate`).

    The engine is created here, not at startup, so in-process clients without lifespan
    events work; ``app.state.database.dispose()`` releases it (the lifespan does on shutdown).
    """
    settings.ensure_data_dir()
    database = Database(settings.resolved_database_url)
    telemetry = make_telemetry_store(settings, database.sessions)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await telemetry.start()
        # Start-up objects (modules, models, the app) never die: keep them out of every
        # collection, so the collections that 5,000-record batches trigger stay short.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await telemetry.stop()
            await database.dispose()

    app = FastAPI(
        title="RetailEdge cloud",
        version="0.1.0",
        description="Ingest from edge gateways and fleet queries. Errors are "
        '`{"error": {"code", "message"}}`.',
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.telemetry = telemetry
    install_error_handlers(app)
    for router in (
        health.router,
        ingest.router,
        vehicles.router,
        admin.router,
        ingest_log.router,
    ):
        app.include_router(router)
    return app
