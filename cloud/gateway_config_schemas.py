"""The gateway configuration document (pure): cold-chain rules shaped like the gateway TOML's
``[[coldchain]]`` tables, validated with errors that name the field (``coldchain[0].max_c``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Name = Annotated[str, Field(min_length=1, max_length=128)]
MAX_ZONES = 500
MAX_DEVICES_PER_ZONE = 200


class ColdChainZoneDoc(BaseModel):
    """A zone or vehicle compartment, its probes and band in °C (one side may be open)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    zone: Name
    devices: Annotated[list[Name], Field(min_length=1, max_length=MAX_DEVICES_PER_ZONE)]
    min_c: Annotated[float, Field(ge=-100, le=100)] | None = None
    max_c: Annotated[float, Field(ge=-100, le=100)] | None = None
    tolerance_s: Annotated[float, Field(ge=0, le=7 * 24 * 3600)] = 600.0
    silence_periods: Annotated[int, Field(ge=1, le=10_000)] = 3
    sample_period_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 30.0

    @model_validator(mode="after")
    def _band_valid(self) -> ColdChainZoneDoc:
        if self.min_c is None and self.max_c is None:
            raise ValueError("set min_c, max_c or both")
        if self.min_c is not None and self.max_c is not None and self.min_c > self.max_c:
            raise ValueError("min_c must be <= max_c")
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("devices: a device is listed twice")
        return self


class GatewayConfigDoc(BaseModel):
    """What ``PUT /api/v1/gateways/{id}/config`` takes and the gateway downloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coldchain: Annotated[list[ColdChainZoneDoc], Field(max_length=MAX_ZONES)] = []

    @model_validator(mode="after")
    def _zones_unique(self) -> GatewayConfigDoc:
        names = [zone.zone for zone in self.coldchain]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"coldchain: zone used twice: {', '.join(repeated)}")
        return self


class ConfigDocError(ValueError):
    """The document is invalid; the message names each bad field."""


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def parse_config_doc(data: Any) -> GatewayConfigDoc:
    """The validated document; raises :class:`ConfigDocError` naming every bad field."""
    if not isinstance(data, dict):
        raise ConfigDocError('body: must be a JSON object {"coldchain": [...]}')
    try:
        return GatewayConfigDoc.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = _location(tuple(error["loc"]))
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{where}: {message}" if where else message)
        raise ConfigDocError("; ".join(problems)) from None


def canonical_document(doc: GatewayConfigDoc) -> dict[str, Any]:
    """The stored form: every key present (defaults filled in), so equal rules compare equal."""
    return doc.model_dump(mode="json")


def config_etag(version: int) -> str:
    """The strong ETag of a config version."""
    return f'"{version}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110 asks
    for If-None-Match) or is ``*``."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)
