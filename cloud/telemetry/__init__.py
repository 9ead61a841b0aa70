"""Telemetry stores: SQL tables (default) or InfluxDB through a transactional outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.settings import Settings
from cloud.telemetry.base import TelemetryStore
from cloud.telemetry.influx import InfluxTelemetryStore
from cloud.telemetry.sql import SqlTelemetryStore

__all__ = ["InfluxTelemetryStore", "SqlTelemetryStore", "TelemetryStore", "make_telemetry_store"]


def make_telemetry_store(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> TelemetryStore:
    """The store ``settings.telemetry_store`` names."""
    if settings.telemetry_store == "sql":
        return SqlTelemetryStore()
    from cloud.telemetry.writer import InfluxWriter

    assert settings.influx_url is not None  # enforced by Settings
    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    writer = InfluxWriter(
        url=settings.influx_url,
        token=token,
        org=settings.influx_org,
        bucket=settings.influx_bucket,
    )
    return InfluxTelemetryStore(
        sessions=sessions, writer=writer, max_pending_records=settings.influx_max_pending_records
    )
