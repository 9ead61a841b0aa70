"""Allocation policy (pure): the ordered options to try for a basket, and why.

1. The nearest node that can ship the whole basket within the requested promise.
2. Else, when splitting is allowed, the basket split over several nodes within that promise
   (each line from the nearest node that has it).
3. Else the same two steps for each slower promise class (same day, then next day), where
   distribution centres come in.

Reservations can still fail (another order took the stock between the read and the
conditional update), so the service tries the options in order until one reserves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cloud.atp import PROMISE_ORDER, BasketLine, Candidate, PromiseClass

SplitPolicy = Literal["allow", "never"]


@dataclass(frozen=True, slots=True)
class Option:
    """One way to fulfil the basket: ``nodes[i]`` ships ``basket[i]``."""

    outcome: Literal["single", "split", "slower_promise"]
    promise: PromiseClass
    nodes: tuple[str, ...]

    @property
    def node_ids(self) -> list[str]:
        return sorted(set(self.nodes))


def promise_ladder(requested: PromiseClass) -> tuple[PromiseClass, ...]:
    """``requested`` and every slower class after it."""
    return PROMISE_ORDER[PROMISE_ORDER.index(requested) :]


def plan_options(
    candidates: Sequence[Candidate],
    basket: Sequence[BasketLine],
    requested: PromiseClass,
    split: SplitPolicy,
) -> list[Option]:
    """Options in order of preference; ``candidates`` must be sorted nearest first."""
    options: list[Option] = []
    seen: set[tuple[str, ...]] = set()
    for rank, promise in enumerate(promise_ladder(requested)):
        eligible = [c for c in candidates if c.eligible(promise)]
        for candidate in eligible:
            if candidate.has_stock:
                nodes = tuple(candidate.node.id for _ in basket)
                if nodes not in seen:
                    seen.add(nodes)
                    options.append(
                        Option("single" if rank == 0 else "slower_promise", promise, nodes)
                    )
        if split == "allow":
            nodes_split = split_plan(eligible, basket)
            if nodes_split is not None and len(set(nodes_split)) > 1 and nodes_split not in seen:
                seen.add(nodes_split)
                options.append(Option("split", promise, nodes_split))
    return options


def split_plan(
    eligible: Sequence[Candidate], basket: Sequence[BasketLine]
) -> tuple[str, ...] | None:
    """Each line from the nearest eligible node with enough units left for it, or None."""
    left: dict[tuple[str, str], int] = {}
    chosen: list[str] = []
    for line in basket:
        for candidate in eligible:
            key = (candidate.node.id, line.sku_id)
            units = left.get(key, candidate.available.get(line.sku_id, 0))
            if units >= line.quantity:
                left[key] = units - line.quantity
                chosen.append(candidate.node.id)
                break
        else:
            return None
    return tuple(chosen)


def explain_choice(option: Option, candidates: Sequence[Candidate], requested: PromiseClass) -> str:
    """ "Why this store": the chosen nodes with their figures and why nearer nodes lost."""
    by_id = {c.node.id: c for c in candidates}
    chosen = [by_id[node] for node in option.node_ids]
    parts = [
        f"{c.node.id} ({c.node.kind}, {c.distance_km:.1f} km, ETA {c.eta_min:.0f} min)"
        for c in chosen
    ]
    if option.outcome == "single":
        head = f"{parts[0]} is the nearest node that can ship the whole basket {requested.value}"
    elif option.outcome == "split":
        head = f"split over {', '.join(parts)} for {option.promise.value}: no single node has "
        head += "the whole basket in time"
    else:
        head = (
            f"{parts[0]} ships the whole basket {option.promise.value}; no node could do it "
            f"{requested.value}"
        )
    nearest = min(c.distance_km for c in chosen)
    nearer = [c for c in candidates if c.distance_km < nearest and c.node.id not in option.nodes]
    if nearer:
        reasons = "; ".join(f"{c.node.id} {_why_not(c, option.promise)}" for c in nearer[:5])
        head += f". Nearer nodes passed over: {reasons}"
    return head


def explain_rejection(candidates: Sequence[Candidate], requested: PromiseClass) -> str:
    """Why no option exists: each delivering node and what it lacks."""
    slowest = PROMISE_ORDER[-1]
    reasons = [f"{c.node.id} {_why_not(c, slowest)}" for c in candidates if c.within_radius][:8]
    detail = "; ".join(reasons) if reasons else "no node delivers to this address"
    return f"no node can fulfil the basket ({requested.value} or slower): {detail}"


def _why_not(candidate: Candidate, promise: PromiseClass) -> str:
    verdict = candidate.verdict(promise)
    if not candidate.node.active:
        return "is inactive"
    if not candidate.within_radius:
        return (
            f"is {candidate.distance_km:.1f} km away, beyond its "
            f"{candidate.node.delivery_radius_km:g} km radius"
        )
    if not candidate.capable:
        return f"cannot store {', '.join(candidate.missing_classes)}"
    if verdict.value == "too_slow_for_promise":
        return f"is too slow (ETA {candidate.eta_min:.0f} min) for {promise.value}"
    short = [f"{sku} ({units} of {needed})" for sku, units, needed in candidate.shortfalls()]
    if short:
        return f"lacks {', '.join(short)}"
    return "lost the race for the stock"
