"""The demo's business figures (stock received through a gateway, orders allocated from it)
and how they are printed: pure, so the checks and the wording are tested without processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FailedOrder:
    channel: str
    external_id: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"channel": self.channel, "external_id": self.external_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class TrackingLink:
    """The customer's tracking page of one allocated order."""

    order_id: str
    channel: str
    external_id: str
    url: str

    def line(self) -> str:
        order = f"{self.order_id} ({self.channel} {self.external_id})"
        return f"Tracking page for order {order}: {self.url}"

    def as_json(self) -> dict[str, str]:
        return {
            "order_id": self.order_id,
            "channel": self.channel,
            "external_id": self.external_id,
            "url": self.url,
        }


@dataclass
class BusinessReport:
    node_id: str
    completed: bool = False
    scans_sent: int = 0
    scans_accepted: int = 0
    scans_refused: list[str] = field(default_factory=list)
    units_scanned: int = 0
    """Base units the accepted receive scans stand for (cases and pallets counted out)."""
    stock_units_received: int = 0
    """On-hand gained at the node in ``GET /api/v1/stock`` (what the projector booked)."""
    stock_exceptions: int = 0
    orders_placed: int = 0
    orders_allocated: int = 0
    failed: list[FailedOrder] = field(default_factory=list)
    units_allocated: int = 0
    """Units on the lines of allocated orders."""
    units_reserved: int = 0
    """Reserved units gained over every node while the orders were placed."""
    oversold: int = 0
    allocation_why: dict[str, Any] | None = None
    tracking: TrackingLink | None = None

    @property
    def orders_failed(self) -> int:
        return len(self.failed)

    def problems(self) -> list[str]:
        """Why this run does not show a consistent chain (empty when it does)."""
        if not self.completed:
            return []
        found = []
        if self.scans_refused:
            found.append(f"{len(self.scans_refused)} scan(s) refused: {self.scans_refused[0]}")
        if self.stock_units_received != self.units_scanned:
            found.append(
                f"{self.units_scanned} units scanned but {self.stock_units_received} "
                "received in the stock ledger"
            )
        if self.orders_allocated + self.orders_failed != self.orders_placed:
            found.append(
                f"{self.orders_placed} orders placed but {self.orders_allocated} allocated "
                f"+ {self.orders_failed} failed"
            )
        if self.units_reserved != self.units_allocated:
            found.append(
                f"{self.units_allocated} units allocated but {self.units_reserved} reserved"
            )
        if self.oversold:
            found.append(f"{self.oversold} units reserved beyond stock")
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "order_flow": "completed" if self.completed else "interrupted",
            "node": self.node_id,
            "scans_sent": self.scans_sent,
            "scans_accepted": self.scans_accepted,
            "units_scanned": self.units_scanned,
            "stock_units_received": self.stock_units_received,
            "stock_exceptions": self.stock_exceptions,
            "orders_placed": self.orders_placed,
            "orders_allocated": self.orders_allocated,
            "orders_failed": self.orders_failed,
            "failed_orders": [failed.as_json() for failed in self.failed],
            "units_allocated": self.units_allocated,
            "units_reserved": self.units_reserved,
            "oversold": self.oversold,
            "allocation_why": self.allocation_why,
            "tracking": None if self.tracking is None else self.tracking.as_json(),
        }

    def text_lines(self) -> list[str]:
        lines = [
            f"scans sent {self.scans_sent} (accepted {self.scans_accepted}) at {self.node_id}: "
            f"{self.units_scanned} units scanned, {self.stock_units_received} received in stock",
            f"orders placed {self.orders_placed}: allocated {self.orders_allocated}, "
            f"failed {self.orders_failed}; units allocated {self.units_allocated}, "
            f"reserved {self.units_reserved}, oversold {self.oversold}",
        ]
        lines += [
            f"  failed {failed.channel} {failed.external_id}: {failed.reason}"
            for failed in self.failed
        ]
        why = self.allocation_why
        if why is not None:
            lines.append(
                f"why {why['order_id']} ({why['channel']} {why['external_id']}, "
                f"{why['outcome']}, promise {why['promise_class']}): {why['summary']}"
            )
        if self.tracking is not None:
            lines.append(self.tracking.line())
        if not self.completed:
            lines.append("the order flow was interrupted before it finished")
        return lines
