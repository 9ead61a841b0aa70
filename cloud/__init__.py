"""RetailEdge cloud service: ingest, inventory and orders, dispatch, console.

``create_app`` and ``Settings`` load on first use, so a CLI command that only needs the
database (``retailedge cloud create-gateway``) does not import the whole web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloud.app import create_app
    from cloud.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from cloud.app import create_app

        return create_app
    if name == "Settings":
        from cloud.settings import Settings

        return Settings
    raise AttributeError(f"module 'cloud' has no attribute {name!r}")
