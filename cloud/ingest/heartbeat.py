"""Validate a gateway's heartbeat (``POST /api/v1/gateway/heartbeat``) and shape its answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cloud.api_error import ApiError
from cloud.ingest.gateway_fields import gateway_id_of, sent_at_of


@dataclass(frozen=True, slots=True)
class Heartbeat:
    gateway_id: str
    sent_at: datetime
    health: dict[str, Any]


class HeartbeatResult(BaseModel):
    server_time: str = Field(description="The cloud's clock when it stored the heartbeat.")
    ack_seq: int = Field(
        description="Highest seq stored contiguously for this gateway; a heartbeat never "
        "changes it."
    )


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_heartbeat", message)


def parse_heartbeat(data: Any) -> Heartbeat:
    """The validated heartbeat of ``data``; raises ApiError 422 naming the first problem."""
    if not isinstance(data, dict):
        raise _invalid("the heartbeat must be a JSON object")
    if "records" in data:
        raise _invalid("a heartbeat carries no records; send them to POST /api/v1/ingest")
    gateway_id = gateway_id_of(data, _invalid)
    sent_at = sent_at_of(data, _invalid)
    health = data.get("health")
    if not isinstance(health, dict):
        raise _invalid("health must be an object")
    return Heartbeat(gateway_id=gateway_id, sent_at=sent_at, health=health)
