"""Response and request models of reading and changing orders after placement, and of the
status webhook outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

OperationalStatus = Literal["picking", "packed", "dispatched", "delivered", "failed"]


class Recipient(BaseModel):
    name: str
    phone: str
    address: str
    masked: bool = Field(
        description="true: personal data masked (王*, *******8001, district only); "
        "operators and admins may ask for it in clear with ?reveal=true&reason=..."
    )


class OrderLinePublic(BaseModel):
    line_no: int
    sku_id: str
    quantity: int
    unit_price_cents: int | None
    node_id: str | None = Field(description="The node the line ships from (set by allocation)")


class OrderEventPublic(BaseModel):
    id: int
    from_status: str | None
    to_status: str
    reason: str | None
    actor: str
    at: datetime


class AllocationDecisionPublic(BaseModel):
    id: int
    outcome: str = Field(description="single | split | slower_promise | rejected")
    node_ids: list[str]
    promise_by: datetime | None
    summary: str = Field(description='"Why this store": the choice and why nearer nodes lost')
    candidates: list[dict[str, Any]] = Field(
        description="Every node within reach with distance, ETA, stock, capability, opening "
        "and its verdict"
    )
    decided_at: datetime


class OrderSummary(BaseModel):
    id: str
    channel: str
    external_id: str
    status: str
    status_reason: str | None
    promise_class: str
    promise_by: datetime | None
    priority: int
    nodes: list[str]
    placed_at: datetime
    updated_at: datetime
    version: int


class OrderDetail(OrderSummary):
    member_id: str | None
    service: dict[str, Any]
    rule_version: int | None
    delivery_lat: float = Field(description="Rounded to 0.01° (about 1 km) while masked")
    delivery_lon: float
    recipient: Recipient
    lines: list[OrderLinePublic]
    history: list[OrderEventPublic]
    allocation: AllocationDecisionPublic | None = Field(description="The latest decision")


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_after: str | None = Field(
        description="Pass as ?after= for the next page; null on the last page"
    )


class StatusChange(BaseModel):
    status: OperationalStatus
    reason: str | None = Field(
        default=None, max_length=500, description="Required for failed; kept in the history"
    )


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class WebhookDeliveryPublic(BaseModel):
    id: int
    order_id: str
    channel: str
    url: str
    payload: dict[str, Any]
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookPage(BaseModel):
    items: list[WebhookDeliveryPublic]
    next_after: int | None
