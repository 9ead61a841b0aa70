"""Available-to-promise: ``POST /api/v1/atp``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from cloud.deps import RoleDocumentedRoute, SessionDep, require_roles
from cloud.order_schemas import AtpRequest, AtpResult
from cloud.routes.orders import allocation_config, request_time
from cloud.security import Principal, Role
from cloud.services.atp import available_to_promise

router = APIRouter(prefix="/api/v1/atp", route_class=RoleDocumentedRoute, tags=["orders"])

AtpPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OPERATOR, Role.CHANNEL))]


@router.post("", response_model=AtpResult)
async def atp(
    body: AtpRequest, request: Request, _: AtpPrincipal, session: SessionDep
) -> AtpResult:
    """Which nodes could fulfil this basket at this address, how soon, and what allocation
    would try first: every node within reach with its distance, ETA (opening hours in the
    node's timezone, handling, travel), temperature capability, available units and verdict.
    Nothing is reserved."""
    return await available_to_promise(
        session=session, request=body, config=allocation_config(request), now=request_time(request)
    )
