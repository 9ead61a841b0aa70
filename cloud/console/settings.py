"""Console settings from ``RETAILEDGE_CONSOLE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETAILEDGE_CONSOLE_", extra="ignore")

    tile_url: str | None = Field(
        default=None,
        description="Optional raster tile server for the map, e.g. "
        "https://tiles.example.com/{z}/{x}/{y}.png; unset: the offline vector base only.",
    )
    stream_interval_s: float = Field(default=1.0, gt=0, le=60)
    stream_lifetime_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="A live stream ends after this and the page resumes it at once; a server "
        "shutting down waits for open streams, so keep it short.",
    )

    @field_validator("tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")) or not all(
            part in value for part in ("{z}", "{x}", "{y}")
        ):
            raise ValueError(
                "RETAILEDGE_CONSOLE_TILE_URL: use an http(s) URL with {z}, {x} and {y}"
            )
        return value
