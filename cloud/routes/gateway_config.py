"""Gateway configuration documents: admins set them, each gateway downloads its own by ETag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from cloud.api_error import ApiError
from cloud.deps import AdminOnly, AdminOrOperator, GatewayOnly, RoleDocumentedRoute, SessionDep
from cloud.gateway_config_schemas import ConfigDocError, config_etag, etag_matches, parse_config_doc
from cloud.services import gateway_config
from cloud.services.gateway_config import GatewayConfigPublic

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute, tags=["gateways"])

DOCUMENT_EXAMPLE = {
    "coldchain": [
        {
            "zone": "chiller-1",
            "devices": ["probe-a", "probe-b"],
            "min_c": 0.0,
            "max_c": 4.0,
            "tolerance_s": 600,
            "silence_periods": 3,
            "sample_period_s": 30,
        }
    ]
}


@router.put("/gateways/{gateway_id}/config", response_model=GatewayConfigPublic)
async def put_gateway_config(
    gateway_id: str,
    body: Annotated[Any, Body(examples=[DOCUMENT_EXAMPLE])],
    principal: AdminOnly,
    session: SessionDep,
    response: Response,
) -> GatewayConfigPublic:
    """Replace the gateway's cold-chain rules (the shape of the gateway TOML's ``[[coldchain]]``
    tables: zone, devices, min_c, max_c, tolerance_s, silence_periods, sample_period_s). The
    version grows by one unless the document is unchanged; the gateway applies it at its next
    poll without restart. 422 ``invalid_config`` names each bad field."""
    try:
        document = parse_config_doc(body)
    except ConfigDocError as exc:
        raise ApiError(422, "invalid_config", str(exc)) from None
    config, _ = await gateway_config.put_config(
        session=session,
        gateway_id=gateway_id,
        document=document,
        actor=principal.name,
        now=datetime.now(UTC),
    )
    response.headers["ETag"] = config_etag(config.version)
    return config


@router.get("/gateways/{gateway_id}/config", response_model=GatewayConfigPublic)
async def get_gateway_config(
    gateway_id: str, _: AdminOrOperator, session: SessionDep, response: Response
) -> GatewayConfigPublic:
    """The gateway's current configuration document and its version."""
    config = await gateway_config.get_config(session=session, gateway_id=gateway_id)
    response.headers["ETag"] = config_etag(config.version)
    return config


@router.get(
    "/gateway/config",
    response_model=GatewayConfigPublic,
    responses={304: {"description": "unchanged since the version in If-None-Match"}},
)
async def get_own_config(
    principal: GatewayOnly,
    session: SessionDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    """The calling gateway's own configuration; strong ETag = version, ``If-None-Match`` with
    the current one answers 304. 404 ``no_config`` while none was set."""
    assert principal.gateway_id is not None
    config = await gateway_config.get_config(session=session, gateway_id=principal.gateway_id)
    etag = config_etag(config.version)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return config
