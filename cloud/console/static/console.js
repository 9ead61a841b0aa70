// The operator console: tabs, one Server-Sent-Events stream (snapshot, then 1 Hz deltas),
// the live map, a vehicle panel with compartment temperature charts, alarms with
// acknowledge/resolve, gateways, orders and stock.
"use strict";

(function () {
  const started = performance.now();
  const body = document.body;
  const csrf = body.dataset.csrf;
  const state = { vehicles: {}, alarms: [], gateways: [], orders: {}, deltas: 0, firstRenderMs: null };
  window.RetailEdgeConsole = state;

  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const time = (iso) => (iso ? new Date(iso).toISOString().slice(11, 19) : "");
  const ago = (iso) => (iso ? `${Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000))} s ago` : "never");

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

  // ---- tabs ----
  const tabs = [...document.querySelectorAll("#tabs a")].map((a) => a.dataset.tab);
  function show(tab) {
    if (!tabs.includes(tab)) tab = tabs[0];
    for (const name of ["map", "alarms", "gateways", "orders", "stock"]) {
      $(`#${name}-tab`).hidden = name !== tab;
      const link = $(`#tab-${name}`);
      if (link) link.classList.toggle("active", name === tab);
    }
    if (tab === "map" && map) {
      map._resize();
      if (state.fitPoints && !state.fittedVisible) { map.fit(state.fitPoints); state.fittedVisible = true; }
      map.request();
    }
    if (tab === "orders") loadOrders();
    if (tab === "stock") loadStock();
  }
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));

  // ---- map ----
  const fleet = tabs.includes("map");
  const map = fleet ? new window.RetailEdgeMap($("#map"), {}) : null;
  if (map) {
    map.onDraw = () => {
      $("#map-count").textContent = `${map.vehicles.size} vehicles`;
      if (state.firstRenderMs === null && map.vehicles.size >= 0 && state.fleetLoaded) {
        // From navigation start: the page, its scripts, the fleet and base map, the first draw.
        state.firstRenderMs = performance.now();
        state.scriptToRenderMs = performance.now() - started;
        body.dataset.firstRenderMs = state.firstRenderMs.toFixed(1);
      }
    };
    $("#map").addEventListener("click", (e) => {
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

  // ---- vehicle panel and temperature charts ----
  async function selectVehicle(id) {
    state.selected = id;
    if (map) { map.selected = id; map.request(); }
    const detail = await api(`/console/api/vehicles/${encodeURIComponent(id)}`);
    const panel = $("#vehicle");
    const speed = detail.speed_mps == null ? "–" : `${(detail.speed_mps * 3.6).toFixed(1)} km/h`;
    const tasks = detail.tasks.map((t) =>
      `<li>${esc(t.id)} · ${esc(t.status)} · ${esc(t.temperature_class)} · due ${time(t.window_end)}</li>`).join("");
    panel.innerHTML = `<h2 id="vehicle-id">${esc(detail.id)}</h2>
      <p>${esc(detail.kind)}${detail.courier_id ? " · courier " + esc(detail.courier_id) : ""}</p>
      <p>Speed <strong id="vehicle-speed">${speed}</strong> · last seen <span>${ago(detail.last_seen)}</span></p>
      <h3>Current tasks</h3><ul id="vehicle-tasks">${tasks || "<li>none</li>"}</ul>
      <div id="charts"></div>`;
    const charts = $("#charts");
    for (const comp of detail.compartments) {
      const box = document.createElement("div");
      box.className = "chart";
      const out = comp.points.filter((p) => p.out).length;
      box.innerHTML = `<h3>${esc(comp.name)} (${esc(comp.temperature_class)},
        ${comp.min_c}…${comp.max_c} °C)</h3>
        <canvas width="360" height="150" data-sensor="${esc(comp.sensor_device_id)}"
        data-points="${comp.points.length}" data-out="${out}"></canvas>
        <ul class="excursions">${comp.excursions.map((a) =>
          `<li class="excursion" data-key="${esc(a.key)}">${esc(a.kind)} ${time(a.started_at)}–${time(a.ended_at) || "now"} · ${esc(a.state)}</li>`).join("")}</ul>`;
      charts.appendChild(box);
      drawChart(box.querySelector("canvas"), comp);
    }
  }
  state.selectVehicle = selectVehicle;

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

  // ---- alarms ----
  function renderAlarms() {
    const rows = state.alarms.map((a) => `<tr class="sev-${esc(a.severity)} state-${esc(a.state)}"
      data-key="${esc(a.key)}"><td>${esc(a.severity)}</td><td>${esc(a.kind)}</td>
      <td>${esc(a.subject)}</td><td>${esc(a.message)}</td><td>${time(a.started_at)}</td>
      <td class="state">${esc(a.state)}${a.comment ? ": " + esc(a.comment) + " (" + esc(a.by) + ")" : ""}</td>
      <td><input class="comment" placeholder="comment">
      <button class="ack" data-action="acknowledge">Acknowledge</button>
      <button class="resolve" data-action="resolve">Resolve</button></td></tr>`);
    $("#alarms tbody").innerHTML = rows.join("") || `<tr><td colspan="7">No alarms.</td></tr>`;
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
      const comment = row.querySelector(".comment").value.trim();
      if (!comment) { row.querySelector(".comment").focus(); row.querySelector(".comment").placeholder = "a comment is required"; return; }
      await api(`/console/api/alarms/${encodeURIComponent(row.dataset.key)}/ack`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ action: button.dataset.action, comment }),
      });
      await loadAlarms();
      if (state.selected) selectVehicle(state.selected);
    });
  }

  // ---- gateways ----
  function renderGateways() {
    $("#gateways tbody").innerHTML = state.gateways.map((g) => `<tr data-id="${esc(g.id)}"
      class="${g.online ? "" : "offline"}"><td>${esc(g.id)}</td><td>${g.online ? "yes" : "no"}</td>
      <td>${ago(g.last_seen)}</td><td>${g.buffer_records ?? "–"}</td>
      <td>${g.oldest_unsent_s == null ? "–" : g.oldest_unsent_s.toFixed(0) + " s"}</td>
      <td>${g.evicted}</td><td>${g.quarantined ?? "–"}</td>
      <td>${g.clock_skew_s == null ? "–" : g.clock_skew_s.toFixed(2) + " s"}</td>
      <td>${esc(g.uplink_state ?? "–")}</td>
      <td>${Object.entries(g.connectors).map(([n, s]) => esc(n) + ": " + esc(s)).join(", ")}</td>
      <td>${esc(g.config_version ?? "–")}</td></tr>`).join("");
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
  function applySnapshot(data, whole) {
    if (data.vehicles && map) {
      if (whole) {
        for (const id of Object.keys(state.vehicles)) if (!(id in data.vehicles)) applyVehicle(id, null);
        for (const [id, v] of Object.entries(data.vehicles)) applyVehicle(id, v);
      } else {
        for (const [id, v] of Object.entries(data.vehicles.set)) applyVehicle(id, v);
        for (const id of data.vehicles.del) applyVehicle(id, null);
      }
    }
    if (data.alarms && !$("#show-resolved").checked) { state.alarms = data.alarms; renderAlarms(); }
    if (data.gateways) { state.gateways = data.gateways; renderGateways(); }
    if (data.orders) { state.orders = data.orders; renderCounts(); }
  }

  function connect() {
    const source = new EventSource("/console/api/stream");
    source.addEventListener("snapshot", (e) => {
      applySnapshot(JSON.parse(e.data), true);
      $("#live").textContent = "live"; $("#live").className = "live on";
    });
    source.addEventListener("delta", (e) => { state.deltas += 1; applySnapshot(JSON.parse(e.data), false); });
    source.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "live off"; };
    state.source = source;
  }

  (async () => {
    if (fleet) { await loadFleet(); await loadAlarms(); }
    show(location.hash.slice(1));
    connect();
  })();
})();
