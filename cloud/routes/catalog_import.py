"""Bulk catalogue import, the gateway's catalogue snapshot, and warehouse users' nodes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from cloud.api_error import ApiError
from cloud.catalog_files import KINDS, detect_format
from cloud.catalog_schemas import ImportProblem, ImportResult, UserNodes
from cloud.deps import (
    AdminOnly,
    AdminOrOperator,
    GatewayOnly,
    PiiDep,
    RoleDocumentedRoute,
    SessionDep,
    SettingsDep,
)
from cloud.errors import error_body
from cloud.services import catalog, scope
from cloud.services.catalog_rows import CatalogRejected
from cloud.services.catalog_snapshot import etag_matches, gateway_snapshot, snapshot_body_and_etag

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute)

MAX_REPORTED_PROBLEMS = 1000


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "items"],
                    "properties": {
                        "kind": {"type": "string", "enum": list(KINDS)},
                        "items": {"type": "array", "items": {"type": "object"}},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {"type": "string", "enum": list(KINDS)},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/catalogue/import",
    response_model=ImportResult,
    tags=["catalogue"],
    openapi_extra=_IMPORT_BODY,
)
async def import_catalogue(
    request: Request, _: AdminOnly, session: SessionDep, pii: PiiDep, settings: SettingsDep
) -> ImportResult:
    """Load one kind of catalogue records, all or nothing.

    Either JSON ``{"kind": "skus", "items": [...]}``, or multipart/form-data with a ``kind``
    field and a ``file`` (CSV, JSON array, or JSON Lines by file name / content type).
    Kinds: nodes, zones, locations, skus, manifests, members, channels. A refused file answers
    422 ``import_rejected`` with every problem as ``{line, field, message}`` in
    ``error.problems``; nothing is stored then.
    """
    content_type = request.headers.get("content-type", "")
    now = datetime.now(UTC)
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_part_size=settings.max_batch_bytes)
        kind = form.get("kind")
        upload = form.get("file")
        if not isinstance(kind, str) or kind not in KINDS:
            raise ApiError(422, "validation_failed", f"kind: use one of: {', '.join(KINDS)}")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "validation_failed", "file: attach the CSV or JSON file")
        data = await upload.read()
        return await catalog.import_file(
            session=session,
            kind=kind,
            data=data,
            file_format=detect_format(upload.filename, upload.content_type),
            cipher=pii,
            now=now,
        )
    body = await _json_body(request, settings.max_batch_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
        raise ApiError(
            422, "validation_failed", f"kind: give one of {', '.join(KINDS)} with items: [...]"
        )
    if not isinstance(body.get("items"), list):
        raise ApiError(422, "validation_failed", "items: give a JSON array of records")
    return await catalog.import_items(
        session=session, kind=body["kind"], items=body["items"], cipher=pii, now=now
    )


async def _json_body(request: Request, limit: int) -> Any:
    raw = await request.body()
    if len(raw) > limit:
        raise ApiError(413, "body_too_large", f"the body exceeds {limit} bytes; split the file")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(
            422, "validation_failed", "body: send JSON or multipart/form-data with a file"
        ) from None


@router.get("/catalogue/snapshot", tags=["catalogue"], response_model=None)
async def catalogue_snapshot(
    principal: GatewayOnly,
    session: SessionDep,
    pii: PiiDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The calling gateway's node, that node's locations and every active SKU, with a strong
    ETag; send it back as If-None-Match to get 304 while nothing changed."""
    assert principal.gateway_id is not None
    snapshot = await gateway_snapshot(session=session, gateway_id=principal.gateway_id, cipher=pii)
    body, etag = snapshot_body_and_etag(snapshot)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


@router.get("/users/{name}/nodes", response_model=UserNodes, tags=["users"])
async def get_user_nodes(name: str, _: AdminOrOperator, session: SessionDep) -> UserNodes:
    """The nodes a warehouse user works at."""
    return UserNodes(node_ids=await scope.user_node_ids(session=session, user_name=name))


@router.put("/users/{name}/nodes", response_model=UserNodes, tags=["users"])
async def put_user_nodes(
    name: str, body: UserNodes, _: AdminOnly, session: SessionDep
) -> UserNodes:
    """Replace the nodes a warehouse user works at (sees and moves stock at)."""
    nodes = await scope.set_user_nodes(session=session, user_name=name, node_ids=body.node_ids)
    return UserNodes(node_ids=nodes)


async def _rejected(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CatalogRejected)
    shown = exc.problems[:MAX_REPORTED_PROBLEMS]
    first = "; ".join(problem.describe() for problem in shown[:3])
    more = f" (and {len(exc.problems) - 3} more)" if len(exc.problems) > 3 else ""
    body = error_body(
        "import_rejected",
        f"{exc.kind}: nothing imported, fix {len(exc.problems)} problem(s): {first}{more}",
    )
    body["error"]["problems"] = [
        ImportProblem(line=p.line, field=p.field, message=p.message).model_dump() for p in shown
    ]
    return JSONResponse(body, status_code=422)


def install_catalog_errors(app: FastAPI) -> None:
    """Render a refused import as 422 with every problem listed."""
    app.add_exception_handler(CatalogRejected, _rejected)
