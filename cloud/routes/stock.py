"""Stock ledger routes: balances, movements, manual receipts/adjustments/counts, transfers,
and the projector's exceptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from cloud.api_error import ApiError
from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep, StockStaff
from cloud.services import stock, stock_transfers
from cloud.stock_schemas import (
    ManualMovementCreate,
    MovementPage,
    MovementPublic,
    StockExceptionPage,
    StockLevelPublic,
    TransferCreate,
    TransferPublic,
)

router = APIRouter(prefix="/api/v1/stock", route_class=RoleDocumentedRoute, tags=["stock"])

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=120,
        description="Client-chosen key; a retry with the same key and content changes nothing",
    ),
]
REPLAY_HEADER = "Idempotent-Replayed"


def idempotency_key(header: str | None, field: str | None) -> str:
    """The request's key from the header or the body field (they must agree)."""
    if header is not None and field is not None and header != field:
        raise ApiError(
            422,
            "validation_failed",
            "idempotency_key: the Idempotency-Key header and the field differ; send one",
        )
    key = header if header is not None else field
    if key is None:
        raise ApiError(
            422,
            "validation_failed",
            "idempotency_key: send an Idempotency-Key header or an idempotency_key field",
        )
    return key


def mark_replay(response: Response, replayed: bool) -> None:
    response.headers[REPLAY_HEADER] = "true" if replayed else "false"


@router.get("", response_model=list[StockLevelPublic])
async def list_stock(
    principal: StockStaff,
    session: SessionDep,
    node_id: Annotated[str | None, Query(max_length=64)] = None,
    sku_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[StockLevelPublic]:
    """On-hand, reserved, on-hold and available per node × SKU (warehouse: its nodes only)."""
    return await stock.list_levels(
        session=session, principal=principal, node_id=node_id, sku_id=sku_id
    )


@router.get("/movements", response_model=MovementPage)
async def list_movements(
    principal: StockStaff,
    session: SessionDep,
    node_id: Annotated[str | None, Query(max_length=64)] = None,
    sku_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int, Query(ge=0, description="id of the last movement seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MovementPage:
    """Ledger movements oldest first, with their source, source_ref and actor."""
    return await stock.list_movements(
        session=session,
        principal=principal,
        node_id=node_id,
        sku_id=sku_id,
        after=after,
        limit=limit,
    )


@router.post("/movements", response_model=MovementPublic, status_code=201)
async def create_movement(
    body: ManualMovementCreate,
    principal: StockStaff,
    session: SessionDep,
    response: Response,
    key: IdempotencyHeader = None,
) -> MovementPublic:
    """A manual receipt, adjustment or count; a replay answers the same movement with
    ``Idempotent-Replayed: true``."""
    movement, replayed = await stock.record_manual(
        session=session,
        principal=principal,
        body=body,
        key=idempotency_key(key, body.idempotency_key),
        now=datetime.now(UTC),
    )
    mark_replay(response, replayed)
    return movement


@router.post("/transfers", response_model=TransferPublic, status_code=201)
async def create_transfer(
    body: TransferCreate,
    principal: StockStaff,
    session: SessionDep,
    response: Response,
    key: IdempotencyHeader = None,
) -> TransferPublic:
    """Send units to another node: taken off the sender now, if available there."""
    transfer, replayed = await stock_transfers.create_transfer(
        session=session,
        principal=principal,
        body=body,
        key=idempotency_key(key, body.idempotency_key),
        now=datetime.now(UTC),
    )
    mark_replay(response, replayed)
    return transfer


@router.get("/transfers/{transfer_id}", response_model=TransferPublic)
async def get_transfer(
    transfer_id: str, principal: StockStaff, session: SessionDep
) -> TransferPublic:
    """One transfer and its status (in_transit or received)."""
    return await stock_transfers.get_transfer(
        session=session, principal=principal, transfer_id=transfer_id
    )


@router.post("/transfers/{transfer_id}/receive", response_model=TransferPublic)
async def receive_transfer(
    transfer_id: str, principal: StockStaff, session: SessionDep
) -> TransferPublic:
    """Book the transfer in at the receiving node; a second call answers 409."""
    return await stock_transfers.receive_transfer(
        session=session, principal=principal, transfer_id=transfer_id, now=datetime.now(UTC)
    )


@router.get("/exceptions", response_model=StockExceptionPage)
async def list_exceptions(
    _: AdminOrOperator,
    session: SessionDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> StockExceptionPage:
    """Gateway records the stock projector could not apply, and count shortfalls."""
    return await stock.list_exceptions(session=session, after=after, limit=limit)
