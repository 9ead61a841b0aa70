"""Member-tier service rules: the shipped defaults and how matching rules combine (pure)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cloud.member_rules import (
    DEFAULT_RULES,
    RuleSet,
    ServiceContext,
    ServiceDecision,
    decide_service,
    explain_service,
    parse_rule_set,
)

ORDER = ServiceContext(
    tier="standard",
    tags=frozenset(),
    channel="app",
    channel_kind="app",
    basket_value_cents=8_800,
    item_count=3,
    temperature_classes=frozenset({"ambient"}),
    categories=frozenset({"grocery"}),
)
DEFAULTS = parse_rule_set(DEFAULT_RULES)


def context(**changes: Any) -> ServiceContext:
    return replace(ORDER, **changes)


def decision(
    promise_class: str = "instant",
    *matched: str,
    door_delivery: bool = False,
    priority: int = 0,
    unboxing_inspection: bool = False,
    free_shipping: bool = False,
) -> ServiceDecision:
    return ServiceDecision(
        promise_class=promise_class,
        door_delivery=door_delivery,
        priority=priority,
        unboxing_inspection=unboxing_inspection,
        free_shipping=free_shipping,
        matched_rules=matched,
    )


def rule_set(*rules: dict[str, Any], **defaults: Any) -> RuleSet:
    base = {
        "promise_class": "instant",
        "door_delivery": False,
        "priority": 0,
        "unboxing_inspection": False,
        "free_shipping": False,
    }
    return parse_rule_set(
        {
            "tiers": ["standard", "gold", "vip"],
            "defaults": base | defaults,
            "rules": list(rules),
        }
    )


def rule(name: str, then: dict[str, Any], **when: Any) -> dict[str, Any]:
    return {"name": name, "when": when, "then": then}


# ---- the shipped defaults ------------------------------------------------------------------


def test_standard_member_gets_the_default_instant_service() -> None:
    assert decide_service(DEFAULTS, ORDER) == decision("instant")


def test_vip_gets_next_day_door_delivery() -> None:
    assert decide_service(DEFAULTS, context(tier="vip")) == decision(
        "next_day", "vip-next-day-door", door_delivery=True
    )


def test_mother_and_baby_member_gets_priority_and_unboxing_inspection() -> None:
    assert decide_service(DEFAULTS, context(tags=frozenset({"mother-and-baby"}))) == decision(
        "instant", "mother-and-baby-member", priority=50, unboxing_inspection=True
    )


def test_mother_and_baby_basket_gets_priority_and_unboxing_inspection_for_anyone() -> None:
    basket = context(tier=None, categories=frozenset({"mother_baby", "grocery"}))
    assert decide_service(DEFAULTS, basket) == decision(
        "instant", "mother-and-baby-basket", priority=50, unboxing_inspection=True
    )


def test_high_frequency_buyer_ships_free() -> None:
    assert decide_service(DEFAULTS, context(tags=frozenset({"high-frequency"}))) == decision(
        "instant", "high-frequency-free-shipping", free_shipping=True
    )


def test_a_vip_mother_and_baby_high_frequency_buyer_gets_every_benefit() -> None:
    everything = context(
        tier="VIP",
        tags=frozenset({"Mother-and-Baby", "high-frequency"}),
        categories=frozenset({"mother_baby"}),
    )
    assert decide_service(DEFAULTS, everything) == decision(
        "next_day",
        "vip-next-day-door",
        "mother-and-baby-member",
        "mother-and-baby-basket",
        "high-frequency-free-shipping",
        door_delivery=True,
        priority=50,
        unboxing_inspection=True,
        free_shipping=True,
    )


def test_guest_without_tier_or_tags_gets_the_defaults() -> None:
    assert decide_service(DEFAULTS, context(tier=None)) == decision("instant")


def test_as_dict_is_plain_json() -> None:
    vip = decide_service(DEFAULTS, context(tier="vip"))
    assert vip.as_dict() == {
        "promise_class": "next_day",
        "door_delivery": True,
        "priority": 0,
        "unboxing_inspection": False,
        "free_shipping": False,
        "matched_rules": ["vip-next-day-door"],
    }


def test_parsing_does_not_change_the_shipped_document() -> None:
    before = copy.deepcopy(DEFAULT_RULES)
    parse_rule_set(DEFAULT_RULES)
    assert before == DEFAULT_RULES


# ---- combination ---------------------------------------------------------------------------


def test_promise_class_comes_from_the_first_matching_rule_that_sets_it() -> None:
    fast = rule("fast", {"promise_class": "same_day"}, channel_kind=["app"])
    slow = rule("slow", {"promise_class": "next_day"}, tier=["standard"])
    assert decide_service(rule_set(fast, slow), ORDER).promise_class == "same_day"
    assert decide_service(rule_set(slow, fast), ORDER).promise_class == "next_day"


def test_a_rule_without_promise_class_leaves_it_to_later_rules() -> None:
    flags = rule("flags", {"door_delivery": True})
    slow = rule("slow", {"promise_class": "next_day"})
    result = decide_service(rule_set(flags, slow), ORDER)
    assert result == decision("next_day", "flags", "slow", door_delivery=True)


def test_priority_is_the_highest_of_defaults_and_matching_rules() -> None:
    rules = rule_set(
        rule("low", {"priority": 10}),
        rule("high", {"priority": 30}),
        rule("unmatched", {"priority": 90}, tier=["vip"]),
        rule("middle", {"priority": 20}),
    )
    assert decide_service(rules, ORDER).priority == 30
    assert decide_service(rule_set(rule("low", {"priority": 3}), priority=5), ORDER).priority == 5


def test_booleans_combine_with_or_and_defaults_cannot_be_withdrawn() -> None:
    rules = rule_set(
        rule("door", {"door_delivery": True}),
        rule("inspect", {"unboxing_inspection": True}, tier=["vip"]),
        free_shipping=True,
    )
    assert decide_service(rules, ORDER) == decision(
        "instant", "door", door_delivery=True, free_shipping=True
    )


def test_matched_rules_are_in_document_order() -> None:
    rules = rule_set(
        rule("c", {"priority": 1}),
        rule("a", {"priority": 2}, tier=["vip"]),
        rule("b", {"priority": 3}),
    )
    assert decide_service(rules, ORDER).matched_rules == ("c", "b")


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ({}, True),
        ({"tier": ["standard", "gold"]}, True),
        ({"tier": ["STANDARD"]}, True),
        ({"tier": ["vip"]}, False),
        ({"tags_any": ["high-frequency", "new"]}, True),
        ({"tags_any": ["vip-club"]}, False),
        ({"tags_all": ["high-frequency", "new"]}, True),
        ({"tags_all": ["high-frequency", "mother-and-baby"]}, False),
        ({"channel": ["app", "meituan"]}, True),
        ({"channel": ["App"]}, False),
        ({"channel_kind": ["app"]}, True),
        ({"channel_kind": ["marketplace", "delivery_platform"]}, False),
        ({"basket_value_min_cents": 8_800}, True),
        ({"basket_value_min_cents": 8_801}, False),
        ({"basket_value_max_cents": 8_800}, True),
        ({"basket_value_max_cents": 8_799}, False),
        ({"item_count_min": 3, "item_count_max": 3}, True),
        ({"item_count_min": 4}, False),
        ({"item_count_max": 2}, False),
        ({"temperature_classes": ["chilled", "frozen"]}, True),
        ({"temperature_classes": ["ambient"]}, False),
        ({"categories": ["Dairy"]}, True),
        ({"categories": ["mother_baby"]}, False),
        ({"tier": ["standard"], "channel_kind": ["app"], "item_count_min": 3}, True),
        ({"tier": ["standard"], "channel_kind": ["app"], "item_count_min": 4}, False),
    ],
)
def test_each_condition_and_their_conjunction(when: dict[str, Any], matches: bool) -> None:
    order = context(
        tags=frozenset({"High-Frequency", "new"}),
        temperature_classes=frozenset({"chilled"}),
        categories=frozenset({"dairy"}),
    )
    rules = rule_set(rule("r", {"free_shipping": True}, **when))
    assert decide_service(rules, order).matched_rules == (("r",) if matches else ())


def test_tier_condition_never_matches_an_order_without_member() -> None:
    rules = rule_set(rule("r", {"free_shipping": True}, tier=["standard", "gold", "vip"]))
    assert decide_service(rules, context(tier=None)).matched_rules == ()


def test_an_undeclared_member_tier_matches_no_tier_condition() -> None:
    rules = rule_set(rule("r", {"free_shipping": True}, tier=["standard"]))
    assert decide_service(rules, context(tier="platinum")).matched_rules == ()


# ---- explanations --------------------------------------------------------------------------


def test_explanation_says_why_each_rule_did_or_did_not_apply() -> None:
    explained = explain_service(
        DEFAULTS,
        context(tier="gold", tags=frozenset({"high-frequency"}), categories=frozenset({"dairy"})),
    )
    assert explained.decision == decide_service(
        DEFAULTS,
        context(tier="gold", tags=frozenset({"high-frequency"}), categories=frozenset({"dairy"})),
    )
    assert [(v.name, v.matched, v.unmet) for v in explained.verdicts] == [
        ("vip-next-day-door", False, ("tier: 'gold' is not one of ['vip']",)),
        (
            "mother-and-baby-member",
            False,
            ("tags_any: ['high-frequency'] include none of ['mother-and-baby']",),
        ),
        (
            "mother-and-baby-basket",
            False,
            ("categories: ['dairy'] include none of ['mother_baby']",),
        ),
        ("high-frequency-free-shipping", True, ()),
    ]
    assert explained.decided_by == {
        "promise_class": "defaults",
        "priority": "defaults",
        "door_delivery": "defaults",
        "unboxing_inspection": "defaults",
        "free_shipping": "high-frequency-free-shipping",
    }


def test_explanation_lists_every_failed_condition() -> None:
    rules = rule_set(
        rule(
            "picky",
            {"priority": 9},
            tier=["vip"],
            tags_all=["a", "b"],
            channel=["tmall"],
            channel_kind=["marketplace"],
            basket_value_min_cents=10_000,
            item_count_max=2,
            temperature_classes=["frozen"],
        )
    )
    (verdict,) = explain_service(rules, context(tier=None, tags=frozenset({"A"}))).verdicts
    assert verdict.unmet == (
        "tier: no member tier; needs one of ['vip']",
        "tags_all: member lacks ['b']",
        "channel: 'app' is not one of ['tmall']",
        "channel_kind: 'app' is not one of ['marketplace']",
        "basket_value_min_cents: basket_value_cents 8800 is below 10000",
        "item_count_max: item_count 3 is above 2",
        "temperature_classes: ['ambient'] include none of ['frozen']",
    )


def test_decided_by_names_the_first_rule_of_each_field() -> None:
    rules = rule_set(
        rule("door", {"door_delivery": True, "priority": 5}),
        rule("slow", {"promise_class": "next_day", "priority": 20}),
        rule("door-again", {"door_delivery": True, "priority": 20}),
        unboxing_inspection=True,
    )
    assert explain_service(rules, ORDER).decided_by == {
        "promise_class": "slow",
        "priority": "slow",
        "door_delivery": "door",
        "unboxing_inspection": "defaults",
        "free_shipping": "defaults",
    }


def test_readme_shows_the_shipped_defaults() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("### Member-tier service rules", 1)[1]
    shown = section.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == DEFAULT_RULES
