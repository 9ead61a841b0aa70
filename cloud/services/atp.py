"""The ATP service: resolve the basket, figure every node, list what allocation would try."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.allocation_policy import plan_options
from cloud.api_error import ApiError
from cloud.atp import BasketLine, PromiseClass, promise_deadline
from cloud.order_schemas import AtpCandidate, AtpOption, AtpRequest, AtpResult
from cloud.services import allocation_cache
from cloud.services.allocation import AllocationConfig, candidates_for


async def available_to_promise(
    *, session: AsyncSession, request: AtpRequest, config: AllocationConfig, now: datetime
) -> AtpResult:
    """Candidates (nodes that deliver to the address, nearest first) and the options."""
    at = request.at or now
    if at.tzinfo is None:
        raise ApiError(422, "validation_failed", "at: add a timezone, e.g. a Z suffix")
    catalogue = await allocation_cache.snapshot(session=session)
    references = [line.sku_ref for line in request.lines]
    found = await allocation_cache.resolve_skus(
        session=session, catalogue=catalogue, references=references
    )
    basket = []
    for index, line in enumerate(request.lines):
        sku = found.get(line.sku_ref)
        if sku is None:
            raise ApiError(
                422,
                "unknown_sku",
                f"lines[{index}].sku_ref: no SKU with id or GTIN {line.sku_ref!r}",
            )
        basket.append(BasketLine(sku.id, line.quantity, sku.temperature_class))
    candidates = await candidates_for(
        session=session,
        lat=request.lat,
        lon=request.lon,
        basket=basket,
        config=config,
        now=at,
        nodes=catalogue.nodes,
    )
    promise = PromiseClass(request.promise_class)
    by_id = {c.node.id: c for c in candidates}
    options = [
        AtpOption(
            outcome=option.outcome,
            promise_class=option.promise.value,
            node_ids=option.node_ids,
            promise_by=max(
                promise_deadline(option.promise, by_id[n].node, at) for n in option.node_ids
            ),
        )
        for option in plan_options(candidates, basket, promise, config.split)
    ]
    return AtpResult(
        promise_class=promise.value,
        at=at,
        candidates=[
            AtpCandidate.model_validate(c.figures(promise)) for c in candidates if c.within_radius
        ],
        options=options,
    )
