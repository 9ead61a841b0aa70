"""The order status machine (pure): which transitions exist and which need a reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrderStatus(StrEnum):
    RECEIVED = "received"
    ALLOCATED = "allocated"
    PICKING = "picking"
    PACKED = "packed"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


_S = OrderStatus
TRANSITIONS: Final[dict[OrderStatus, frozenset[OrderStatus]]] = {
    _S.RECEIVED: frozenset({_S.ALLOCATED, _S.CANCELLED, _S.FAILED}),
    _S.ALLOCATED: frozenset({_S.PICKING, _S.CANCELLED, _S.FAILED}),
    _S.PICKING: frozenset({_S.PACKED, _S.CANCELLED, _S.FAILED}),
    _S.PACKED: frozenset({_S.DISPATCHED, _S.CANCELLED, _S.FAILED}),
    _S.DISPATCHED: frozenset({_S.DELIVERED, _S.FAILED}),
    _S.DELIVERED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.FAILED: frozenset(),
}
NEEDS_REASON: Final[frozenset[OrderStatus]] = frozenset({_S.CANCELLED, _S.FAILED})
# Before this point the goods have not left the node, so the order may still change.
MODIFIABLE: Final[frozenset[OrderStatus]] = frozenset({_S.RECEIVED, _S.ALLOCATED})


class TransitionError(ValueError):
    """A transition the machine does not allow; the message says what is allowed instead."""


def check_transition(current: OrderStatus, target: OrderStatus, reason: str | None) -> None:
    """Raise :class:`TransitionError` unless ``current -> target`` is allowed with ``reason``."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(allowed)) or "none (the order is closed)"
        raise TransitionError(
            f"an order that is {current} cannot become {target}; allowed next: {options}"
        )
    if target in NEEDS_REASON and not (reason and reason.strip()):
        raise TransitionError(f"a reason is required to mark an order {target}")


def is_final(status: OrderStatus) -> bool:
    return not TRANSITIONS[status]
