"""Request and response models of order placement and available-to-promise."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

PromiseName = Literal["instant", "same_day", "next_day"]


class PlacedLine(BaseModel):
    line_no: int
    sku_id: str
    quantity: int
    unit_price_cents: int | None
    node_id: str | None


class AllocationSummary(BaseModel):
    outcome: str = Field(description="single | split | slower_promise | rejected")
    node_ids: list[str]
    summary: str = Field(description='"Why this store": the choice and why nearer nodes lost')


class OrderPlaced(BaseModel):
    order_id: str
    channel: str
    external_id: str
    status: str = Field(description="allocated, or failed when no node can fulfil the basket")
    status_reason: str | None
    promise_class: str
    promise_by: datetime | None
    nodes: list[str]
    service: dict[str, Any]
    rule_version: int | None
    lines: list[PlacedLine]
    allocation: AllocationSummary | None
    replayed: bool = Field(
        default=False, description="true when this answers a resubmission of the same order"
    )


class AtpLine(BaseModel):
    sku_ref: str = Field(min_length=1, max_length=64, description="SKU id or GTIN")
    quantity: int = Field(ge=1, le=10_000)


class AtpRequest(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    lines: list[AtpLine] = Field(min_length=1, max_length=200)
    promise_class: PromiseName = "instant"
    at: datetime | None = Field(
        default=None, description="Evaluate as of this time (timezone-aware); default now"
    )


class AtpCandidate(BaseModel):
    node_id: str
    kind: str
    distance_km: float
    delivery_radius_km: float
    within_radius: bool
    eta_min: float
    eta: datetime
    open: bool
    ready_at: datetime
    capable: bool
    missing_classes: list[str]
    has_stock: bool
    available: dict[str, int]
    meets: list[str]
    verdict: str


class AtpOption(BaseModel):
    outcome: str
    promise_class: str
    node_ids: list[str]
    promise_by: datetime


class AtpResult(BaseModel):
    promise_class: str
    at: datetime
    candidates: list[AtpCandidate]
    options: list[AtpOption] = Field(
        description="What allocation would try, best first (stock can still change)"
    )
