"""Order status webhooks, the pure part: the body bytes, their signature and the retry delays."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from typing import Any, Final

SIGNATURE_HEADER: Final = "X-RetailEdge-Signature"
DELIVERY_HEADER: Final = "X-RetailEdge-Delivery"
ATTEMPT_HEADER: Final = "X-RetailEdge-Attempt"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a delivery is tried."""

    max_attempts: int = 12
    first_delay_s: float = 1.0
    max_delay_s: float = 600.0
    # Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter], so receivers
    # that come back after an outage are not hit by every sender at the same instant.
    jitter: float = 0.2
    timeout_s: float = 5.0
    # A claimed delivery is not claimed again for this long (a sender that died mid-send
    # leaves it to another one afterwards).
    lease_s: float = 60.0
    batch: int = 50

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.first_delay_s <= self.max_delay_s:
            raise ValueError("need 0 < first_delay_s <= max_delay_s")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.lease_s <= self.timeout_s:
            raise ValueError("lease_s must exceed timeout_s, or a slow send could be doubled")


def retry_delay_s(attempts: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: 1, 2, 4, ... capped at
    ``max_delay_s``, jittered, never above the cap."""
    base = policy.first_delay_s * 2.0 ** min(max(attempts - 1, 0), 60)
    capped = min(base, policy.max_delay_s)
    factor = rng.uniform(1 - policy.jitter, 1 + policy.jitter)
    return min(capped * factor, policy.max_delay_s)


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8, keys sorted."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``; receivers compare with :func:`hmac.compare_digest`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does with the signature header (used by the tests and the demo)."""
    return hmac.compare_digest(signature(secret, body), header)
