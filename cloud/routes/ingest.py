"""POST /api/v1/ingest: a gateway's batch, parsed by hand so size and gzip stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request

from cloud.deps import DatabaseDep, GatewayOnly, RoleDocumentedRoute, SettingsDep, TelemetryDep
from cloud.ingest.envelope import parse_batch
from cloud.routes.gateway_body import read_gateway_message
from cloud.schemas import IngestResult
from cloud.services.ingest import ingest_batch

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute, tags=["ingest"])

_BATCH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["gateway_id", "first_seq", "last_seq", "sent_at", "records"],
    "properties": {
        "gateway_id": {"type": "string"},
        "first_seq": {"type": "integer", "minimum": 1},
        "last_seq": {"type": "integer", "minimum": 1},
        "sent_at": {"type": "string", "format": "date-time"},
        "records": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["seq", "kind"],
                "description": "firmware_bridge.wire record form plus its seq",
            },
        },
        "health": {"type": "object"},
    },
}


@router.post(
    "/ingest",
    response_model=IngestResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
)
async def ingest(
    request: Request,
    principal: GatewayOnly,
    database: DatabaseDep,
    settings: SettingsDep,
    telemetry: TelemetryDep,
) -> IngestResult:
    """Store a batch of records at most once per (gateway_id, seq); gzip bodies are accepted."""
    batch = await read_gateway_message(request, principal, settings.max_batch_bytes, parse_batch)
    telemetry.check_accepting()
    async with database.sessions.begin() as session:
        outcome = await ingest_batch(
            session=session, batch=batch, now=datetime.now(UTC), telemetry=telemetry
        )
    telemetry.committed()
    return outcome
