from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud.api_error import ApiError
from cloud.deps import DatabaseDep, RoleDocumentedRoute
from cloud.schemas import HealthPublic

router = APIRouter(route_class=RoleDocumentedRoute, tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
async def healthz(database: DatabaseDep) -> HealthPublic:
    """Liveness and database reachability; needs no token."""
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise ApiError(
            503, "database_unavailable", f"database check failed ({type(exc).__name__}); see logs"
        ) from None
    return HealthPublic(status="ok", database="ok")
