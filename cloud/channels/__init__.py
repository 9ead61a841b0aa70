"""Channel adapters: each sales channel's order payload in, one :class:`NormalisedOrder` out.

Pure functions: no database, no clock. Placement resolves SKUs, applies the member rules and
allocates; these adapters only check and translate the channel's shape (see the README,
"Channel order payloads")."""

from cloud.channels.model import (
    PROMISE_CLASSES,
    ChannelPayloadError,
    NormalisedLine,
    NormalisedOrder,
    PromiseClass,
    canonical_order,
    order_fingerprint,
)
from cloud.channels.normalise import CHANNEL_KINDS, normalise_order

__all__ = [
    "CHANNEL_KINDS",
    "PROMISE_CLASSES",
    "ChannelPayloadError",
    "NormalisedLine",
    "NormalisedOrder",
    "PromiseClass",
    "canonical_order",
    "normalise_order",
    "order_fingerprint",
]
