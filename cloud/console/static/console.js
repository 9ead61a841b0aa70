// The operator console: tabs, one Server-Sent-Events stream (snapshot, then 1 Hz deltas, resumed
// after each scheduled reconnect), the live map, a live vehicle panel with compartment temperature
// charts, the dispatch plan per courier, alarms with acknowledge/resolve, gateways, orders, stock.
"use strict";

(function () {
  const started = performance.now();
  const body = document.body;
  const csrf = body.dataset.csrf;
  const state = {
    vehicles: {}, alarms: [], gateways: [], orders: {}, plan: null, dispatch: null,
    deltas: 0, snapshots: 0, resumes: 0, reconnectGaps: [], panelLoads: 0, dispatchLoads: 0,
    firstRenderMs: null,
  };
  window.RetailEdgeConsole = state;

  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const time = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : "");
  const hhmm = (iso) => (iso ? new Date(iso).toISOString().slice(11, 16) : "–");
  const agoS = (seconds) => `${Math.max(0, Math.round(Date.now() / 1000 - seconds))} s ago`;
  const ago = (iso) => (iso ? agoS(new Date(iso).getTime() / 1000) : "never");

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    if (response.status === 401) { window.location = "/console/login"; throw new Error("logged out"); }
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response.status === 204 ? null : response.json();
  }

  // Runs `load` now, or once more after the run in flight: a burst of changes costs two fetches.
  function coalesced(load) {
    let busy = false, again = false;
    const run = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try { await load(); } catch (e) { console.error(e); } finally {
        busy = false;
        if (again) { again = false; run(); }
      }
    };
    return run;
  }

  // ---- tabs ----
  const tabs = [...document.querySelectorAll("#tabs a")].map((a) => a.dataset.tab);
  const sections = [...document.querySelectorAll("main > section.tab")].map((s) => s.id.replace(/-tab$/, ""));
  function show(tab) {
    if (!tabs.includes(tab)) tab = tabs[0];
    state.tab = tab;
    for (const name of sections) {
      $(`#${name}-tab`).hidden = name !== tab;
      const link = $(`#tab-${name}`);
      if (link) link.classList.toggle("active", name === tab);
    }
    if (tab === "map" && map) {
      map._resize();
      if (state.fitPoints && !state.fittedVisible) { map.fit(state.fitPoints); state.fittedVisible = true; }
      map.request();
    }
    if (tab === "dispatch") renderDispatch();
    if (tab === "orders") loadOrders();
    if (tab === "stock") loadStock();
  }
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));

  // ---- map ----
  const fleet = tabs.includes("map");
  const map = fleet ? new window.RetailEdgeMap($("#map"), {}) : null;
  state.map = map;
  if (map) {
    map.onDraw = () => {
      $("#map-count").textContent = `${map.vehicles.size} vehicles`;
      if (state.firstRenderMs === null && state.fleetLoaded) {
        // From navigation start: the page, its scripts, the fleet and base map, the first draw.
        state.firstRenderMs = performance.now();
        state.scriptToRenderMs = performance.now() - started;
        body.dataset.firstRenderMs = state.firstRenderMs.toFixed(1);
      }
    };
    $("#map").addEventListener("click", (e) => {
      if (map.dragged) return;
      const rect = e.target.getBoundingClientRect();
      const id = map.pick(e.clientX - rect.left, e.clientY - rect.top);
      if (id) selectVehicle(id);
    });
  }

  async function loadFleet() {
    const [fleetData, base] = await Promise.all([
      api("/console/api/fleet"),
      fetch("/console/static/basemap.geojson").then((r) => r.json()),
    ]);
    map.tileUrl = fleetData.tile_url;
    map.setBase(base);
    map.setNodes(fleetData.nodes);
    map.setRoutes(fleetData.routes);
    for (const v of fleetData.vehicles) {
      applyVehicle(v.id, {
        k: v.kind, lat: v.lat, lon: v.lon, v: v.speed_mps, c: v.course_deg,
        t: new Date(v.last_seen).getTime() / 1000, r: v.courier_id,
      });
    }
    const points = fleetData.vehicles.map((v) => [v.lat, v.lon])
      .concat(fleetData.nodes.map((n) => [n.lat, n.lon]));
    if (!points.length) {
      for (const f of base.features) if (f.geometry.type === "LineString") {
        for (const [lon, lat] of f.geometry.coordinates) points.push([lat, lon]);
      }
    }
    state.fleetLoaded = true;
    state.fitPoints = points;
    state.fittedVisible = !$("#map-tab").hidden;
    map.fit(points);
  }

  function applyVehicle(id, v) {
    if (v) state.vehicles[id] = v; else delete state.vehicles[id];
    if (map) map.setVehicle(id, v);
  }

  // ---- vehicle panel and temperature charts (kept live while open) ----
  function selectVehicle(id) {
    state.selected = id;
    if (map) { map.selected = id; map.request(); }
    $("#vehicle").innerHTML = `<h2 id="vehicle-id">${esc(id)}</h2><p class="hint">Loading…</p>`;
    return loadPanel();
  }
  state.selectVehicle = selectVehicle;

  const speedText = (mps) => (mps == null ? "–" : `${(mps * 3.6).toFixed(1)} km/h`);

  const loadPanel = coalesced(async () => {
    const id = state.selected;
    if (!id) return;
    let detail;
    try {
      detail = await api(`/console/api/vehicles/${encodeURIComponent(id)}`);
    } catch (e) {
      if (state.selected === id) $("#vehicle").innerHTML = `<h2 id="vehicle-id">${esc(id)}</h2><p class="error">${esc(e.message)}</p>`;
      return;
    }
    if (state.selected !== id) return;
    state.panelLoads += 1;
    state.panel = detail;
    const tasks = detail.tasks.map((t) =>
      `<li>${esc(t.id)} · ${esc(t.status)} · ${esc(t.temperature_class)} · due ${time(t.window_end)}</li>`).join("");
    const panel = $("#vehicle");
    panel.innerHTML = `<h2 id="vehicle-id">${esc(detail.id)}</h2>
      <p>${esc(detail.kind)}${detail.courier_id ? " · courier " + esc(detail.courier_id) : ""}</p>
      <p>Speed <strong id="vehicle-speed">${speedText(detail.speed_mps)}</strong> · last seen
      <span id="vehicle-seen">${ago(detail.last_seen)}</span></p>
      <h3>Current tasks</h3><ul id="vehicle-tasks">${tasks || "<li>none</li>"}</ul>
      <div id="charts"></div>`;
    panel.dataset.loads = String(state.panelLoads);
    const charts = $("#charts");
    for (const comp of detail.compartments) {
      const box = document.createElement("div");
      box.className = "chart";
      const out = comp.points.filter((p) => p.out).length;
      const last = comp.points.length ? comp.points[comp.points.length - 1].t : "";
      box.innerHTML = `<h3>${esc(comp.name)} (${esc(comp.temperature_class)},
        ${comp.min_c}…${comp.max_c} °C)</h3>
        <canvas width="360" height="150" data-sensor="${esc(comp.sensor_device_id)}"
        data-points="${comp.points.length}" data-out="${out}" data-last="${esc(last)}"></canvas>
        <ul class="excursions">${comp.excursions.map((a) =>
          `<li class="excursion" data-key="${esc(a.key)}">${esc(a.kind)} ${time(a.started_at)}–${time(a.ended_at) || "now"} · ${esc(a.state)}</li>`).join("")}</ul>`;
      charts.appendChild(box);
      drawChart(box.querySelector("canvas"), comp);
    }
  });

  // The stream moved the open vehicle: speed and last seen at once, tasks and charts refetched.
  function vehicleMoved(id, v) {
    if (id !== state.selected || !v) return;
    const speed = $("#vehicle-speed");
    if (speed) speed.textContent = speedText(v.v);
    const seen = $("#vehicle-seen");
    if (seen) seen.textContent = agoS(v.t);
    loadPanel();
  }

  function drawChart(canvas, comp) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, pad = 28;
    ctx.clearRect(0, 0, w, h);
    const pts = comp.points.map((p) => [new Date(p.t).getTime(), p.c, p.out]);
    const values = pts.map((p) => p[1]).concat([comp.min_c, comp.max_c]);
    const lo = Math.min(...values) - 1, hi = Math.max(...values) + 1;
    const t0 = pts.length ? pts[0][0] : 0, t1 = pts.length ? pts[pts.length - 1][0] : 1;
    const X = (t) => pad + ((t - t0) / Math.max(t1 - t0, 1)) * (w - pad - 6);
    const Y = (c) => h - pad + 8 - ((c - lo) / (hi - lo)) * (h - pad);
    ctx.fillStyle = "rgba(46, 125, 50, 0.15)"; // the band
    ctx.fillRect(pad, Y(comp.max_c), w - pad - 6, Y(comp.min_c) - Y(comp.max_c));
    ctx.fillStyle = "rgba(211, 47, 47, 0.15)"; // excursions reported by the gateway
    for (const a of comp.excursions) {
      const a0 = Math.max(new Date(a.started_at).getTime(), t0);
      const a1 = a.ended_at ? new Date(a.ended_at).getTime() : t1;
      if (a1 >= t0) ctx.fillRect(X(a0), 4, Math.max(X(a1) - X(a0), 2), h - pad);
    }
    ctx.strokeStyle = "#37474f"; ctx.lineWidth = 1.5; ctx.beginPath();
    pts.forEach(([t, c], i) => (i ? ctx.lineTo(X(t), Y(c)) : ctx.moveTo(X(t), Y(c))));
    ctx.stroke();
    ctx.fillStyle = "#d32f2f";
    for (const [t, c, out] of pts) if (out) { ctx.beginPath(); ctx.arc(X(t), Y(c), 2.5, 0, 7); ctx.fill(); }
    ctx.fillStyle = "#546e7a"; ctx.font = "10px sans-serif";
    ctx.fillText(`${comp.max_c} °C`, 2, Y(comp.max_c) + 3);
    ctx.fillText(`${comp.min_c} °C`, 2, Y(comp.min_c) + 3);
    if (pts.length) { ctx.fillText(time(new Date(t0).toISOString()), pad, h - 4);
      ctx.fillText(time(new Date(t1).toISOString()), w - 60, h - 4); }
  }

  // ---- dispatch plan per courier (and the map's routes) ----
  const STATE_WORDS = {
    inactive: "inactive", off_shift: "off shift", idle: "idle", to_pickup: "to pickup",
    delivering: "delivering",
  };

  const loadDispatch = coalesced(async () => {
    const data = await api("/console/api/dispatch");
    state.dispatch = data;
    state.dispatchLoads += 1;
    if (map) {
      const routes = {};
      for (const c of data.couriers) {
        if (c.stops.length) routes[c.id] = c.stops.map((s) => ({
          task_id: s.task_id, kind: s.kind, lat: s.lat, lon: s.lon, arrival: s.arrival,
        }));
      }
      map.setRoutes(routes);
    }
    if (state.tab === "dispatch") renderDispatch();
  });
  state.loadDispatch = loadDispatch;

  function stopRow(s, i) {
    const what = s.kind === "pickup" ? "pickup" : "drop";
    return `<tr class="${s.late ? "late" : ""}" data-task="${esc(s.task_id)}" data-kind="${esc(s.kind)}">
      <td>${i}</td><td>${what}</td><td>${esc(s.order_id)}</td>
      <td title="${esc(s.place)}">${esc(s.node_id || s.place)}</td>
      <td>${s.arrival ? hhmm(s.arrival) : "not planned"}</td><td>${hhmm(s.promise_by)}</td>
      <td>${hhmm(s.deadline)}</td><td>${esc(s.task_status)}</td>
      <td class="flag">${s.late ? "late" : ""}</td></tr>`;
  }

  function renderDispatch() {
    const data = state.dispatch;
    if (!data) return;
    const planned = data.plan_id == null ? "No dispatch plan yet."
      : `Plan #${data.plan_id} at ${time(data.planned_at)} (solved in ${data.solve_ms.toFixed(0)} ms).`;
    $("#plan-summary").innerHTML = esc(planned) +
      (data.error ? ` <span class="error">${esc(data.error)}</span>` : "");
    $("#plan-summary").dataset.version = data.version;
    $("#couriers").innerHTML = data.couriers.map((c) => {
      const rows = c.stops.map((s, i) => stopRow(s, i + 1))
        .concat(c.unplanned.map((s) => stopRow(s, "–"))).join("");
      return `<div class="courier state-${esc(c.state)}" data-id="${esc(c.id)}">
        <h3><a href="#map" class="locate" data-vehicle="${esc(c.vehicle_id || c.id)}">${esc(c.id)}</a>
        <span class="state">${esc(STATE_WORDS[c.state] || c.state)}</span></h3>
        <p class="facts">${esc(c.kind)}${c.vehicle_id ? " · vehicle " + esc(c.vehicle_id) : ""}
        · skills ${esc(c.skills.join(", ") || "none")}${c.lost_skills.length ? ` <span class="lost">(lost: ${esc(c.lost_skills.join(", "))})</span>` : ""}
        · load <strong class="load">${c.load}/${c.capacity}</strong> (on board ${c.on_board})
        ${c.shift_end ? "· shift ends " + hhmm(c.shift_end) : ""}</p>
        ${rows ? `<table class="stops"><thead><tr><th>#</th><th>stop</th><th>order</th><th>where</th>
        <th>planned</th><th>promise</th><th>due</th><th>task</th><th></th></tr></thead>
        <tbody>${rows}</tbody></table>` : `<p class="hint">No stops.</p>`}</div>`;
    }).join("") || `<p class="hint">No couriers.</p>`;
    $("#carrier tbody").innerHTML = data.carrier.map((t) => `<tr class="${t.late ? "late" : ""}"
      data-task="${esc(t.task_id)}"><td>${esc(t.task_id)}</td><td>${esc(t.order_id)}</td>
      <td>${esc(t.carrier)} ${esc(t.external_id)}</td><td>${esc(t.status)}</td>
      <td>${esc(t.pickup_node_id)}</td><td>${hhmm(t.pickup_eta)}</td><td>${hhmm(t.drop_eta)}</td>
      <td>${hhmm(t.promise_by)}${t.late ? " ⚠ late" : ""}</td></tr>`).join("")
      || `<tr><td colspan="8" class="hint">None.</td></tr>`;
    $("#waiting tbody").innerHTML = data.waiting.map((t) => `<tr data-task="${esc(t.task_id)}">
      <td>${esc(t.task_id)}</td><td>${esc(t.order_id)}</td><td>${esc(t.pickup_node_id)}</td>
      <td>${hhmm(t.promise_by)}</td><td>${esc(t.why)}</td></tr>`).join("")
      || `<tr><td colspan="5" class="hint">None.</td></tr>`;
  }

  if (fleet) {
    $("#couriers").addEventListener("click", (e) => {
      const link = e.target.closest("a.locate");
      if (!link) return;
      const id = link.dataset.vehicle;
      if (state.vehicles[id]) selectVehicle(id);
    });
  }

  // ---- alarms ----
  function renderAlarms() {
    const rows = state.alarms.map((a) => `<tr class="sev-${esc(a.severity)} state-${esc(a.state)}"
      data-key="${esc(a.key)}"><td>${esc(a.severity)}</td><td>${esc(a.kind)}</td>
      <td>${esc(a.subject)}</td><td>${esc(a.message)}</td><td>${time(a.started_at)}</td>
      <td class="state">${esc(a.state)}${a.comment ? ": " + esc(a.comment) + " (" + esc(a.by) + ")" : ""}</td>
      <td><input class="comment" placeholder="comment">
      <button class="ack" data-action="acknowledge">Acknowledge</button>
      <button class="resolve" data-action="resolve">Resolve</button></td></tr>`);
    // Keep what an operator is typing: the stream re-renders the table every time alarms change.
    const typed = {};
    for (const input of document.querySelectorAll("#alarms input.comment")) {
      if (input.value) typed[input.closest("tr").dataset.key] = input.value;
    }
    const focused = document.activeElement && document.activeElement.classList.contains("comment")
      ? document.activeElement.closest("tr").dataset.key : null;
    $("#alarms tbody").innerHTML = rows.join("") || `<tr><td colspan="7">No alarms.</td></tr>`;
    for (const row of document.querySelectorAll("#alarms tbody tr[data-key]")) {
      const input = row.querySelector("input.comment");
      if (typed[row.dataset.key]) input.value = typed[row.dataset.key];
      if (focused === row.dataset.key) input.focus();
    }
    const open = state.alarms.filter((a) => a.state === "open").length;
    const link = $("#tab-alarms");
    if (link) link.textContent = open ? `Alarms (${open})` : "Alarms";
  }

  async function loadAlarms() {
    const resolved = $("#show-resolved").checked;
    state.alarms = await api(`/console/api/alarms?include_resolved=${resolved}`);
    renderAlarms();
  }

  if (fleet) {
    $("#show-resolved").addEventListener("change", loadAlarms);
    $("#alarms").addEventListener("click", async (e) => {
      const button = e.target.closest("button");
      if (!button) return;
      const row = button.closest("tr");
      const input = row.querySelector(".comment");
      const comment = input.value.trim();
      if (!comment) { input.focus(); input.placeholder = "a comment is required"; return; }
      try {
        await api(`/console/api/alarms/${encodeURIComponent(row.dataset.key)}/ack`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ action: button.dataset.action, comment }),
        });
      } catch (err) { input.value = ""; input.placeholder = err.message; return; }
      input.value = "";
      await loadAlarms();
      if (state.selected) loadPanel();
    });
  }

  // ---- gateways ----
  // The cloud's config version, and what the gateway says it runs when it reports that.
  function configText(g) {
    const parts = [g.config_version == null ? "–" : `cloud v${esc(g.config_version)}`];
    if (g.reported_config_version != null) parts.push(`runs v${esc(g.reported_config_version)}`);
    if (g.config_source) parts.push(esc(g.config_source));
    if (g.config_status) parts.push(esc(g.config_status));
    return parts.join(" · ");
  }

  function renderGateways() {
    $("#gateways tbody").innerHTML = state.gateways.map((g) => `<tr data-id="${esc(g.id)}"
      class="${g.online ? "" : "offline"}"><td>${esc(g.id)}</td><td>${g.online ? "yes" : "no"}</td>
      <td>${ago(g.last_seen)}</td><td>${g.buffer_records ?? "–"}</td>
      <td>${g.oldest_unsent_s == null ? "–" : g.oldest_unsent_s.toFixed(0) + " s"}</td>
      <td>${g.evicted}</td><td>${g.quarantined ?? "–"}</td>
      <td>${g.clock_skew_s == null ? "–" : g.clock_skew_s.toFixed(2) + " s"}</td>
      <td>${esc(g.uplink_state ?? "–")}</td>
      <td>${Object.entries(g.connectors).map(([n, s]) => esc(n) + ": " + esc(s)).join(", ")}</td>
      <td class="config">${configText(g)}</td></tr>`).join("");
  }

  // ---- orders and stock ----
  function renderCounts() {
    $("#order-counts").innerHTML = Object.entries(state.orders)
      .map(([s, n]) => `<span class="count">${esc(s)} <strong>${n}</strong></span>`).join("");
  }

  async function loadOrders() {
    const board = await api("/console/api/orders");
    state.orders = board.counts; renderCounts();
    $("#orders tbody").innerHTML = board.orders.map((o) => `<tr class="${o.late_risk ? "late" : ""}"
      data-id="${esc(o.id)}"><td>${esc(o.id)}</td><td>${esc(o.channel)}</td><td>${esc(o.status)}</td>
      <td>${esc(o.promise_class)} ${time(o.promise_by)}</td>
      <td>${o.minutes_left == null ? "–" : o.minutes_left.toFixed(0) + " min"}${o.late_risk ? " ⚠" : ""}</td>
      <td>${esc(o.nodes.join(", "))}</td><td>${esc(o.courier_id ?? "")}</td>
      <td class="why">${o.why ? esc(o.why.outcome + ": " + o.why.summary) : ""}</td></tr>`).join("");
  }

  async function loadStock(form) {
    const params = new URLSearchParams(form ? new FormData(form) : undefined);
    const data = await api(`/console/api/stock?${params}`);
    $("#stock tbody").innerHTML = data.levels.map((l) => `<tr><td>${esc(l.node_id)}</td>
      <td>${esc(l.sku_id)}</td><td>${l.on_hand}</td><td>${l.reserved}</td><td>${l.on_hold}</td>
      <td><strong>${l.available}</strong></td></tr>`).join("");
    $("#movements tbody").innerHTML = data.movements.map((m) => `<tr><td>${time(m.created_at)}</td>
      <td>${esc(m.node_id)}</td><td>${esc(m.sku_id)}</td><td>${esc(m.kind)}</td>
      <td>${m.delta_on_hand}</td><td>${m.delta_reserved}</td><td>${esc(m.source)}</td>
      <td>${esc(m.source_ref)}</td></tr>`).join("");
  }
  $("#stock-filter").addEventListener("submit", (e) => { e.preventDefault(); loadStock(e.target); });

  // ---- the live stream ----
  function apply(data, whole) {
    if (data.vehicles && map) {
      if (whole) {
        for (const id of Object.keys(state.vehicles)) if (!(id in data.vehicles)) applyVehicle(id, null);
        for (const [id, v] of Object.entries(data.vehicles)) applyVehicle(id, v);
        if (state.selected) vehicleMoved(state.selected, data.vehicles[state.selected]);
      } else {
        for (const [id, v] of Object.entries(data.vehicles.set)) applyVehicle(id, v);
        for (const id of data.vehicles.del) applyVehicle(id, null);
        if (state.selected in data.vehicles.set) vehicleMoved(state.selected, data.vehicles.set[state.selected]);
      }
    }
    if (data.alarms) {
      if (!$("#show-resolved").checked) { state.alarms = data.alarms; renderAlarms(); }
      if (state.selected) loadPanel();  // the chart marks excursions
    }
    if (data.gateways) { state.gateways = data.gateways; renderGateways(); }
    if (data.orders) { state.orders = data.orders; renderCounts(); }
    if ("plan" in data && data.plan !== state.plan) {
      state.plan = data.plan;
      loadDispatch();
      if (state.selected) loadPanel();  // its tasks
    }
  }

  // A stream ends on schedule every few dozen seconds ("bye"); the browser reconnects within
  // the server's retry time and the new stream resumes from the last event id. "reconnecting…"
  // shows only when no stream has been live for 3 s; failing reconnects back off up to 15 s.
  let source = null, lastEventId = null, failures = 0, gapTimer = null, byeAt = null;
  let scheduled = false;

  function live(e) {
    if (e.lastEventId) lastEventId = e.lastEventId;
    failures = 0;
    clearTimeout(gapTimer); gapTimer = null;
    if (byeAt !== null) { state.reconnectGaps.push(performance.now() - byeAt); byeAt = null; }
    $("#live").textContent = "live"; $("#live").className = "live on";
  }

  function connect() {
    const query = lastEventId ? `?last_event_id=${encodeURIComponent(lastEventId)}` : "";
    source = new EventSource(`/console/api/stream${query}`);
    source.addEventListener("snapshot", (e) => { state.snapshots += 1; live(e); apply(JSON.parse(e.data), true); });
    source.addEventListener("resume", (e) => { state.resumes += 1; live(e); apply(JSON.parse(e.data), false); });
    source.addEventListener("delta", (e) => { state.deltas += 1; live(e); apply(JSON.parse(e.data), false); });
    source.addEventListener("bye", () => { byeAt = performance.now(); scheduled = true; });
    source.onerror = async () => {
      if (!gapTimer) gapTimer = setTimeout(() => {
        $("#live").textContent = "reconnecting…"; $("#live").className = "live off";
      }, 3000);
      if (scheduled && source.readyState === EventSource.CONNECTING) { scheduled = false; return; }
      failures += 1;
      const refused = source.readyState === EventSource.CLOSED;
      if (refused || failures >= 3) {
        source.close();
        if (refused) {  // the server answered with an error: logged out?
          const page = await fetch("/console", { redirect: "manual" }).catch(() => null);
          if (page && page.type === "opaqueredirect") { window.location = "/console/login"; return; }
        }
        setTimeout(connect, Math.min(15000, 500 * 2 ** Math.min(failures, 5)));
      }
    };
    state.source = source;
  }

  setInterval(() => {  // "N s ago" keeps counting between updates
    const v = state.selected && state.vehicles[state.selected];
    const seen = $("#vehicle-seen");
    if (v && seen) seen.textContent = agoS(v.t);
  }, 1000);

  (async () => {
    if (fleet) { await loadFleet(); await loadAlarms(); }
    show(location.hash.slice(1));
    connect();
  })();
})();
