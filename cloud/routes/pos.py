"""The store POS endpoint: receipts with sale and return lines."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from cloud.deps import AdminOrWarehouse, RoleDocumentedRoute, SessionDep
from cloud.routes.stock import mark_replay
from cloud.services import stock_pos
from cloud.stock_schemas import PosReceiptPublic, PosSaleCreate

router = APIRouter(prefix="/api/v1/pos", route_class=RoleDocumentedRoute, tags=["stock"])


@router.post("/sales", response_model=PosReceiptPublic, status_code=201)
async def record_sale(
    body: PosSaleCreate, principal: AdminOrWarehouse, session: SessionDep, response: Response
) -> PosReceiptPublic:
    """Book a receipt (all lines or none); idempotent on (store_id, receipt_id). Warehouse
    users only at their stores."""
    receipt, replayed = await stock_pos.record_receipt(
        session=session, principal=principal, body=body, now=datetime.now(UTC)
    )
    mark_replay(response, replayed)
    return receipt
