"""Members: personal data masked by default; in clear only for admins and operators who
give a reason (``?reveal=true&reason=...``), every clear read written to the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud.catalog_models import Member
from cloud.catalog_schemas import MemberIn, MemberPublic, Page
from cloud.deps import AdminOnly, AnyUser, PiiDep, RoleDocumentedRoute, SessionDep
from cloud.services import catalog
from cloud.services.catalog_base import Listing
from cloud.services.catalog_members import member_public, member_views
from cloud.services.catalog_parties import MemberKind

router = APIRouter(prefix="/api/v1/members", route_class=RoleDocumentedRoute, tags=["members"])

Reveal = Annotated[
    bool, Query(description="Clear personal data (admin, operator); needs a reason; audited.")
]
Reason = Annotated[str | None, Query(max_length=500, description="Why the clear data is needed.")]


@router.get("", response_model=Page[MemberPublic])
async def list_members(
    principal: AnyUser,
    session: SessionDep,
    pii: PiiDep,
    tier: Annotated[str | None, Query()] = None,
    reveal: Reveal = False,
    reason: Reason = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[MemberPublic]:
    """Members by id with tier and tags; name, phone and addresses masked unless revealed."""
    filters = () if tier is None else (Member.tier == tier,)
    items, total = await MemberKind(pii).list(session, Listing(filters, limit, offset))
    views = await member_views(
        session=session,
        principal=principal,
        members=items,
        reveal=reveal,
        reason=reason,
        now=datetime.now(UTC),
    )
    end = offset + len(items)
    return Page[MemberPublic](items=views, total=total, next_offset=end if end < total else None)


@router.get("/{member_id}", response_model=MemberPublic)
async def get_member(
    member_id: str,
    principal: AnyUser,
    session: SessionDep,
    pii: PiiDep,
    reveal: Reveal = False,
    reason: Reason = None,
) -> MemberPublic:
    member = await catalog.get_one(session=session, kind=MemberKind(pii), key=member_id)
    views = await member_views(
        session=session,
        principal=principal,
        members=[member],
        reveal=reveal,
        reason=reason,
        now=datetime.now(UTC),
    )
    return views[0]


@router.post("", response_model=MemberPublic, status_code=status.HTTP_201_CREATED)
async def create_member(
    body: MemberIn, response: Response, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> MemberPublic:
    """Create a member (personal data encrypted at rest); the answer is masked."""
    item, created = await catalog.save_one(
        session=session, kind=MemberKind(pii), item=body, now=datetime.now(UTC), mode="create"
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return member_public(item, masked=True)


@router.put("/{member_id}", response_model=MemberPublic)
async def put_member(
    member_id: str,
    body: MemberIn,
    response: Response,
    _: AdminOnly,
    session: SessionDep,
    pii: PiiDep,
) -> MemberPublic:
    """Create or replace a member with all of its addresses; the answer is masked."""
    kind = MemberKind(pii)
    catalog.check_path_key(kind, body, member_id)
    item, created = await catalog.save_one(
        session=session, kind=kind, item=body, now=datetime.now(UTC), mode="upsert"
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return member_public(item, masked=True)


@router.delete("/{member_id}", response_model=MemberPublic)
async def deactivate_member(
    member_id: str, _: AdminOnly, session: SessionDep, pii: PiiDep
) -> MemberPublic:
    item = await MemberKind(pii).deactivate(session, member_id, datetime.now(UTC))
    return member_public(item, masked=True)
