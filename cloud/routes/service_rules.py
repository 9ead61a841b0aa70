"""Member-tier service rules: the set in force, its history, publishing and "why" evaluation."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from cloud.deps import AdminOnly, AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.service_rules_schemas import (
    EvaluatePublic,
    EvaluateRequest,
    RuleSetPublic,
    RuleSetPublish,
    RuleSetVersionPublic,
)
from cloud.services import service_rules

router = APIRouter(
    prefix="/api/v1/service-rules", route_class=RoleDocumentedRoute, tags=["service rules"]
)


@router.get("", response_model=RuleSetPublic)
async def get_active(_: AdminOrOperator, session: SessionDep) -> RuleSetPublic:
    """The rule set in force (the highest version) with its document."""
    return await service_rules.latest_rule_set(session=session)


@router.put("", response_model=RuleSetPublic)
async def publish(body: RuleSetPublish, principal: AdminOnly, session: SessionDep) -> RuleSetPublic:
    """Validate a rule document and publish it as the next version, in force at once.
    422 ``invalid_rule_set`` names the path of the first problem; nothing is stored."""
    version = await service_rules.publish_rule_set(
        session=session,
        document=body.document,
        comment=body.comment,
        actor=principal.name,
        now=datetime.now(UTC),
        base_version=body.base_version,
    )
    return await service_rules.rule_set_version(session=session, version=version)


@router.get("/versions", response_model=list[RuleSetVersionPublic])
async def list_versions(_: AdminOrOperator, session: SessionDep) -> list[RuleSetVersionPublic]:
    """Every published version, newest first (comment, author, time; no documents)."""
    return await service_rules.rule_set_versions(session=session)


@router.get("/{version}", response_model=RuleSetPublic)
async def get_version(version: int, _: AdminOrOperator, session: SessionDep) -> RuleSetPublic:
    """One published version with its document."""
    return await service_rules.rule_set_version(session=session, version=version)


@router.post("/evaluate", response_model=EvaluatePublic)
async def evaluate(
    body: EvaluateRequest, _: AdminOrOperator, session: SessionDep
) -> EvaluatePublic:
    """The service an order with this context gets, which rules matched, why the others did
    not, and which rule decided each field. Uses the set in force, a published ``version``,
    or a draft ``document`` (nothing is published)."""
    version, explanation = await service_rules.evaluate(
        session=session,
        context=body.context.to_context(),
        document=body.document,
        version=body.version,
    )
    return EvaluatePublic.of(version, explanation)
