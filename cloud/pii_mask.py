"""Masked forms of personal data for roles that do not need it in clear (pure)."""

from __future__ import annotations

import re

MASK = "***"
# Up to and including the district/county level of a Chinese address (上海市浦东新区...).
_CN_DISTRICT = re.compile(r"^(.{1,20}?(?:市|省|自治区))?(.{1,12}?(?:区|县|旗))")
_EN_DISTRICT = re.compile(r"\b(?:district|county)\b", re.IGNORECASE)


def mask_name(name: str) -> str:
    """First character and one star: 王小明 -> 王*."""
    name = name.strip()
    return f"{name[0]}*" if name else MASK


def mask_phone(phone: str) -> str:
    """Stars for every digit but the last four: 13800138001 -> *******8001."""
    digits = [char for char in phone if char.isdigit()]
    if len(digits) <= 4:
        return "*" * max(len(digits), 4)
    return "*" * (len(digits) - 4) + "".join(digits[-4:])


def mask_address(address: str) -> str:
    """The district-level prefix followed by ``***``, or just ``***`` when there is none.

    ``上海市浦东新区张江路500弄3号`` -> ``上海市浦东新区***``;
    ``58 Century Ave, Pudong New District, Shanghai`` -> ``***, Pudong New District, Shanghai``.
    """
    text = address.strip()
    match = _CN_DISTRICT.match(text)
    if match is not None and match.end() < len(text):
        return text[: match.end()] + MASK
    parts = [part.strip() for part in text.split(",")]
    for index, part in enumerate(parts):
        if index > 0 and _EN_DISTRICT.search(part):
            return ", ".join([MASK, *parts[index:]])
    return MASK


def may_reveal(role: str) -> bool:
    """Only admins and operators may ask for personal data in clear (with a reason)."""
    return role in ("admin", "operator")
