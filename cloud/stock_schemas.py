"""Request and response models of the stock ledger, POS, transfer and hold routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_QUANTITY = 1_000_000
Quantity = Field(ge=1, le=MAX_QUANTITY)
Key = Field(default=None, min_length=1, max_length=120)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StockLevelPublic(BaseModel):
    node_id: str
    sku_id: str
    zone_id: str | None
    on_hand: int
    reserved: int
    on_hold: int
    available: int
    updated_at: datetime


class MovementPublic(BaseModel):
    id: int
    idempotency_key: str
    node_id: str
    sku_id: str
    kind: str
    delta_on_hand: int
    delta_reserved: int
    delta_on_hold: int
    source: str
    source_ref: str
    actor: str
    note: str | None
    created_at: datetime


class MovementPage(BaseModel):
    items: list[MovementPublic]
    # Pass as ``after`` for the next page; null on the last page.
    next_after: int | None


class ManualMovementCreate(_Strict):
    """A manual receipt (``quantity`` units in), adjustment (``quantity`` may be negative:
    units found or lost) or count (``quantity`` is the counted on-hand)."""

    node_id: str = Field(min_length=1, max_length=64)
    sku_id: str = Field(min_length=1, max_length=64)
    kind: Literal["receive", "adjust", "count"]
    quantity: int = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)
    note: str | None = Field(default=None, max_length=1000)
    idempotency_key: str | None = Key

    @model_validator(mode="after")
    def _quantity_fits_kind(self) -> ManualMovementCreate:
        if self.kind == "receive" and self.quantity < 1:
            raise ValueError("quantity: a receipt needs at least 1 unit")
        if self.kind == "adjust" and self.quantity == 0:
            raise ValueError("quantity: an adjustment of 0 changes nothing")
        if self.kind == "count" and self.quantity < 0:
            raise ValueError("quantity: a counted on-hand cannot be negative")
        return self


class PosLine(_Strict):
    """One receipt line: the SKU by ``sku_id`` or by ``gtin`` (exactly one of them)."""

    sku_id: str | None = Field(default=None, min_length=1, max_length=64)
    gtin: str | None = Field(default=None, min_length=8, max_length=14)
    quantity: int = Quantity
    kind: Literal["sale", "return"] = "sale"

    @model_validator(mode="after")
    def _one_identifier(self) -> PosLine:
        if (self.sku_id is None) == (self.gtin is None):
            raise ValueError("give exactly one of sku_id and gtin")
        return self


class PosSaleCreate(_Strict):
    store_id: str = Field(min_length=1, max_length=64)
    receipt_id: str = Field(min_length=1, max_length=100)
    sold_at: datetime | None = None
    lines: list[PosLine] = Field(min_length=1, max_length=500)

    @field_validator("sold_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("add a timezone, e.g. a Z suffix")
        return value


class PosReceiptPublic(BaseModel):
    store_id: str
    receipt_id: str
    movements: list[MovementPublic]


class TransferLine(_Strict):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Quantity


class TransferCreate(_Strict):
    from_node_id: str = Field(min_length=1, max_length=64)
    to_node_id: str = Field(min_length=1, max_length=64)
    lines: list[TransferLine] = Field(min_length=1, max_length=500)
    idempotency_key: str | None = Key

    @model_validator(mode="after")
    def _two_nodes(self) -> TransferCreate:
        if self.from_node_id == self.to_node_id:
            raise ValueError("to_node_id: a transfer needs two different nodes")
        return self


class TransferPublic(BaseModel):
    id: str
    from_node_id: str
    to_node_id: str
    lines: list[dict[str, Any]]
    status: str
    created_by: str
    created_at: datetime
    received_by: str | None
    received_at: datetime | None


class HoldPublic(BaseModel):
    id: int
    alarm_ref: str
    node_id: str
    zone_id: str
    status: str
    lines: list[dict[str, Any]]
    evidence: dict[str, Any]
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    comment: str | None


class HoldClose(_Strict):
    comment: str = Field(min_length=1, max_length=2000)

    @field_validator("comment")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why (e.g. probe checked, goods inspected)")
        return value.strip()


class StockExceptionPublic(BaseModel):
    id: int
    source_ref: str
    kind: str
    reason: str
    raw: dict[str, Any]
    created_at: datetime


class StockExceptionPage(BaseModel):
    items: list[StockExceptionPublic]
    next_after: int | None
