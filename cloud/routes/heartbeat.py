"""POST /api/v1/gateway/heartbeat: an idle gateway's health and sign of life (no records)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request

from cloud.deps import DatabaseDep, GatewayOnly, RoleDocumentedRoute, SettingsDep
from cloud.ingest.heartbeat import HeartbeatResult, parse_heartbeat
from cloud.routes.gateway_body import read_gateway_message
from cloud.services.gateways import record_heartbeat
from firmware_bridge.wire import format_time

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute, tags=["ingest"])

_HEARTBEAT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["gateway_id", "sent_at", "health"],
    "properties": {
        "gateway_id": {"type": "string"},
        "sent_at": {"type": "string", "format": "date-time"},
        "health": {"type": "object", "description": "the gateway's health snapshot"},
    },
}


@router.post(
    "/gateway/heartbeat",
    response_model=HeartbeatResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _HEARTBEAT_SCHEMA}},
        }
    },
)
async def heartbeat(
    request: Request, principal: GatewayOnly, database: DatabaseDep, settings: SettingsDep
) -> HeartbeatResult:
    """Update the gateway's last_seen, clock skew and health; never touches records or ack_seq.
    gzip bodies are accepted."""
    beat = await read_gateway_message(request, principal, settings.max_batch_bytes, parse_heartbeat)
    now = datetime.now(UTC)
    async with database.sessions.begin() as session:
        ack_seq = await record_heartbeat(session=session, heartbeat=beat, now=now)
    return HeartbeatResult(server_time=format_time(now), ack_seq=ack_seq)
