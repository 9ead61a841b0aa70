"""The pure allocation policy: nearest whole basket, then split or slower promise, and why."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.allocation_policy import explain_choice, explain_rejection, plan_options, split_plan
from cloud.atp import PROMISE_ORDER, BasketLine, Candidate, PromiseClass, Timing, evaluate_nodes
from tests.cloud.allocation.test_atp_core import node

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, all open
TIMING = Timing(speed_kmh=20.0, handling_min=15.0)
HOME = (31.2304, 121.4737)
NODES = [
    node("fw-near", lat=31.2310, lon=121.4750),
    node("fw-far", lat=31.2304, lon=121.4950),
    node(
        "dc",
        kind="dc",
        lat=31.35,
        lon=121.25,
        delivery_radius_km=60.0,
        capabilities=frozenset({"ambient", "chilled", "frozen"}),
    ),
]
MILK = BasketLine("milk", 2, "chilled")
RICE = BasketLine("rice", 1, "ambient")


def candidates(stock: dict[tuple[str, str], int], basket: list[BasketLine]) -> list[Candidate]:
    return evaluate_nodes(
        NODES, lat=HOME[0], lon=HOME[1], basket=basket, stock=stock, timing=TIMING, now=NOW
    )


def test_nearest_node_with_the_whole_basket_comes_first() -> None:
    basket = [MILK, RICE]
    found = candidates(
        {
            ("fw-near", "milk"): 5,
            ("fw-near", "rice"): 5,
            ("fw-far", "milk"): 5,
            ("fw-far", "rice"): 5,
        },
        basket,
    )
    options = plan_options(found, basket, PromiseClass.INSTANT, "allow")
    assert [(o.outcome, o.promise, o.nodes) for o in options[:2]] == [
        ("single", PromiseClass.INSTANT, ("fw-near", "fw-near")),
        ("single", PromiseClass.INSTANT, ("fw-far", "fw-far")),
    ]
    summary = explain_choice(options[0], found, PromiseClass.INSTANT)
    assert summary.startswith("fw-near (front_warehouse, 0.1 km")
    assert "nearest node that can ship the whole basket instant" in summary


def test_split_before_slower_promise_when_allowed_and_never_otherwise() -> None:
    basket = [MILK, RICE]
    stock = {("fw-near", "milk"): 5, ("fw-far", "rice"): 5, ("dc", "milk"): 9, ("dc", "rice"): 9}
    found = candidates(stock, basket)
    allow = plan_options(found, basket, PromiseClass.INSTANT, "allow")
    assert [(o.outcome, o.promise, o.nodes) for o in allow] == [
        ("split", PromiseClass.INSTANT, ("fw-near", "fw-far")),
        ("slower_promise", PromiseClass.SAME_DAY, ("dc", "dc")),
    ]
    never = plan_options(found, basket, PromiseClass.INSTANT, "never")
    assert [(o.outcome, o.promise, o.nodes) for o in never] == [
        ("slower_promise", PromiseClass.SAME_DAY, ("dc", "dc"))
    ]
    why = explain_choice(never[0], found, PromiseClass.INSTANT)
    assert "no node could do it instant" in why
    assert "fw-near lacks rice (0 of 1)" in why and "fw-far lacks milk (0 of 2)" in why


def test_rejection_lists_each_node_and_what_it_lacks() -> None:
    basket = [MILK]
    found = candidates({("fw-near", "milk"): 1}, basket)
    assert plan_options(found, basket, PromiseClass.INSTANT, "allow") == []
    reason = explain_rejection(found, PromiseClass.INSTANT)
    assert reason.startswith("no node can fulfil the basket (instant or slower): ")
    assert "fw-near lacks milk (1 of 2)" in reason and "dc lacks milk (0 of 2)" in reason


def test_requested_next_day_does_not_offer_faster_classes() -> None:
    basket = [RICE]
    found = candidates({("fw-near", "rice"): 1, ("dc", "rice"): 1}, basket)
    options = plan_options(found, basket, PromiseClass.NEXT_DAY, "allow")
    assert [(o.outcome, o.promise, o.node_ids) for o in options] == [
        ("single", PromiseClass.NEXT_DAY, ["fw-near"]),
        ("single", PromiseClass.NEXT_DAY, ["dc"]),
    ]


def test_split_plan_never_counts_a_unit_twice() -> None:
    basket = [BasketLine("milk", 2, "chilled"), BasketLine("milk", 2, "chilled")]
    found = candidates({("fw-near", "milk"): 3, ("fw-far", "milk"): 2}, basket)
    assert split_plan(found[:2], basket) == ("fw-near", "fw-far")


SKUS = ("milk", "rice", "tofu")


@settings(max_examples=150, deadline=None)
@given(
    stock=st.dictionaries(
        st.tuples(st.sampled_from(["fw-near", "fw-far", "dc"]), st.sampled_from(SKUS)),
        st.integers(0, 6),
    ),
    lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 4)), min_size=1, max_size=4),
    promise=st.sampled_from(list(PromiseClass)),
    split=st.sampled_from(["allow", "never"]),
)
def test_every_option_is_covered_by_stock_and_fast_enough(
    stock: dict[tuple[str, str], int],
    lines: list[tuple[str, int]],
    promise: PromiseClass,
    split: str,
) -> None:
    basket = [BasketLine(sku, q, "chilled" if sku == "milk" else "ambient") for sku, q in lines]
    found = candidates(stock, basket)
    by_id = {c.node.id: c for c in found}
    options = plan_options(found, basket, promise, split)  # type: ignore[arg-type]
    assert len({o.nodes for o in options}) == len(options)
    for option in options:
        assert len(option.nodes) == len(basket)
        taken: Counter[tuple[str, str]] = Counter()
        for node_id, line in zip(option.nodes, basket, strict=True):
            taken[(node_id, line.sku_id)] += line.quantity
            assert by_id[node_id].eligible(option.promise)
        for (node_id, sku), units in taken.items():
            assert units <= stock.get((node_id, sku), 0)
        if split == "never":
            assert len(set(option.nodes)) == 1
        assert PROMISE_ORDER.index(option.promise) >= PROMISE_ORDER.index(promise)
