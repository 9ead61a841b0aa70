"""Hypothesis: any valid rule set decides any context without raising, within its bounds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.member_rules import (
    BOOLEAN_FIELDS,
    CHANNEL_KINDS,
    DEFAULT_RULES,
    MAX_PRIORITY,
    PROMISE_CLASSES,
    TEMPERATURE_CLASSES,
    ServiceContext,
    decide_service,
    explain_service,
    parse_rule_set,
)

TIERS = ["standard", "silver", "gold", "vip"]
WORDS = ["vip", "Gold", "mother-and-baby", "high-frequency", "app", "dairy", "mother_baby", "x"]
word = st.sampled_from(WORDS) | st.text(max_size=8)
cents = st.integers(min_value=-(2**63), max_value=2**63)

contexts = st.builds(
    ServiceContext,
    tier=st.none() | st.sampled_from(TIERS) | word,
    tags=st.frozensets(word, max_size=4),
    channel=word,
    channel_kind=st.sampled_from(CHANNEL_KINDS) | word,
    basket_value_cents=cents,
    item_count=cents,
    temperature_classes=st.frozensets(st.sampled_from(TEMPERATURE_CLASSES) | word, max_size=3),
    categories=st.frozensets(word, max_size=4),
)


def names(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=3)


bound = st.integers(min_value=0, max_value=20_000)
condition = st.fixed_dictionaries(
    {},
    optional={
        "tier": names(TIERS),
        "tags_any": names(WORDS),
        "tags_all": names(WORDS),
        "channel": names(WORDS),
        "channel_kind": names(list(CHANNEL_KINDS)),
        "temperature_classes": names(list(TEMPERATURE_CLASSES)),
        "categories": names(WORDS),
        "basket_value_min_cents": bound,
        "basket_value_max_cents": bound,
        "item_count_min": bound,
        "item_count_max": bound,
    },
).filter(
    lambda when: (
        when.get("basket_value_min_cents", 0) <= when.get("basket_value_max_cents", 10**9)
        and when.get("item_count_min", 0) <= when.get("item_count_max", 10**9)
    )
)
grant = st.fixed_dictionaries(
    {},
    optional={
        "promise_class": st.sampled_from(PROMISE_CLASSES),
        "priority": st.integers(min_value=0, max_value=MAX_PRIORITY),
        **{field: st.just(True) for field in BOOLEAN_FIELDS},
    },
).filter(bool)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    rules = draw(st.lists(st.tuples(condition, grant), max_size=8))
    return {
        "tiers": TIERS,
        "defaults": {
            "promise_class": draw(st.sampled_from(PROMISE_CLASSES)),
            "priority": draw(st.integers(min_value=0, max_value=MAX_PRIORITY)),
            **{field: draw(st.booleans()) for field in BOOLEAN_FIELDS},
        },
        "rules": [{"name": f"r{i}", "when": w, "then": t} for i, (w, t) in enumerate(rules)],
    }


@settings(max_examples=100, deadline=None)
@given(documents(), contexts)
def test_decisions_stay_within_the_rule_set(document: dict[str, Any], ctx: ServiceContext) -> None:
    rules = parse_rule_set(document)
    decision = decide_service(rules, ctx)
    assert explain_service(rules, ctx).decision == decision
    defaults = document["defaults"]
    assert decision.promise_class in PROMISE_CLASSES
    assert defaults["priority"] <= decision.priority <= MAX_PRIORITY
    for field in BOOLEAN_FIELDS:
        assert getattr(decision, field) >= defaults[field]
    order = [rule["name"] for rule in document["rules"]]
    assert list(decision.matched_rules) == [n for n in order if n in decision.matched_rules]
    matched = [rule for rule in document["rules"] if rule["name"] in decision.matched_rules]
    granted_priorities = [rule["then"].get("priority", 0) for rule in matched]
    assert decision.priority == max([defaults["priority"], *granted_priorities])
    promises = [
        rule["then"]["promise_class"] for rule in matched if "promise_class" in rule["then"]
    ]
    assert decision.promise_class == (promises[0] if promises else defaults["promise_class"])


@settings(max_examples=100, deadline=None)
@given(contexts)
def test_shipped_defaults_decide_any_context(ctx: ServiceContext) -> None:
    decision = decide_service(parse_rule_set(DEFAULT_RULES), ctx)
    vip = ctx.tier is not None and ctx.tier.casefold() == "vip"
    assert decision.promise_class == ("next_day" if vip else "instant")
    assert decision.door_delivery is vip
