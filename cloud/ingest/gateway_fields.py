"""Fields every message a gateway POSTs carries, batch or heartbeat: who sends it and when
(pure). Each check raises the caller's own 422 (``invalid``), naming the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cloud.api_error import ApiError
from firmware_bridge.wire import parse_time

Invalid = Callable[[str], ApiError]


def gateway_id_of(data: dict[str, Any], invalid: Invalid) -> str:
    gateway_id = data.get("gateway_id")
    if not isinstance(gateway_id, str) or not gateway_id:
        raise invalid("gateway_id must be a non-empty string")
    return gateway_id


def sent_at_of(data: dict[str, Any], invalid: Invalid) -> datetime:
    """The gateway's clock when it sent ``data`` (for the cloud's skew estimate)."""
    raw = data.get("sent_at")
    if not isinstance(raw, str):
        raise invalid("sent_at must be an ISO 8601 UTC string")
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise invalid(f"sent_at: {exc}") from None
