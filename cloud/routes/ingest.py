"""POST /api/v1/ingest: a gateway's batch, parsed by hand so size and gzip stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request

from cloud.api_error import ApiError
from cloud.deps import DatabaseDep, GatewayOnly, RoleDocumentedRoute, SettingsDep, TelemetryDep
from cloud.ingest.body import decode_body, too_large
from cloud.ingest.envelope import parse_batch
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


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes, "request body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes, "request body")
        chunks.append(chunk)
    return b"".join(chunks)


def check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415, "unsupported_media_type", f"Content-Type {media_type!r}: send application/json"
        )


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
    check_content_type(request)
    raw = await read_body(request, settings.max_batch_bytes)
    data = decode_body(
        raw,
        content_encoding=request.headers.get("content-encoding"),
        max_bytes=settings.max_batch_bytes,
    )
    batch = parse_batch(data)
    if batch.gateway_id != principal.gateway_id:
        raise ApiError(
            403,
            "wrong_gateway",
            f"this token belongs to gateway {principal.gateway_id!r}, not {batch.gateway_id!r}",
        )
    telemetry.check_accepting()
    async with database.sessions.begin() as session:
        outcome = await ingest_batch(
            session=session, batch=batch, now=datetime.now(UTC), telemetry=telemetry
        )
    telemetry.committed()
    return outcome
