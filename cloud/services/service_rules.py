"""Versioned member-tier service rules: the set in force (cached per process), history, publishing.

The highest version is in force. An empty table means the shipped defaults
(:data:`cloud.member_rules.DEFAULT_RULES`), stored as version 1 the first time anyone asks.

Caching: :func:`active_rule_set` keeps the parsed set in force per database engine and re-checks
``SELECT max(version)`` at most every :data:`CACHE_TTL_S` seconds, so order intake usually costs no
query at all. Publishing through this process drops the cache at once; a version published
through another process (another API replica) is in force here within :data:`CACHE_TTL_S`.
Orders record the version they were decided under, so either way the decision is traceable.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.member_rules import (
    DEFAULT_RULES,
    RuleSet,
    RuleSetError,
    ServiceContext,
    ServiceExplanation,
    explain_service,
    parse_rule_set,
)
from cloud.order_models import ServiceRuleSet
from cloud.service_rules_schemas import RuleSetPublic, RuleSetVersionPublic
from cloud.services.sql import upsert_insert
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

CACHE_TTL_S: Final = 2.0
DEFAULTS_COMMENT: Final = "shipped defaults"
DEFAULTS_ACTOR: Final = "system"


@dataclass(frozen=True, slots=True)
class _Cached:
    version: int
    rules: RuleSet
    checked_at: float  # time.monotonic()


_cache: weakref.WeakKeyDictionary[Engine, _Cached] = weakref.WeakKeyDictionary()
_clock = time.monotonic  # replaced by tests that step through the TTL


def _engine(session: AsyncSession) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


async def active_rule_set(*, session: AsyncSession) -> tuple[int, RuleSet]:
    """The version in force and its parsed rules (see the module docstring for the caching)."""
    engine = _engine(session)
    cached = _cache.get(engine)
    checked_at = _clock()
    if cached is not None and checked_at - cached.checked_at < CACHE_TTL_S:
        return cached.version, cached.rules
    version = await _latest_version(session)
    if cached is not None and cached.version == version:
        rules = cached.rules
    else:
        rules = _parse_stored(await _row(session, version))
    _cache[engine] = _Cached(version, rules, checked_at)
    return version, rules


async def publish_rule_set(
    *,
    session: AsyncSession,
    document: Mapping[str, object],
    comment: str,
    actor: str,
    now: datetime,
    base_version: int | None = None,
) -> int:
    """Validate ``document`` and store it as the next version, in force from commit on.

    ApiError 422 ``invalid_rule_set`` naming the path (``document.rules[2].when.tier: ...``);
    409 ``version_conflict`` when ``base_version`` is no longer in force or another version
    was published concurrently. Flushes, no commit.
    """
    stored = _plain_json(document)
    try:
        parse_rule_set(stored)
    except RuleSetError as error:
        raise ApiError(422, "invalid_rule_set", f"document.{error}") from None
    current = await _latest_version(session)
    if base_version is not None and base_version != current:
        raise _conflict(f"version {current} is in force, not base_version {base_version}")
    version = current + 1
    inserted = await session.scalar(
        upsert_insert(session, ServiceRuleSet.__table__)  # type: ignore[arg-type]
        .values(version=version, rules=stored, comment=comment, created_by=actor, created_at=now)
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(ServiceRuleSet.version)
    )
    if inserted is None:
        raise _conflict(f"version {version} was published concurrently")
    _cache.pop(_engine(session), None)
    log.info("service rules version %d published by %s: %s", version, actor, comment)
    return version


async def latest_rule_set(*, session: AsyncSession) -> RuleSetPublic:
    """The version in force with its document, read from the database (no cache)."""
    return _public(await _row(session, await _latest_version(session)))


async def rule_set_versions(*, session: AsyncSession) -> list[RuleSetVersionPublic]:
    """Every version, newest first, without documents."""
    await _latest_version(session)
    rows = await session.execute(
        select(
            ServiceRuleSet.version,
            ServiceRuleSet.comment,
            ServiceRuleSet.created_by,
            ServiceRuleSet.created_at,
        ).order_by(ServiceRuleSet.version.desc())
    )
    return [
        RuleSetVersionPublic(
            version=version, comment=comment, created_by=by, created_at=format_time(at)
        )
        for version, comment, by, at in rows
    ]


async def rule_set_version(*, session: AsyncSession, version: int) -> RuleSetPublic:
    """One published version with its document; ApiError 404 if there is none."""
    latest = await _latest_version(session)
    if not 1 <= version <= latest:
        raise _not_found(version, latest)
    return _public(await _row(session, version))


async def evaluate(
    *,
    session: AsyncSession,
    context: ServiceContext,
    document: Mapping[str, object] | None = None,
    version: int | None = None,
) -> tuple[int | None, ServiceExplanation]:
    """The decision for ``context`` with its reasons, under a draft ``document`` (version None),
    a published ``version``, or else the version in force."""
    if document is not None:
        try:
            rules = parse_rule_set(_plain_json(document))
        except RuleSetError as error:
            raise ApiError(422, "invalid_rule_set", f"document.{error}") from None
        return None, explain_service(rules, context)
    if version is None:
        version, rules = await active_rule_set(session=session)
        return version, explain_service(rules, context)
    latest = await _latest_version(session)
    if not 1 <= version <= latest:
        raise _not_found(version, latest)
    return version, explain_service(_parse_stored(await _row(session, version)), context)


async def _latest_version(session: AsyncSession) -> int:
    """The highest version, storing the shipped defaults as version 1 if there is none."""
    latest = await session.scalar(select(func.max(ServiceRuleSet.version)))
    if latest is not None:
        return int(latest)
    # Concurrent first callers all try; exactly one row results.
    await session.execute(
        upsert_insert(session, ServiceRuleSet.__table__)  # type: ignore[arg-type]
        .values(
            version=1,
            rules=copy.deepcopy(DEFAULT_RULES),
            comment=DEFAULTS_COMMENT,
            created_by=DEFAULTS_ACTOR,
            created_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )
    return int(await session.scalar(select(func.max(ServiceRuleSet.version))) or 1)


async def _row(session: AsyncSession, version: int) -> ServiceRuleSet:
    row = await session.scalar(select(ServiceRuleSet).where(ServiceRuleSet.version == version))
    if row is None:
        raise _not_found(version, None)
    return row


def _parse_stored(row: ServiceRuleSet) -> RuleSet:
    try:
        return parse_rule_set(row.rules)
    except RuleSetError as error:
        # Stored documents were valid when published; this means a manual edit or a stricter
        # parser. Refuse loudly rather than decide service from a half-understood document.
        log.error("stored service rules version %d are invalid: %s", row.version, error)
        raise ApiError(
            500,
            "stored_rule_set_invalid",
            f"stored rule set version {row.version} is invalid ({error}); "
            "publish a corrected version",
        ) from None


def _plain_json(document: Mapping[str, object]) -> dict[str, Any]:
    """A deep, JSON-only copy: what is validated is exactly what is stored."""
    if not isinstance(document, Mapping):
        raise ApiError(422, "invalid_rule_set", "document: expected a JSON object")
    try:
        plain: dict[str, Any] = json.loads(json.dumps(document, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ApiError(422, "invalid_rule_set", f"document: not plain JSON ({error})") from None
    return plain


def _public(row: ServiceRuleSet) -> RuleSetPublic:
    return RuleSetPublic(
        version=row.version,
        comment=row.comment,
        created_by=row.created_by,
        created_at=format_time(row.created_at),
        document=row.rules,
    )


def _conflict(detail: str) -> ApiError:
    return ApiError(
        409,
        "version_conflict",
        f"{detail}; fetch /api/v1/service-rules, re-apply your change and publish again",
    )


def _not_found(version: int, latest: int | None) -> ApiError:
    known = (
        f"versions are 1..{latest}" if latest is not None else "see /api/v1/service-rules/versions"
    )
    return ApiError(404, "rule_set_not_found", f"no service rule set version {version}; {known}")
