"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from cloud.console import routes as console_routes
from cloud.console.alarm_watch import AlarmWatch
from cloud.db import Database
from cloud.errors import install_error_handlers
from cloud.pii import pii_cipher
from cloud.projector import StockProjector
from cloud.routes import (
    admin,
    audit,
    catalog,
    catalog_import,
    catalog_members,
    gateway_config,
    health,
    heartbeat,
    holds,
    ingest,
    ingest_log,
    pos,
    stock,
    vehicles,
)
from cloud.routes import atp as atp_routes
from cloud.routes import dispatch as dispatch_routes
from cloud.routes import fleet as fleet_routes
from cloud.routes import order_lifecycle as order_lifecycle_routes
from cloud.routes import orders as order_routes
from cloud.routes import rider as rider_routes
from cloud.routes import service_rules as service_rules_routes
from cloud.routes import tracking as tracking_routes
from cloud.routes import webhooks as webhook_routes
from cloud.services import outbound_match
from cloud.services.dispatch_loop import DispatchLoop
from cloud.services.placement_queue import PlacementQueue
from cloud.settings import Settings
from cloud.telemetry import make_telemetry_store
from cloud.webhooks import sender_for


def create_app(settings: Settings) -> FastAPI:
    """The cloud API on ``settings``' database (migrate it first: :mod:`cloud.migrate`).

    The engine is created here, not at startup, so in-process clients without lifespan
    events work; ``app.state.database.dispose()`` releases it (the lifespan does on shutdown).
    """
    settings.ensure_data_dir()
    database = Database(
        settings.resolved_database_url,
        session_info=outbound_match.session_info(settings.rfid_match_window_min),
    )
    telemetry = make_telemetry_store(settings, database.sessions)
    projector = StockProjector(database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await telemetry.start()
        sender = sender_for(settings, database) if settings.webhook_sender else None
        if sender is not None:
            sender.start()
        await projector.start()
        await dispatch.start()
        await alarm_watch.start()
        # Start-up objects (modules, models, the app) never die: keep them out of every
        # collection, so the collections that 5,000-record batches trigger stay short.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if sender is not None:
                await sender.stop()
            await projector.stop()
            await dispatch.stop()
            await alarm_watch.stop()
            await placements.close()
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
    placements = app.state.placement_queue = PlacementQueue(database)
    app.state.projector = projector
    dispatch = app.state.dispatch = DispatchLoop(database, settings, clock=lambda: _now_of(app))
    app.state.pii = pii_cipher(settings)
    alarm_watch = app.state.alarm_watch = AlarmWatch(
        database, settings.alarm_watch_s, clock=lambda: _now_of(app)
    )
    install_error_handlers(app)
    catalog_import.install_catalog_errors(app)
    # Routes are matched in this order: the two hot paths (gateway batches, channel orders)
    # come first so they do not pay for matching the rest.
    for router in (
        health.router,
        ingest.router,
        heartbeat.router,
        order_routes.router,
        vehicles.router,
        admin.router,
        ingest_log.router,
        catalog.router,
        catalog_members.router,
        catalog_import.router,
        audit.router,
        order_lifecycle_routes.router,
        webhook_routes.router,
        atp_routes.router,
        service_rules_routes.router,
        gateway_config.router,
        stock.router,
        pos.router,
        holds.router,
        fleet_routes.router,
        rider_routes.router,
        dispatch_routes.router,
        tracking_routes.router,
        console_routes.router,
    ):
        app.include_router(router)
    return app


def _now_of(app: FastAPI) -> datetime:
    """The app's clock (``app.state.clock`` where a test fixes the time), else UTC now."""
    clock = getattr(app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)
