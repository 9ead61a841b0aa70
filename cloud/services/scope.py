"""Which nodes a principal may see and move stock at; warehouse users' node assignments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Node, UserNode
from cloud.models import ApiKey
from cloud.security import Principal, Role


async def visible_node_ids(*, session: AsyncSession, principal: Principal) -> frozenset[str] | None:
    """None = every node (admin, operator); a warehouse user's nodes; nothing for the rest."""
    if principal.role in (Role.ADMIN, Role.OPERATOR):
        return None
    if principal.role == Role.WAREHOUSE:
        rows = await session.scalars(
            select(UserNode.node_id).where(UserNode.user_name == principal.name)
        )
        return frozenset(rows)
    return frozenset()


async def user_node_ids(*, session: AsyncSession, user_name: str) -> list[str]:
    await _warehouse_user(session, user_name)
    rows = await session.scalars(
        select(UserNode.node_id).where(UserNode.user_name == user_name).order_by(UserNode.node_id)
    )
    return list(rows)


async def set_user_nodes(
    *, session: AsyncSession, user_name: str, node_ids: Sequence[str]
) -> list[str]:
    """Replace the nodes a warehouse user works at; ApiError naming the bad field."""
    await _warehouse_user(session, user_name)
    wanted = sorted(set(node_ids))
    known = set(await session.scalars(select(Node.id).where(Node.id.in_(wanted))))
    unknown = [node_id for node_id in wanted if node_id not in known]
    if unknown:
        raise ApiError(
            422,
            "validation_failed",
            f"node_ids: no node {unknown[0]!r}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
        )
    await session.execute(delete(UserNode).where(UserNode.user_name == user_name))
    if wanted:
        await session.execute(
            insert(UserNode), [{"user_name": user_name, "node_id": node} for node in wanted]
        )
    await session.flush()
    return wanted


async def _warehouse_user(session: AsyncSession, user_name: str) -> None:
    role = await session.scalar(select(ApiKey.role).where(ApiKey.name == user_name))
    if role is None:
        raise ApiError(404, "user_not_found", f"name: no user {user_name!r}")
    if role != Role.WAREHOUSE.value:
        raise ApiError(
            422,
            "validation_failed",
            f"name: user {user_name!r} has role {role!r}; only warehouse users work at nodes",
        )
