"""Member-tier service rules: a declarative JSON document that decides the service an order gets.

Pure: no I/O, no clock. The document (see ``DEFAULT_RULES`` and the README) has ``tiers`` (the
member tiers rules may name), ``defaults`` (the service when no rule says otherwise) and ordered
``rules``, each with a ``name``, a ``when`` (every condition must hold) and a ``then``.

Combination, over the matching rules in document order:
- ``promise_class``: the first matching rule that sets it wins; else the default.
- ``priority``: the highest of the default and every matching rule's priority.
- ``door_delivery``, ``unboxing_inspection``, ``free_shipping``: the default OR any matching rule
  (rules only grant them, so ``then`` accepts only ``true``).

Tiers, tags and categories compare case-insensitively; channel ids exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

PROMISE_CLASSES: Final = ("instant", "same_day", "next_day")
CHANNEL_KINDS: Final = ("app", "marketplace", "delivery_platform")
TEMPERATURE_CLASSES: Final = ("ambient", "chilled", "frozen")
MAX_PRIORITY: Final = 100
MAX_RULES: Final = 200
MAX_VALUES: Final = 100
MAX_NAME: Final = 64
BOOLEAN_FIELDS: Final = ("door_delivery", "unboxing_inspection", "free_shipping")
SERVICE_FIELDS: Final = ("promise_class", "priority", *BOOLEAN_FIELDS)

DEFAULT_RULES: Final[dict[str, object]] = {
    "tiers": ["standard", "silver", "gold", "vip"],
    "defaults": {
        "promise_class": "instant",
        "door_delivery": False,
        "priority": 0,
        "unboxing_inspection": False,
        "free_shipping": False,
    },
    "rules": [
        {
            "name": "vip-next-day-door",
            "description": "VIP members: next-day promise, delivered to the door",
            "when": {"tier": ["vip"]},
            "then": {"promise_class": "next_day", "door_delivery": True},
        },
        {
            "name": "mother-and-baby-member",
            "description": "Mother-and-baby members: priority handling, unboxing inspection",
            "when": {"tags_any": ["mother-and-baby"]},
            "then": {"priority": 50, "unboxing_inspection": True},
        },
        {
            "name": "mother-and-baby-basket",
            "description": "Baskets with mother-and-baby products: the same, for any buyer",
            "when": {"categories": ["mother_baby"]},
            "then": {"priority": 50, "unboxing_inspection": True},
        },
        {
            "name": "high-frequency-free-shipping",
            "description": "High-frequency buyers ship free",
            "when": {"tags_any": ["high-frequency"]},
            "then": {"free_shipping": True},
        },
    ],
}


@dataclass(frozen=True)
class ServiceContext:
    """What the rules look at: the member, the channel and the basket of one order."""

    tier: str | None
    tags: frozenset[str]
    channel: str
    channel_kind: str
    basket_value_cents: int
    item_count: int
    temperature_classes: frozenset[str]
    categories: frozenset[str]


@dataclass(frozen=True)
class ServiceDecision:
    """The service an order gets and the rules (by name, in document order) that shaped it."""

    promise_class: str  # "instant" | "same_day" | "next_day"
    door_delivery: bool
    priority: int
    unboxing_inspection: bool
    free_shipping: bool
    matched_rules: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "promise_class": self.promise_class,
            "door_delivery": self.door_delivery,
            "priority": self.priority,
            "unboxing_inspection": self.unboxing_inspection,
            "free_shipping": self.free_shipping,
            "matched_rules": list(self.matched_rules),
        }


class RuleSetError(ValueError):
    """A rule document is invalid; ``path`` locates the problem, e.g. ``rules[2].when.tier``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class _Facts:
    """A context with tier, tags and categories case-folded once per decision."""

    context: ServiceContext
    tier: str | None
    tags: frozenset[str]
    categories: frozenset[str]

    @classmethod
    def of(cls, context: ServiceContext) -> _Facts:
        tier = context.tier.casefold() if context.tier is not None else None
        tags = frozenset(tag.casefold() for tag in context.tags)
        categories = frozenset(category.casefold() for category in context.categories)
        return cls(context, tier, tags, categories)


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed ``when``: ``None`` (or an empty ``tags_all``) means no constraint."""

    tier: frozenset[str] | None = None
    tags_any: frozenset[str] | None = None
    tags_all: frozenset[str] = frozenset()
    channel: frozenset[str] | None = None
    channel_kind: frozenset[str] | None = None
    basket_value_min_cents: int | None = None
    basket_value_max_cents: int | None = None
    item_count_min: int | None = None
    item_count_max: int | None = None
    temperature_classes: frozenset[str] | None = None
    categories: frozenset[str] | None = None

    def _unmet(self, facts: _Facts) -> Iterator[str]:
        """The names of the conditions ``facts`` fails (:meth:`matches` is the fast twin)."""
        ctx = facts.context
        if self.tier is not None and facts.tier not in self.tier:
            yield "tier"
        if self.tags_any is not None and self.tags_any.isdisjoint(facts.tags):
            yield "tags_any"
        if not self.tags_all <= facts.tags:
            yield "tags_all"
        if self.channel is not None and ctx.channel not in self.channel:
            yield "channel"
        if self.channel_kind is not None and ctx.channel_kind not in self.channel_kind:
            yield "channel_kind"
        low, high = self.basket_value_min_cents, self.basket_value_max_cents
        if low is not None and ctx.basket_value_cents < low:
            yield "basket_value_min_cents"
        if high is not None and ctx.basket_value_cents > high:
            yield "basket_value_max_cents"
        if self.item_count_min is not None and ctx.item_count < self.item_count_min:
            yield "item_count_min"
        if self.item_count_max is not None and ctx.item_count > self.item_count_max:
            yield "item_count_max"
        wanted = self.temperature_classes
        if wanted is not None and wanted.isdisjoint(ctx.temperature_classes):
            yield "temperature_classes"
        if self.categories is not None and self.categories.isdisjoint(facts.categories):
            yield "categories"

    def matches(self, facts: _Facts) -> bool:
        """``not self.unmet(facts)``, without building reasons (this runs for every order)."""
        ctx = facts.context
        return (
            (self.tier is None or facts.tier in self.tier)
            and (self.tags_any is None or not self.tags_any.isdisjoint(facts.tags))
            and self.tags_all <= facts.tags
            and (self.channel is None or ctx.channel in self.channel)
            and (self.channel_kind is None or ctx.channel_kind in self.channel_kind)
            and (
                self.basket_value_min_cents is None
                or ctx.basket_value_cents >= self.basket_value_min_cents
            )
            and (
                self.basket_value_max_cents is None
                or ctx.basket_value_cents <= self.basket_value_max_cents
            )
            and (self.item_count_min is None or ctx.item_count >= self.item_count_min)
            and (self.item_count_max is None or ctx.item_count <= self.item_count_max)
            and (
                self.temperature_classes is None
                or not self.temperature_classes.isdisjoint(ctx.temperature_classes)
            )
            and (self.categories is None or not self.categories.isdisjoint(facts.categories))
        )

    def unmet(self, facts: _Facts) -> tuple[str, ...]:
        """Every failed condition, worded for people asking why a rule did not apply."""
        return tuple(self._explain(name, facts) for name in self._unmet(facts))

    def _explain(self, name: str, facts: _Facts) -> str:
        ctx = facts.context
        needed = getattr(self, name)
        if name == "tags_all":
            return f"tags_all: member lacks {sorted(needed - facts.tags)}"
        if name in _BOUNDS:
            field, below = _BOUNDS[name]
            relation = "below" if below else "above"
            return f"{name}: {field} {getattr(ctx, field)} is {relation} {needed}"
        if name == "tier" and facts.tier is None:
            return f"tier: no member tier; needs one of {sorted(needed)}"
        if name == "tier" or name.startswith("channel"):
            actual = facts.tier if name == "tier" else getattr(ctx, name)
            return f"{name}: {actual!r} is not one of {sorted(needed)}"
        present = {
            "tags_any": facts.tags,
            "temperature_classes": ctx.temperature_classes,
            "categories": facts.categories,
        }[name]
        return f"{name}: {sorted(present)} include none of {sorted(needed)}"


# condition -> (the context field it bounds, whether it is a lower bound)
_BOUNDS: Final = {
    "basket_value_min_cents": ("basket_value_cents", True),
    "basket_value_max_cents": ("basket_value_cents", False),
    "item_count_min": ("item_count", True),
    "item_count_max": ("item_count", False),
}


@dataclass(frozen=True, slots=True)
class Grant:
    """A parsed ``then``: ``None``/``False`` leaves the field to other rules and the defaults."""

    promise_class: str | None = None
    priority: int | None = None
    door_delivery: bool = False
    unboxing_inspection: bool = False
    free_shipping: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    description: str
    when: Condition
    then: Grant


@dataclass(frozen=True, slots=True)
class ServiceDefaults:
    promise_class: str
    priority: int
    door_delivery: bool
    unboxing_inspection: bool
    free_shipping: bool


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated rule document: declared tiers, defaults and the rules in order."""

    tiers: tuple[str, ...]
    defaults: ServiceDefaults
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule against one context: matched, or the conditions it failed."""

    name: str
    matched: bool
    unmet: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceExplanation:
    """A decision with, per rule, why it did or did not apply, and per field which rule decided."""

    decision: ServiceDecision
    verdicts: tuple[RuleVerdict, ...]
    # field -> the rule that determined it (the first one, for OR-ed booleans), or "defaults"
    decided_by: dict[str, str]


def decide_service(rules: RuleSet, context: ServiceContext) -> ServiceDecision:
    """The service for ``context`` under ``rules`` (see the module docstring); never raises."""
    facts = _Facts.of(context)
    return _combine(rules, [rule for rule in rules.rules if rule.when.matches(facts)])


def explain_service(rules: RuleSet, context: ServiceContext) -> ServiceExplanation:
    """:func:`decide_service` plus the reasons, for "why did this order get that" questions."""
    facts = _Facts.of(context)
    verdicts = []
    matched = []
    for rule in rules.rules:
        unmet = rule.when.unmet(facts)
        verdicts.append(RuleVerdict(rule.name, not unmet, unmet))
        if not unmet:
            matched.append(rule)
    decision = _combine(rules, matched)
    return ServiceExplanation(decision, tuple(verdicts), _decided_by(rules, matched, decision))


def _combine(rules: RuleSet, matched: Sequence[Rule]) -> ServiceDecision:
    defaults = rules.defaults
    promise: str | None = None
    priority = defaults.priority
    door, inspection, free = (
        defaults.door_delivery,
        defaults.unboxing_inspection,
        defaults.free_shipping,
    )
    for rule in matched:
        then = rule.then
        if promise is None:
            promise = then.promise_class
        if then.priority is not None and then.priority > priority:
            priority = then.priority
        door = door or then.door_delivery
        inspection = inspection or then.unboxing_inspection
        free = free or then.free_shipping
    return ServiceDecision(
        promise_class=defaults.promise_class if promise is None else promise,
        door_delivery=door,
        priority=priority,
        unboxing_inspection=inspection,
        free_shipping=free,
        matched_rules=tuple(rule.name for rule in matched),
    )


def _decided_by(
    rules: RuleSet, matched: Sequence[Rule], decision: ServiceDecision
) -> dict[str, str]:
    sources: dict[str, str] = {}
    for field in SERVICE_FIELDS:
        if field in BOOLEAN_FIELDS and getattr(rules.defaults, field):
            sources[field] = "defaults"
            continue
        value = decision.priority if field == "priority" else getattr(decision, field)
        setter = next(
            (
                rule.name
                for rule in matched
                if getattr(rule.then, field) not in (None, False)
                and getattr(rule.then, field) == value
            ),
            "defaults",
        )
        sources[field] = setter
    return sources


# ---- parsing -------------------------------------------------------------------------------

_LIST_CONDITIONS: Final = (
    "tier",
    "tags_any",
    "tags_all",
    "channel",
    "channel_kind",
    "temperature_classes",
    "categories",
)
_FOLDED: Final = frozenset({"tier", "tags_any", "tags_all", "categories"})
_RANGES: Final = (
    ("basket_value_min_cents", "basket_value_max_cents"),
    ("item_count_min", "item_count_max"),
)
_VOCABULARIES: Final = {
    "channel_kind": ("channel kind", CHANNEL_KINDS),
    "temperature_classes": ("temperature class", TEMPERATURE_CLASSES),
}


def parse_rule_set(document: Mapping[str, object]) -> RuleSet:
    """Validate ``document`` and return it typed; :class:`RuleSetError` names the first problem."""
    if not isinstance(document, Mapping):
        raise RuleSetError("document", f"expected an object, got {_kind(document)}")
    _only_keys(document, "", required=("tiers", "defaults", "rules"), optional=())
    tiers = _tiers(document["tiers"])
    defaults = _defaults(document["defaults"])
    raw_rules = document["rules"]
    if not isinstance(raw_rules, list):
        raise RuleSetError("rules", f"expected a list of rules, got {_kind(raw_rules)}")
    if len(raw_rules) > MAX_RULES:
        raise RuleSetError("rules", f"{len(raw_rules)} rules; at most {MAX_RULES} are allowed")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule = _rule(raw, f"rules[{index}]", tiers)
        if rule.name in seen:
            raise RuleSetError(
                f"rules[{index}].name",
                f"duplicate rule name {rule.name!r} (also rules[{seen[rule.name]}])",
            )
        seen[rule.name] = index
        rules.append(rule)
    return RuleSet(tiers=tiers, defaults=defaults, rules=tuple(rules))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value),
        ("a list" if value else "an empty list") if isinstance(value, list) else "an object",
    )


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _only_keys(
    raw: Mapping[str, object], path: str, *, required: Sequence[str], optional: Sequence[str]
) -> None:
    for key in raw:
        if key not in required and key not in optional:
            allowed = ", ".join([*required, *optional])
            raise RuleSetError(_join(path, str(key)), f"unknown field; allowed: {allowed}")
    for key in required:
        if key not in raw:
            raise RuleSetError(_join(path, key), "required field is missing")


def _name(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise RuleSetError(path, f"expected a non-empty string, got {_kind(value)}")
    if not value.strip():
        raise RuleSetError(path, "must not be blank")
    if value != value.strip() or len(value) > MAX_NAME:
        raise RuleSetError(path, f"{value!r}: at most {MAX_NAME} characters, no surrounding spaces")
    return value


def _names(value: object, path: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleSetError(path, f"expected a non-empty list of strings, got {_kind(value)}")
    if len(value) > MAX_VALUES:
        raise RuleSetError(path, f"{len(value)} values; at most {MAX_VALUES} are allowed")
    return [_name(item, f"{path}[{index}]") for index, item in enumerate(value)]


def _tiers(value: object) -> tuple[str, ...]:
    tiers = [tier.casefold() for tier in _names(value, "tiers")]
    for index, tier in enumerate(tiers):
        if tier in tiers[:index]:
            raise RuleSetError(f"tiers[{index}]", f"duplicate tier {tier!r}")
    return tuple(tiers)


def _promise_class(value: object, path: str) -> str:
    if value not in PROMISE_CLASSES:
        raise RuleSetError(path, f"unknown promise class {value!r}; use one of {PROMISE_CLASSES}")
    assert isinstance(value, str)
    return value


def _priority(value: object, path: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_PRIORITY:
        raise RuleSetError(path, f"expected a whole number 0..{MAX_PRIORITY}, got {value!r}")
    return value


def _count(value: object, path: str) -> int:
    if type(value) is not int or value < 0:
        raise RuleSetError(path, f"expected a whole number >= 0, got {value!r}")
    return value


def _defaults(value: object) -> ServiceDefaults:
    if not isinstance(value, Mapping):
        raise RuleSetError("defaults", f"expected an object, got {_kind(value)}")
    _only_keys(value, "defaults", required=SERVICE_FIELDS, optional=())
    flags = {}
    for field in BOOLEAN_FIELDS:
        if not isinstance(value[field], bool):
            raise RuleSetError(f"defaults.{field}", f"expected true or false, got {value[field]!r}")
        flags[field] = value[field]
    return ServiceDefaults(
        promise_class=_promise_class(value["promise_class"], "defaults.promise_class"),
        priority=_priority(value["priority"], "defaults.priority"),
        **flags,
    )


def _rule(raw: object, path: str, tiers: tuple[str, ...]) -> Rule:
    if not isinstance(raw, Mapping):
        raise RuleSetError(path, f"expected a rule object, got {_kind(raw)}")
    _only_keys(raw, path, required=("name", "when", "then"), optional=("description",))
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise RuleSetError(f"{path}.description", f"expected a string, got {_kind(description)}")
    return Rule(
        name=_name(raw["name"], f"{path}.name"),
        description=description,
        when=_condition(raw["when"], f"{path}.when", tiers),
        then=_grant(raw["then"], f"{path}.then"),
    )


def _condition(raw: object, path: str, tiers: tuple[str, ...]) -> Condition:
    if not isinstance(raw, Mapping):
        raise RuleSetError(path, f"expected an object of conditions, got {_kind(raw)}")
    _only_keys(raw, path, required=(), optional=(*_LIST_CONDITIONS, *_BOUNDS))
    sets = {
        key: _value_set(key, raw[key], f"{path}.{key}", tiers)
        for key in _LIST_CONDITIONS
        if key in raw
    }
    bounds = {key: _count(raw[key], f"{path}.{key}") for key in _BOUNDS if key in raw}
    for low_key, high_key in _RANGES:
        low, high = bounds.get(low_key), bounds.get(high_key)
        if low is not None and high is not None and low > high:
            raise RuleSetError(
                f"{path}.{low_key}", f"{low} is above {high_key} {high}; the rule could never match"
            )
    return Condition(
        tier=sets.get("tier"),
        tags_any=sets.get("tags_any"),
        tags_all=sets.get("tags_all", frozenset()),
        channel=sets.get("channel"),
        channel_kind=sets.get("channel_kind"),
        basket_value_min_cents=bounds.get("basket_value_min_cents"),
        basket_value_max_cents=bounds.get("basket_value_max_cents"),
        item_count_min=bounds.get("item_count_min"),
        item_count_max=bounds.get("item_count_max"),
        temperature_classes=sets.get("temperature_classes"),
        categories=sets.get("categories"),
    )


def _value_set(key: str, raw: object, path: str, tiers: tuple[str, ...]) -> frozenset[str]:
    names = _names(raw, path)
    if key in _FOLDED:
        names = [name.casefold() for name in names]
    if key == "tier":
        for name in names:
            if name not in tiers:
                raise RuleSetError(
                    path, f"unknown tier {name!r}; declare it in tiers {list(tiers)}"
                )
    if key in _VOCABULARIES:
        label, known = _VOCABULARIES[key]
        for name in names:
            if name not in known:
                raise RuleSetError(path, f"unknown {label} {name!r}; use one of {known}")
    return frozenset(names)


def _grant(raw: object, path: str) -> Grant:
    if not isinstance(raw, Mapping):
        raise RuleSetError(path, f"expected an object of service fields, got {_kind(raw)}")
    _only_keys(raw, path, required=(), optional=SERVICE_FIELDS)
    if not raw:
        raise RuleSetError(path, f"set at least one of {', '.join(SERVICE_FIELDS)}")
    flags = {}
    for field in BOOLEAN_FIELDS:
        if field in raw:
            if raw[field] is not True:
                raise RuleSetError(
                    f"{path}.{field}",
                    f"only true is allowed (rules grant; it combines with OR), got {raw[field]!r}"
                    "; to withhold it, set it false in defaults and grant it by rule",
                )
            flags[field] = True
    return Grant(
        promise_class=_promise_class(raw["promise_class"], f"{path}.promise_class")
        if "promise_class" in raw
        else None,
        priority=_priority(raw["priority"], f"{path}.priority") if "priority" in raw else None,
        **flags,
    )
