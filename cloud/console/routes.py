"""Console routes: login/logout, the pages, their JSON and SSE endpoints, the tracking page.

Not part of the public API schema (``/api/v1`` is); the same roles apply: admin and operator see
everything, warehouse users see the orders and stock of their nodes."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from cloud.api_error import ApiError
from cloud.console import alarms, boards, fleet_view, pages, plan_view
from cloud.console.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    CommittedSession,
    ConsoleFleet,
    ConsoleUser,
    check_csrf,
    current_user,
    is_https,
)
from cloud.console.csp import content_security_policy
from cloud.console.schemas import (
    AckIn,
    AlarmOut,
    DispatchOut,
    FleetOut,
    GatewayOut,
    OrdersBoard,
    StatusOut,
    StockOut,
    VehicleDetail,
)
from cloud.console.sessions import SESSION_LIFETIME, csrf_token, log_in, log_out
from cloud.console.settings import ConsoleSettings
from cloud.console.stream import Cadence, ResumeCache, events
from cloud.deps import get_database
from cloud.routes.orders import request_time
from cloud.security import Role
from cloud.services import tracking

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".geojson": "application/geo+json",
}
# The browser reconnects this soon after a stream ends on schedule (and resumes it).
STREAM_RETRY_MS = 250
router = APIRouter(include_in_schema=False)
_settings = ConsoleSettings()
_csp = content_security_policy(_settings.tile_url)
_resumable = ResumeCache()


def _now(request: Request) -> datetime:
    return request_time(request)


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={
            "Content-Security-Policy": _csp,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.get("/console/login")
async def login_form(request: Request) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _html(pages.login_page(csrf=token))
    _set_csrf_cookie(response, request, token, max_age=3600)
    return response


@router.post("/console/login")
async def login(request: Request, session: CommittedSession) -> Response:
    form = await request.form()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    submitted, cookie = str(form.get(CSRF_FIELD, "")), request.cookies.get(CSRF_COOKIE, "")
    if not submitted or not secrets.compare_digest(submitted, cookie):
        fresh = secrets.token_urlsafe(24)
        page = pages.login_page(csrf=fresh, name=name, error="The form expired; try again.")
        response: Response = _html(page, 403)
        _set_csrf_cookie(response, request, fresh, max_age=3600)
        return response
    try:
        # Sessions live on the wall clock, never on a test or replay clock.
        found = await log_in(
            session=session, user_name=name, password=password, now=datetime.now(UTC)
        )
    except ApiError as exc:
        found, error = None, exc.message
    else:
        error = "Wrong user name or password."
    if found is None:
        fresh = secrets.token_urlsafe(24)
        response = _html(pages.login_page(csrf=fresh, name=name, error=error), 401)
        _set_csrf_cookie(response, request, fresh, max_age=3600)
        return response
    token, _ = found
    response = RedirectResponse("/console", status_code=303)
    seconds = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    _set_csrf_cookie(response, request, csrf_token(token), max_age=seconds)
    return response


def _set_csrf_cookie(response: Response, request: Request, value: str, *, max_age: int) -> None:
    # Readable by the page's script (double submit); SameSite keeps other sites from sending it.
    response.set_cookie(
        CSRF_COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=False,
        samesite="strict",
        secure=is_https(request),
    )


@router.post("/console/logout")
async def logout(request: Request, session: CommittedSession) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get(CSRF_FIELD, "")))
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await log_out(session=session, token=token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/console")
async def console(request: Request) -> Response:
    principal = await current_user(request)
    token = request.cookies.get(SESSION_COOKIE)
    if principal is None or token is None:
        return RedirectResponse("/console/login", status_code=303)
    if principal.role not in (Role.ADMIN, Role.OPERATOR, Role.WAREHOUSE):
        return _html(f"role {principal.role.value} has no console", 403)
    return _html(pages.console_page(principal=principal, csrf=csrf_token(token)))


@router.get("/console/static/{name}")
async def static_file(name: str) -> Response:
    path = STATIC_DIR / name
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        raise ApiError(404, "not_found", f"no console file {name!r}")
    return Response(path.read_bytes(), media_type=kind, headers={"Cache-Control": "max-age=300"})


@router.get("/console/api/fleet", response_model=FleetOut)
async def fleet(_: ConsoleFleet, session: CommittedSession) -> FleetOut:
    return FleetOut(
        vehicles=await fleet_view.vehicle_dots(session=session),
        routes=await fleet_view.planned_routes(session=session),
        nodes=await fleet_view.nodes_out(session=session),
        tile_url=_settings.tile_url,
    )


@router.get("/console/api/vehicles/{vehicle_id}", response_model=VehicleDetail)
async def vehicle(vehicle_id: str, _: ConsoleFleet, session: CommittedSession) -> VehicleDetail:
    return await fleet_view.vehicle_detail(session=session, vehicle_id=vehicle_id)


@router.get("/console/api/alarms", response_model=list[AlarmOut])
async def list_alarms(
    request: Request,
    _: ConsoleFleet,
    session: CommittedSession,
    include_resolved: Annotated[bool, Query()] = False,
) -> list[AlarmOut]:
    return await alarms.list_alarms(
        session=session, now=_now(request), include_resolved=include_resolved
    )


@router.post("/console/api/alarms/{alarm_key}/ack", status_code=204)
async def ack_alarm(
    alarm_key: str,
    body: AckIn,
    request: Request,
    principal: ConsoleFleet,
    session: CommittedSession,
) -> Response:
    check_csrf(request, request.headers.get(CSRF_HEADER))
    await alarms.record_ack(
        session=session,
        alarm_key=alarm_key,
        action=body.action,
        comment=body.comment.strip(),
        user_name=principal.name,
        now=_now(request),
    )
    return Response(status_code=204)


@router.get("/console/api/gateways", response_model=list[GatewayOut])
async def gateways(
    request: Request, _: ConsoleFleet, session: CommittedSession
) -> list[GatewayOut]:
    return await boards.list_gateways(session=session, now=_now(request))


@router.get("/console/api/orders", response_model=OrdersBoard)
async def orders(
    request: Request, principal: ConsoleUser, session: CommittedSession
) -> OrdersBoard:
    return await boards.orders_board(session=session, principal=principal, now=_now(request))


@router.get("/console/api/stock", response_model=StockOut)
async def stock(
    principal: ConsoleUser,
    session: CommittedSession,
    node_id: Annotated[str | None, Query(max_length=64)] = None,
    sku_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StockOut:
    return await boards.stock_view(
        session=session, principal=principal, node_id=node_id or None, sku_id=sku_id or None
    )


@router.get("/console/api/status", response_model=StatusOut)
async def status(request: Request, principal: ConsoleFleet, session: CommittedSession) -> StatusOut:
    now = _now(request)
    return StatusOut(
        generated_at=now,
        gateways=await boards.list_gateways(session=session, now=now),
        vehicles=await fleet_view.vehicle_dots(session=session),
        alarms=await alarms.list_alarms(session=session, now=now, include_resolved=False),
        orders_by_status=await boards.order_status_counts(session=session, principal=principal),
    )


@router.get("/console/api/dispatch", response_model=DispatchOut)
async def dispatch(request: Request, _: ConsoleFleet, session: CommittedSession) -> DispatchOut:
    return await plan_view.dispatch_view(session=session, now=_now(request))


@router.get("/console/api/stream")
async def stream(
    request: Request,
    principal: ConsoleUser,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """One SSE stream: a snapshot, then deltas at 1 Hz (vehicles keyed by id; alarms,
    gateways, order counts and the dispatch plan's version whole when they change). A stream
    ends on schedule and the browser's reconnect resumes it (``Last-Event-ID``, or
    ``last_event_id`` from a page that reconnects by itself) with a delta from what it had."""
    database = get_database(request)
    fleet_roles = principal.role in (Role.ADMIN, Role.OPERATOR)
    owner = f"{principal.role.value}:{principal.name}"

    async def read() -> dict[str, Any]:
        now = datetime.now(UTC)
        # Committed: listing alarms records where derived conditions begin and end.
        async with database.sessions.begin() as session:
            state: dict[str, Any] = {
                "orders": await boards.order_status_counts(session=session, principal=principal)
            }
            if fleet_roles:
                state["vehicles"] = await fleet_view.vehicles_wire(session=session)
                found = await alarms.list_alarms(session=session, now=now, include_resolved=False)
                state["alarms"] = [a.model_dump(mode="json") for a in found]
                gws = await boards.list_gateways(session=session, now=now)
                state["gateways"] = [g.model_dump(mode="json") for g in gws]
                state["plan"] = await plan_view.plan_version(session=session, now=now)
        return state

    async def stopped() -> bool:
        return await request.is_disconnected()

    def keep(event_id: str, state: dict[str, Any]) -> None:
        _resumable.put(event_id, owner, state)

    resume_id = request.headers.get("last-event-id") or last_event_id
    body = events(
        read,
        keyed=frozenset({"vehicles"}),
        interval_s=_settings.stream_interval_s,
        stopped=stopped,
        sleep=Cadence(),
        max_ticks=max(1, round(_settings.stream_lifetime_s / _settings.stream_interval_s)),
        retry_ms=STREAM_RETRY_MS,
        stream_id=secrets.token_urlsafe(12),
        resume_from=_resumable.take(resume_id[:64], owner) if resume_id else None,
        keep=keep,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/t/{token}")
async def track_page(token: str, request: Request, session: CommittedSession) -> HTMLResponse:
    """The customer's tracking page: no login, no personal data (the token is the key)."""
    if not 20 <= len(token) <= 128:
        return _html(pages.track_gone_page(), 404)
    try:
        found = await tracking.track(session=session, token=token, now=_now(request))
    except ApiError as exc:
        if exc.status != 404:
            raise
        return _html(pages.track_gone_page(), 404)
    return _html(pages.track_page(token=token, track=found))
