"""Dispatch a channel payload to the adapter of the channel's kind (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from cloud.channels.app import normalise_app
from cloud.channels.delivery_platform import normalise_delivery_platform
from cloud.channels.marketplace import normalise_marketplace
from cloud.channels.model import ChannelPayloadError, NormalisedOrder

ADAPTERS: Final[dict[str, Callable[[Mapping[str, Any]], NormalisedOrder]]] = {
    "app": normalise_app,
    "marketplace": normalise_marketplace,
    "delivery_platform": normalise_delivery_platform,
}
CHANNEL_KINDS: Final[tuple[str, ...]] = tuple(ADAPTERS)


def normalise_order(channel_kind: str, payload: Mapping[str, Any]) -> NormalisedOrder:
    """The channel-neutral order in ``payload``; :class:`ChannelPayloadError` names the field
    (a dotted path in the channel's own shape) of the first problem found."""
    adapter = ADAPTERS.get(channel_kind)
    if adapter is None:
        raise ChannelPayloadError(
            "channel_kind",
            f"{channel_kind!r} is not a channel kind; expected {', '.join(CHANNEL_KINDS)}",
        )
    return adapter(payload)
