"""Every way a rule document can be wrong, and the path each error names (pure)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cloud.member_rules import DEFAULT_RULES, RuleSetError, parse_rule_set

Edit = Callable[[dict[str, Any]], object]


def document() -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT_RULES)
    assert isinstance(doc, dict)
    return doc


def when(index: int, **conditions: Any) -> Edit:
    return lambda doc: doc["rules"][index].__setitem__("when", conditions)


def then(index: int, **fields: Any) -> Edit:
    return lambda doc: doc["rules"][index].__setitem__("then", fields)


def put(*keys: Any, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


def drop(*keys: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return edit


PROMISES = "('instant', 'same_day', 'next_day')"
DEFAULT_KEYS = "promise_class, priority, door_delivery, unboxing_inspection, free_shipping"
RULE = {"name": "r", "when": {}, "then": {"priority": 1}}

CASES = [
    pytest.param(
        put("colour", value=1),
        ("colour: unknown field; allowed: tiers, defaults, rules"),
        id="unknown top-level field",
    ),
    pytest.param(
        drop("tiers"),
        ("tiers: required field is missing"),
        id="missing tiers",
    ),
    pytest.param(
        drop("defaults"),
        ("defaults: required field is missing"),
        id="missing defaults",
    ),
    pytest.param(
        drop("rules"),
        ("rules: required field is missing"),
        id="missing rules",
    ),
    pytest.param(
        put("tiers", value="vip"),
        ("tiers: expected a non-empty list of strings, got a string"),
        id="tiers not a list",
    ),
    pytest.param(
        put("tiers", value=[]),
        ("tiers: expected a non-empty list of strings, got an empty list"),
        id="tiers empty",
    ),
    pytest.param(
        put("tiers", value=[f"t{i}" for i in range(101)]),
        ("tiers: 101 values; at most 100 are allowed"),
        id="too many tiers",
    ),
    pytest.param(
        put("tiers", value=["vip", 3]),
        ("tiers[1]: expected a non-empty string, got a number"),
        id="tier not a string",
    ),
    pytest.param(
        put("tiers", value=["vip", "  "]),
        ("tiers[1]: must not be blank"),
        id="tier blank",
    ),
    pytest.param(
        put("tiers", value=[" vip"]),
        ("tiers[0]: ' vip': at most 64 characters, no surrounding spaces"),
        id="tier padded",
    ),
    pytest.param(
        put("tiers", value=["v" * 65]),
        (f"tiers[0]: {'v' * 65!r}: at most 64 characters, no surrounding spaces"),
        id="tier too long",
    ),
    pytest.param(
        put("tiers", value=["vip", "gold", "VIP"]),
        ("tiers[2]: duplicate tier 'vip'"),
        id="duplicate tier",
    ),
    pytest.param(
        put("defaults", value=[]),
        ("defaults: expected an object, got an empty list"),
        id="defaults not an object",
    ),
    pytest.param(
        put("defaults", "speed", value=1),
        (f"defaults.speed: unknown field; allowed: {DEFAULT_KEYS}"),
        id="unknown default",
    ),
    pytest.param(
        drop("defaults", "free_shipping"),
        ("defaults.free_shipping: required field is missing"),
        id="missing default",
    ),
    pytest.param(
        put("defaults", "door_delivery", value="yes"),
        ("defaults.door_delivery: expected true or false, got 'yes'"),
        id="default flag not boolean",
    ),
    pytest.param(
        put("defaults", "promise_class", value="asap"),
        (f"defaults.promise_class: unknown promise class 'asap'; use one of {PROMISES}"),
        id="default promise unknown",
    ),
    pytest.param(
        put("defaults", "priority", value=101),
        ("defaults.priority: expected a whole number 0..100, got 101"),
        id="default priority too high",
    ),
    pytest.param(
        put("defaults", "priority", value=-1),
        ("defaults.priority: expected a whole number 0..100, got -1"),
        id="default priority negative",
    ),
    pytest.param(
        put("defaults", "priority", value=1.5),
        ("defaults.priority: expected a whole number 0..100, got 1.5"),
        id="default priority fractional",
    ),
    pytest.param(
        put("defaults", "priority", value=True),
        ("defaults.priority: expected a whole number 0..100, got True"),
        id="default priority boolean",
    ),
    pytest.param(
        put("rules", value={}),
        ("rules: expected a list of rules, got an object"),
        id="rules not a list",
    ),
    pytest.param(
        put("rules", value=[{**RULE, "name": f"r{i}"} for i in range(201)]),
        ("rules: 201 rules; at most 200 are allowed"),
        id="too many rules",
    ),
    pytest.param(
        put("rules", 1, value="vip"),
        ("rules[1]: expected a rule object, got a string"),
        id="rule not an object",
    ),
    pytest.param(
        put("rules", 0, "stop", value=True),
        ("rules[0].stop: unknown field; allowed: name, when, then, description"),
        id="unknown rule field",
    ),
    pytest.param(
        drop("rules", 2, "name"),
        ("rules[2].name: required field is missing"),
        id="rule without name",
    ),
    pytest.param(
        drop("rules", 2, "when"),
        ("rules[2].when: required field is missing"),
        id="rule without when",
    ),
    pytest.param(
        drop("rules", 3, "then"),
        ("rules[3].then: required field is missing"),
        id="rule without then",
    ),
    pytest.param(
        put("rules", 0, "description", value=None),
        ("rules[0].description: expected a string, got null"),
        id="description not a string",
    ),
    pytest.param(
        put("rules", 1, "name", value=7),
        ("rules[1].name: expected a non-empty string, got a number"),
        id="name not a string",
    ),
    pytest.param(
        put("rules", 1, "name", value=""),
        ("rules[1].name: must not be blank"),
        id="name empty",
    ),
    pytest.param(
        put("rules", 3, "name", value="vip-next-day-door"),
        ("rules[3].name: duplicate rule name 'vip-next-day-door' (also rules[0])"),
        id="duplicate name",
    ),
    pytest.param(
        put("rules", 0, "when", value=["vip"]),
        ("rules[0].when: expected an object of conditions, got a list"),
        id="when not an object",
    ),
    pytest.param(
        when(1, tags=["a"]),
        (
            "rules[1].when.tags: unknown field; allowed: tier, tags_any, tags_all, "
            "channel, channel_kind, temperature_classes, categories, "
            "basket_value_min_cents, basket_value_max_cents, item_count_min, "
            "item_count_max"
        ),
        id="unknown condition",
    ),
    pytest.param(
        when(1, tags_any="mother-and-baby"),
        ("rules[1].when.tags_any: expected a non-empty list of strings, got a string"),
        id="condition not a list",
    ),
    pytest.param(
        when(1, channel=[]),
        ("rules[1].when.channel: expected a non-empty list of strings, got an empty list"),
        id="condition empty list",
    ),
    pytest.param(
        when(1, categories=["dairy", None]),
        ("rules[1].when.categories[1]: expected a non-empty string, got null"),
        id="condition value not a string",
    ),
    pytest.param(
        when(2, tier=["vip", "platinum"]),
        (
            "rules[2].when.tier: unknown tier 'platinum'; declare it in tiers "
            "['standard', 'silver', 'gold', 'vip']"
        ),
        id="unknown tier",
    ),
    pytest.param(
        when(0, channel_kind=["pos"]),
        (
            "rules[0].when.channel_kind: unknown channel kind 'pos'; use one of "
            "('app', 'marketplace', 'delivery_platform')"
        ),
        id="unknown channel kind",
    ),
    pytest.param(
        when(0, temperature_classes=["Frozen"]),
        (
            "rules[0].when.temperature_classes: unknown temperature class "
            "'Frozen'; use one of ('ambient', 'chilled', 'frozen')"
        ),
        id="unknown temperature class",
    ),
    pytest.param(
        when(0, basket_value_min_cents=-1),
        ("rules[0].when.basket_value_min_cents: expected a whole number >= 0, got -1"),
        id="bound negative",
    ),
    pytest.param(
        when(0, item_count_max="3"),
        ("rules[0].when.item_count_max: expected a whole number >= 0, got '3'"),
        id="bound not a number",
    ),
    pytest.param(
        when(0, basket_value_max_cents=99.5),
        ("rules[0].when.basket_value_max_cents: expected a whole number >= 0, got 99.5"),
        id="bound fractional",
    ),
    pytest.param(
        when(0, basket_value_min_cents=5000, basket_value_max_cents=4999),
        (
            "rules[0].when.basket_value_min_cents: 5000 is above "
            "basket_value_max_cents 4999; the rule could never match"
        ),
        id="empty basket range",
    ),
    pytest.param(
        when(0, item_count_min=3, item_count_max=2),
        ("rules[0].when.item_count_min: 3 is above item_count_max 2; the rule could never match"),
        id="empty item range",
    ),
    pytest.param(
        put("rules", 0, "then", value=True),
        ("rules[0].then: expected an object of service fields, got a boolean"),
        id="then not an object",
    ),
    pytest.param(
        then(0),
        (f"rules[0].then: set at least one of {DEFAULT_KEYS}"),
        id="then empty",
    ),
    pytest.param(
        then(0, express=True),
        (f"rules[0].then.express: unknown field; allowed: {DEFAULT_KEYS}"),
        id="unknown service field",
    ),
    pytest.param(
        then(3, free_shipping=False),
        (
            "rules[3].then.free_shipping: only true is allowed (rules grant; it "
            "combines with OR), got False; to withhold it, set it false in "
            "defaults and grant it by rule"
        ),
        id="then flag false",
    ),
    pytest.param(
        then(1, unboxing_inspection=1),
        (
            "rules[1].then.unboxing_inspection: only true is allowed (rules grant; "
            "it combines with OR), got 1; to withhold it, set it false in defaults "
            "and grant it by rule"
        ),
        id="then flag not boolean",
    ),
    pytest.param(
        then(0, promise_class="next-day"),
        (f"rules[0].then.promise_class: unknown promise class 'next-day'; use one of {PROMISES}"),
        id="then promise unknown",
    ),
    pytest.param(
        then(0, promise_class=None),
        (f"rules[0].then.promise_class: unknown promise class None; use one of {PROMISES}"),
        id="then promise null",
    ),
    pytest.param(
        then(1, priority=1000),
        ("rules[1].then.priority: expected a whole number 0..100, got 1000"),
        id="then priority too high",
    ),
]


@pytest.mark.parametrize(("edit", "message"), CASES)
def test_invalid_document_names_the_path(edit: Edit, message: str) -> None:
    doc = document()
    edit(doc)
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(doc)
    assert str(caught.value) == message
    path, _, problem = message.partition(": ")
    assert (caught.value.path, caught.value.problem) == (path, problem)


@pytest.mark.parametrize("value", [None, [], "rules", 3])
def test_document_must_be_an_object(value: Any) -> None:
    with pytest.raises(RuleSetError, match=r"^document: expected an object, got "):
        parse_rule_set(value)


def test_the_first_problem_in_document_order_is_reported() -> None:
    doc = document()
    doc["rules"][1]["when"] = {"tier": ["platinum"]}
    doc["rules"][3]["then"] = {}
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(doc)
    assert caught.value.path == "rules[1].when.tier"


def test_limits_themselves_are_accepted() -> None:
    doc = document()
    doc["tiers"] = [f"t{i}" for i in range(100)]
    doc["defaults"]["priority"] = 100
    doc["rules"] = [
        {
            "name": f"r{i}" + "x" * 60,
            "when": {"basket_value_min_cents": 0, "basket_value_max_cents": 0, "tier": ["t99"]},
            "then": {"priority": 0},
        }
        for i in range(200)
    ]
    parsed = parse_rule_set(doc)
    assert len(parsed.rules) == 200
    assert parsed.defaults.priority == 100
