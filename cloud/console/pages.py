"""Server-rendered HTML of the console's pages (escaped string templates, no template engine)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from html import escape
from string import Template
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.fleet_schemas import TrackOut
from cloud.security import Principal, Role

_HEAD = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<link rel="stylesheet" href="/console/static/console.css">
</head>"""
)

_LOGIN = Template(
    """$head
<body class="login"><main class="card">
<h1>RetailEdge console</h1>
$error
<form method="post" action="/console/login" id="login-form">
<input type="hidden" name="csrf_token" value="$csrf">
<label>User <input name="name" id="name" autocomplete="username" required value="$name"></label>
<label>Password <input type="password" name="password" id="password"
 autocomplete="current-password" required></label>
<button type="submit" id="login">Log in</button>
</form>
<p class="hint">No password yet? An admin runs
 <code>retailedge cloud set-password --name NAME</code>.</p>
</main></body></html>"""
)

_CONSOLE = Template(
    """$head
<body data-role="$role" data-csrf="$csrf">
<header>
<strong>RetailEdge</strong>
<nav id="tabs">$tabs</nav>
<span id="live" class="live">connecting…</span>
<span class="who">$name ($role)</span>
<form method="post" action="/console/logout"><input type="hidden" name="csrf_token"
 value="$csrf"><button id="logout">Log out</button></form>
</header>
<main>
<section id="map-tab" class="tab">
 <div class="map-wrap"><canvas id="map"></canvas>
 <div id="map-count" class="overlay"></div></div>
 <aside id="vehicle" class="panel"><p class="hint">Click a vehicle on the map.</p></aside>
</section>
<section id="dispatch-tab" class="tab" hidden>
 <p id="plan-summary" class="hint">Loading the dispatch plan…</p>
 <div id="couriers" class="couriers"></div>
 <h3>With a carrier</h3>
 <table id="carrier"><thead><tr><th>task</th><th>order</th><th>carrier</th><th>status</th>
 <th>pickup at</th><th>pickup ETA</th><th>drop ETA</th><th>promise</th></tr></thead><tbody></tbody>
 </table>
 <h3>Not assigned</h3>
 <table id="waiting"><thead><tr><th>task</th><th>order</th><th>pickup at</th><th>promise</th>
 <th>why</th></tr></thead><tbody></tbody></table>
</section>
<section id="alarms-tab" class="tab" hidden>
 <label><input type="checkbox" id="show-resolved"> show resolved</label>
 <table id="alarms"><thead><tr><th>severity</th><th>kind</th><th>subject</th><th>message</th>
 <th>since</th><th>state</th><th></th></tr></thead><tbody></tbody></table>
</section>
<section id="gateways-tab" class="tab" hidden>
 <table id="gateways"><thead><tr><th>gateway</th><th>online</th><th>last seen</th>
 <th>buffer</th><th>oldest unsent</th><th>evicted</th><th>quarantined</th><th>skew</th>
 <th>uplink</th><th>connectors</th><th>config</th></tr></thead><tbody></tbody></table>
</section>
<section id="orders-tab" class="tab" hidden>
 <div id="order-counts" class="counts"></div>
 <table id="orders"><thead><tr><th>order</th><th>channel</th><th>status</th><th>promise</th>
 <th>left</th><th>nodes</th><th>courier</th><th>why</th></tr></thead><tbody></tbody></table>
</section>
<section id="stock-tab" class="tab" hidden>
 <form id="stock-filter"><input name="node_id" placeholder="node"><input name="sku_id"
 placeholder="SKU"><button>Filter</button></form>
 <table id="stock"><thead><tr><th>node</th><th>SKU</th><th>on hand</th><th>reserved</th>
 <th>on hold</th><th>available</th></tr></thead><tbody></tbody></table>
 <h3>Movements</h3>
 <table id="movements"><thead><tr><th>time</th><th>node</th><th>SKU</th><th>kind</th>
 <th>Δ on hand</th><th>Δ reserved</th><th>source</th><th>ref</th></tr></thead><tbody></tbody>
 </table>
</section>
</main>
<script src="/console/static/map.js"></script>
<script src="/console/static/console.js"></script>
</body></html>"""
)

_TRACK = Template(
    """$head
<body class="track" data-token="$token" data-timezone="$timezone">
<main class="card">
<h1>Your delivery</h1>
<p class="status" id="status" data-status="$status_code">$status</p>
<p id="when"><span id="when-label">$when_label</span>
 <strong><time id="eta" datetime="$when_iso">$when</time></strong></p>
<canvas id="track-map" width="320" height="220" $map_hidden></canvas>
<p class="hint" id="where">$where</p>
<p class="hint">Updated <time id="updated" datetime="$updated_iso">$updated</time></p>
</main>
<script src="/console/static/map.js"></script>
<script src="/console/static/track.js"></script>
</body></html>"""
)

_TRACK_GONE = Template(
    """$head
<body class="track"><main class="card"><h1>Tracking link</h1>
<p>This tracking link is unknown or the delivery has ended.</p></main></body></html>"""
)

FLEET_TABS = ("map", "dispatch", "alarms", "gateways", "orders", "stock")
WAREHOUSE_TABS = ("orders", "stock")
STATUS_WORDS = {
    "received": "Order received",
    "allocated": "Being prepared",
    "picking": "Being picked",
    "packed": "Packed, waiting for the courier",
    "dispatched": "On its way",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "failed": "Not delivered",
}


def login_page(*, csrf: str, name: str = "", error: str | None = None) -> str:
    return _LOGIN.substitute(
        head=_HEAD.substitute(title="Log in · RetailEdge"),
        csrf=escape(csrf),
        name=escape(name),
        error=f'<p class="error" id="login-error">{escape(error)}</p>' if error else "",
    )


def tabs_for(role: Role) -> tuple[str, ...]:
    return FLEET_TABS if role in (Role.ADMIN, Role.OPERATOR) else WAREHOUSE_TABS


def console_page(*, principal: Principal, csrf: str) -> str:
    tabs = "".join(
        f'<a href="#{tab}" data-tab="{tab}" id="tab-{tab}">{tab.capitalize()}</a>'
        for tab in tabs_for(principal.role)
    )
    return _CONSOLE.substitute(
        head=_HEAD.substitute(title="RetailEdge console"),
        role=escape(principal.role.value),
        name=escape(principal.name),
        csrf=escape(csrf),
        tabs=tabs,
    )


ENDED_LABELS = {"delivered": "Delivered at", "cancelled": "Cancelled at", "failed": "Ended at"}


def local_time(moment: datetime, timezone: str | None, *, today: datetime) -> str:
    """``moment`` on the clock of ``timezone`` (the shipping node's), with the date when it is
    not ``today`` there; in UTC, marked so, when the zone is unknown (the page's script then
    shows the reader's own local time)."""
    try:
        zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    text = local.strftime("%H:%M")
    if local.date() != today.astimezone(zone).date():
        text = local.strftime("%a %d %b ") + text
    return text if zone is not UTC else text + " UTC"


def track_page(*, token: str, track: TrackOut) -> str:
    """Open orders: status, expected time, the courier while on the way; delivered, cancelled or
    failed ones: that, and when. Times on the shipping node's clock."""
    ended = ENDED_LABELS.get(track.status)
    when = track.ended_at if ended else track.eta
    if ended:
        where = ""
    elif track.courier_position:
        where = "The courier is on the way (position shown to about 100 m)."
    else:
        where = "We will show the courier here once your goods are on their way."
    now = track.updated_at
    return _TRACK.substitute(
        head=_HEAD.substitute(title="Your delivery"),
        token=escape(token),
        timezone=escape(track.timezone or ""),
        status_code=escape(track.status),
        status=escape(STATUS_WORDS.get(track.status, track.status)),
        when_label=escape(ended or "Expected:"),
        when_iso=escape(when.isoformat() if when else ""),
        when=escape(local_time(when, track.timezone, today=now) if when else "being planned"),
        where=escape(where),
        map_hidden="" if track.courier_position and not ended else "hidden",
        updated_iso=escape(now.isoformat()),
        updated=escape(local_time(now, track.timezone, today=now)),
    )


def track_gone_page() -> str:
    return _TRACK_GONE.substitute(head=_HEAD.substitute(title="Tracking link"))
