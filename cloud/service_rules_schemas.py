"""Request and response models of the member-tier service rules API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from cloud.member_rules import (
    CHANNEL_KINDS,
    TEMPERATURE_CLASSES,
    ServiceContext,
    ServiceDecision,
    ServiceExplanation,
)

Label = Field(min_length=1, max_length=64)


class RuleSetVersionPublic(BaseModel):
    version: int
    comment: str
    created_by: str
    created_at: str


class RuleSetPublic(RuleSetVersionPublic):
    document: dict[str, Any] = Field(description="The rule document as published")


class RuleSetPublish(BaseModel):
    document: dict[str, Any] = Field(description="The new rule document (see the README)")
    comment: str = Field(min_length=1, max_length=500, description="Why it changed")
    base_version: int | None = Field(
        default=None,
        ge=1,
        description="Publish only if this version is still in force (else 409), "
        "so two editors cannot silently overwrite each other",
    )


class ServiceContextIn(BaseModel):
    """One order as the rules see it."""

    tier: str | None = Field(default=None, max_length=64, description="null: no member")
    tags: list[str] = Field(default_factory=list, max_length=100)
    channel: str = Label
    channel_kind: str
    basket_value_cents: int = Field(ge=0)
    item_count: int = Field(ge=0)
    temperature_classes: list[str] = Field(default_factory=list, max_length=3)
    categories: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("channel_kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel kind {value!r}; use one of {CHANNEL_KINDS}")
        return value

    @field_validator("temperature_classes")
    @classmethod
    def _known_classes(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in TEMPERATURE_CLASSES:
                raise ValueError(
                    f"unknown temperature class {value!r}; use one of {TEMPERATURE_CLASSES}"
                )
        return values

    def to_context(self) -> ServiceContext:
        return ServiceContext(
            tier=self.tier,
            tags=frozenset(self.tags),
            channel=self.channel,
            channel_kind=self.channel_kind,
            basket_value_cents=self.basket_value_cents,
            item_count=self.item_count,
            temperature_classes=frozenset(self.temperature_classes),
            categories=frozenset(self.categories),
        )


class EvaluateRequest(BaseModel):
    context: ServiceContextIn
    document: dict[str, Any] | None = Field(
        default=None, description="A draft rule document to try instead of the active one"
    )
    version: int | None = Field(
        default=None, ge=1, description="A published version to use instead of the active one"
    )

    @model_validator(mode="after")
    def _one_rule_source(self) -> EvaluateRequest:
        if self.document is not None and self.version is not None:
            raise ValueError("give document or version, not both")
        return self


class ServiceDecisionPublic(BaseModel):
    promise_class: str
    door_delivery: bool
    priority: int
    unboxing_inspection: bool
    free_shipping: bool
    matched_rules: list[str]

    @classmethod
    def of(cls, decision: ServiceDecision) -> ServiceDecisionPublic:
        return cls.model_validate(decision.as_dict())


class RuleVerdictPublic(BaseModel):
    name: str
    matched: bool
    unmet: list[str] = Field(description="The conditions the order failed, empty when matched")


class EvaluatePublic(BaseModel):
    version: int | None = Field(description="The rule set version used; null for a draft")
    decision: ServiceDecisionPublic
    rules: list[RuleVerdictPublic]
    decided_by: dict[str, str] = Field(
        description='Per service field, the rule that decided it, or "defaults"'
    )

    @classmethod
    def of(cls, version: int | None, explanation: ServiceExplanation) -> EvaluatePublic:
        return cls(
            version=version,
            decision=ServiceDecisionPublic.of(explanation.decision),
            rules=[
                RuleVerdictPublic(name=v.name, matched=v.matched, unmet=list(v.unmet))
                for v in explanation.verdicts
            ],
            decided_by=explanation.decided_by,
        )
