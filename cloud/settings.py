"""Typed settings from ``RETAILEDGE_*`` environment variables; CLI options override them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024
DEFAULT_RFID_MATCH_WINDOW_MIN = 30.0


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
    pii_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys for members' personal data, newest first; "
        "unset: a key generated once in <data_dir>/pii.key (back it up).",
    )
    allocation_split: Literal["allow", "never"] = Field(
        default="allow",
        description="When no single node can ship a whole basket in time: split it over "
        "several nodes (allow), or only ever ship from one node, more slowly (never).",
    )
    delivery_speed_kmh: float = Field(
        default=20.0, gt=0, description="Courier speed for ETAs (straight-line km per hour)."
    )
    handling_minutes: float = Field(
        default=15.0, ge=0, description="Pick and pack time added to every ETA."
    )
    webhook_max_attempts: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Order status webhook: attempts before a delivery is marked failed "
        "(backoff doubles from 1 s up to 10 min, jittered).",
    )
    webhook_sender: bool = Field(
        default=True,
        description="Run the order status webhook sender in this API process.",
    )
    influx_max_pending_records: int = Field(
        default=2_000_000,
        gt=0,
        description="Outbox backlog at which ingest answers 503 so gateways keep buffering.",
    )
    rfid_match_window_min: float = Field(
        default=DEFAULT_RFID_MATCH_WINDOW_MIN,
        gt=0,
        le=24 * 60,
        description="Minutes between a dock door's RFID out and an order's dispatch of the same "
        "SKU at the node within which the two are taken for the same units (booked once).",
    )

    alarm_watch_s: float = Field(
        default=15.0,
        ge=0,
        description="Seconds between looks at derived alarm conditions (gateway offline, backlog, "
        "clock skew, late risk) when no console is open, so one that clears and returns is two "
        "incidents; 0 leaves it to whoever lists alarms.",
    )

    dispatch_interval_s: float = Field(
        default=20.0,
        ge=0,
        description="Seconds between re-plans of the live dispatch loop (new orders are noticed "
        "within 2 s); 0 disables the loop in this process.",
    )
    dispatch_budget_s: float = Field(
        default=1.0, gt=0, le=30, description="Hard time budget of one re-plan (seconds)."
    )
    dispatch_background: bool = Field(
        default=True,
        description="While the dispatch loop runs, solve its newest snapshot from scratch in a "
        "worker process between re-plans; the next re-plan adopts those routes when better.",
    )
    dispatch_max_late_min: float = Field(
        default=30.0,
        ge=0,
        description="How late after its promise an own courier may still deliver; beyond it a "
        "task goes to the carrier (when one is configured).",
    )
    dispatch_carrier: Literal["none", "simulated"] = Field(
        default="none",
        description="Third-party carrier for tasks no own courier can make in time: none (they "
        "are planned late), or the in-process simulated carrier (tests and the demo).",
    )

    public_url: str | None = Field(
        default=None,
        description="The cloud's address as customers reach it, e.g. https://track.example.com: "
        "tracking links are made absolute with it; unset, they are paths (/t/<token>).",
    )

    @field_validator("public_url")
    @classmethod
    def _public_base(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        web = parts.scheme in ("http", "https") and bool(parts.netloc)
        if not web or parts.query or parts.fragment:
            raise ValueError(
                "RETAILEDGE_PUBLIC_URL: use an http(s) base URL without query or fragment, "
                "e.g. https://track.example.com"
            )
        return value.rstrip("/")

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
