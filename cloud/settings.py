"""Typed settings from ``RETAILEDGE_*`` environment variables; CLI options override them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETAILEDGE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite:///<data_dir>/cloud.db",
    )
    data_dir: Path = Path("./retailedge-data")
    max_batch_bytes: int = Field(
        default=DEFAULT_MAX_BATCH_BYTES,
        gt=0,
        description="Upper bound for an ingest body, both as sent and after gzip decompression.",
    )
    telemetry_store: Literal["sql", "influx"] = Field(
        default="sql",
        description="Where measurement history goes: the cloud database, or InfluxDB through "
        "a transactional outbox. Positions stay in the database for fleet queries either way.",
    )
    influx_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8086")
    influx_token: SecretStr | None = None
    influx_org: str = "retailedge"
    influx_bucket: str = "telemetry"
    influx_max_pending_records: int = Field(
        default=2_000_000,
        gt=0,
        description="Outbox backlog at which ingest answers 503 so gateways keep buffering.",
    )

    @model_validator(mode="after")
    def _influx_needs_url(self) -> Self:
        if self.telemetry_store == "influx" and not self.influx_url:
            raise ValueError("RETAILEDGE_TELEMETRY_STORE=influx needs RETAILEDGE_INFLUX_URL")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cloud.db').resolve()}"

    @property
    def database_label(self) -> str:
        """The database URL with any password masked, for logs and CLI output."""
        return make_url(self.resolved_database_url).render_as_string(hide_password=True)

    def ensure_data_dir(self) -> None:
        """Create the data directory when the default SQLite database lives in it."""
        if not self.database_url:
            self.data_dir.mkdir(parents=True, exist_ok=True)
