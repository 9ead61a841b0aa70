"""POST /api/v1/gateway/heartbeat: an idle gateway's health and sign of life (no records)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request

from cloud.api_error import ApiError
from cloud.deps import DatabaseDep, GatewayOnly, RoleDocumentedRoute, SettingsDep
from cloud.ingest.body import decode_body
from cloud.ingest.heartbeat import HeartbeatResult, parse_heartbeat
from cloud.routes.ingest import check_content_type, read_body
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
    check_content_type(request)
    raw = await read_body(request, settings.max_batch_bytes)
    data = decode_body(
        raw,
        content_encoding=request.headers.get("content-encoding"),
        max_bytes=settings.max_batch_bytes,
    )
    beat = parse_heartbeat(data)
    if beat.gateway_id != principal.gateway_id:
        raise ApiError(
            403,
            "wrong_gateway",
            f"this token belongs to gateway {principal.gateway_id!r}, not {beat.gateway_id!r}",
        )
    now = datetime.now(UTC)
    async with database.sessions.begin() as session:
        ack_seq = await record_heartbeat(session=session, heartbeat=beat, now=now)
    return HeartbeatResult(server_time=format_time(now), ack_seq=ack_seq)
