"""Order placement: ``POST /api/v1/orders?channel=<id>`` with the channel's own payload."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from cloud.api_error import ApiError
from cloud.deps import RoleDocumentedRoute, RoleGuard
from cloud.deps import _bearer as bearer_scheme
from cloud.order_schemas import OrderPlaced
from cloud.pii import PiiCipher, pii_cipher
from cloud.security import Principal, Role, hash_token
from cloud.services.allocation import AllocationConfig
from cloud.services.order_placement import PlacementRequest
from cloud.services.placement_queue import PlacementQueue

router = APIRouter(prefix="/api/v1/orders", route_class=RoleDocumentedRoute, tags=["orders"])

# Seconds a placing key's principal is remembered (per process), so order intake does not pay
# a database round trip per request for authentication; a revoked key stops working here
# within this time.
AUTH_CACHE_S: Final = 5.0
_AUTH_CACHE_MAX: Final = 10_000


class CachedRoleGuard(RoleGuard):
    """:class:`RoleGuard` remembering each token's principal for :data:`AUTH_CACHE_S`."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(roles)
        self._known: dict[str, tuple[Principal, float]] = {}

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        token = credentials.credentials if credentials is not None else ""
        digest = hash_token(token) if token else ""
        known = self._known.get(digest)
        now = time.monotonic()
        if known is not None and known[1] > now:
            return known[0]
        principal = await super().__call__(request, credentials)
        if len(self._known) >= _AUTH_CACHE_MAX:
            self._known.clear()
        self._known[digest] = (principal, now + AUTH_CACHE_S)
        return principal


PlacingPrincipal = Annotated[
    Principal, Depends(CachedRoleGuard((Role.ADMIN, Role.OPERATOR, Role.CHANNEL)))
]


def placement_queue(request: Request) -> PlacementQueue:
    """The app's placement queue (created on first use)."""
    state = request.app.state
    queue: PlacementQueue | None = getattr(state, "placement_queue", None)
    if queue is None:
        queue = PlacementQueue(state.database)
        state.placement_queue = queue
    return queue


def _cipher(request: Request) -> PiiCipher:
    state = request.app.state
    cipher: PiiCipher | None = getattr(state, "pii", None)
    if cipher is None:
        cipher = pii_cipher(state.settings)
        state.pii = cipher
    return cipher


def request_time(request: Request) -> datetime:
    """Now (UTC); ``app.state.clock`` replaces the wall clock where a test needs a fixed time."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def allocation_config(request: Request) -> AllocationConfig:
    state = request.app.state
    config: AllocationConfig | None = getattr(state, "allocation_config", None)
    if config is None:
        config = AllocationConfig.from_settings(state.settings)
        state.allocation_config = config
    return config


@router.post(
    "",
    status_code=201,
    response_model=OrderPlaced,
    responses={
        200: {"description": "A resubmission of an order already placed (same content)"},
        409: {"description": "duplicate_order_conflict: known external id, other content"},
        422: {"description": "bad payload, unknown SKU or member, outside_delivery_area"},
    },
)
async def place(
    request: Request,
    principal: PlacingPrincipal,
    channel: Annotated[str, Query(min_length=1, max_length=64, description="Channel id")],
    payload: Annotated[dict[str, Any], Body(description="The channel's own order payload")],
) -> Response:
    """Place an order from a channel: normalise, check, decide the service, allocate the
    nearest node(s) that can ship it and reserve the units, all or nothing. A channel key may
    place orders only for its own channel. The answer says the status (``allocated``, or
    ``failed`` with the reason when no node can fulfil the basket), the nodes, the promise and
    the service; the same order sent again answers 200 with the stored order."""
    if principal.role is Role.CHANNEL and principal.name != channel:
        raise ApiError(
            403,
            "forbidden_channel",
            f"channel: this key belongs to channel {principal.name!r}, not {channel!r}",
        )
    cipher, config = _cipher(request), allocation_config(request)
    now = request_time(request)

    request_in = PlacementRequest(
        channel_id=channel,
        payload=payload,
        actor=principal.name,
        cipher=cipher,
        config=config,
        now=now,
    )
    placed, created = await placement_queue(request).place(request_in)
    # Answered as ready JSON: returning the model would make FastAPI validate it a second
    # time against ``response_model`` before serialising it (~5% of an order's cost).
    return Response(
        content=placed.model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )
