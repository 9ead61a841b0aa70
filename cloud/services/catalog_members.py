"""Members as each role may see them: masked, or in clear with an audited reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_schemas import AddressPublic, MemberIn, MemberPublic
from cloud.pii_mask import mask_address, mask_name, mask_phone, may_reveal
from cloud.security import Principal
from cloud.services.pii_audit import checked_reason, record_pii_read

MEMBER_PII_FIELDS: tuple[str, ...] = ("name", "phone", "addresses")


def member_public(member: MemberIn, *, masked: bool) -> MemberPublic:
    return MemberPublic(
        id=member.id,
        tier=member.tier,
        tags=member.tags,
        name=mask_name(member.name) if masked else member.name,
        phone=mask_phone(member.phone) if masked else member.phone,
        addresses=[
            AddressPublic(
                label=a.label,
                address=mask_address(a.address) if masked else a.address,
                # Masked coordinates keep ~1 km: enough for regional views, not a doorstep.
                lat=round(a.lat, 2) if masked else a.lat,
                lon=round(a.lon, 2) if masked else a.lon,
            )
            for a in member.addresses
        ],
        active=member.active,
        masked=masked,
    )


async def member_views(
    *,
    session: AsyncSession,
    principal: Principal,
    members: list[MemberIn],
    reveal: bool,
    reason: str | None,
    now: datetime,
) -> list[MemberPublic]:
    """Masked views, or clear ones after recording each read in the audit trail."""
    if not reveal:
        return [member_public(member, masked=True) for member in members]
    if not may_reveal(principal.role.value):
        raise ApiError(
            403,
            "reveal_forbidden",
            f"reveal: role {principal.role.value!r} sees personal data masked only",
        )
    text = checked_reason(reason)
    for member in members:
        await record_pii_read(
            session=session,
            principal=principal,
            record_type="member",
            record_id=member.id,
            fields=MEMBER_PII_FIELDS,
            reason=text,
            now=now,
        )
    return [member_public(member, masked=False) for member in members]
