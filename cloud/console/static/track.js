// The customer's tracking page: refreshes status, ETA and the courier's rounded position.
// Times show on the shipping node's clock (data-timezone), else on the reader's own.
"use strict";

(function () {
  const token = document.body.dataset.token;
  const zone = document.body.dataset.timezone || undefined;
  const canvas = document.getElementById("track-map");
  let map = null;
  let base = null;
  const words = {
    received: "Order received", allocated: "Being prepared", picking: "Being picked",
    packed: "Packed, waiting for the courier", dispatched: "On its way",
    delivered: "Delivered", cancelled: "Cancelled", failed: "Not delivered",
  };
  const ended = { delivered: "Delivered at", cancelled: "Cancelled at", failed: "Ended at" };

  function format(date, options) {
    try {
      return new Intl.DateTimeFormat("en-GB", { ...options, timeZone: zone }).format(date);
    } catch (error) {  // a zone this browser does not know: its own clock
      return new Intl.DateTimeFormat("en-GB", options).format(date);
    }
  }

  function clock(iso) {
    const date = new Date(iso);
    const time = format(date, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const day = { weekday: "short", day: "2-digit", month: "short" };
    return format(date, day) === format(new Date(), day) ? time : `${format(date, day)} ${time}`;
  }

  function show(element, iso, fallback) {
    element.dateTime = iso || "";
    element.textContent = iso ? clock(iso) : fallback;
  }

  function render(track) {
    const status = document.getElementById("status");
    status.textContent = words[track.status] || track.status;
    status.dataset.status = track.status;
    const label = ended[track.status];
    document.getElementById("when-label").textContent = label || "Expected:";
    show(document.getElementById("eta"), label ? track.ended_at : track.eta, "being planned");
    show(document.getElementById("updated"), track.updated_at, "");
    const where = label ? null : track.courier_position;
    if (label) document.getElementById("where").textContent = "";
    canvas.hidden = !where;
    document.body.dataset.courier = where ? `${where.lat},${where.lon}` : "";
    return where;
  }

  async function place(where) {
    if (!map) {
      map = new window.RetailEdgeMap(canvas, {});
      base = base || await fetch("/console/static/basemap.geojson").then((r) => r.json());
      map.setBase(base);
    }
    map.setVehicle("courier", { k: "rider", lat: where.lat, lon: where.lon, t: Date.now() / 1000 });
    map.fit([[where.lat - 0.004, where.lon - 0.004], [where.lat + 0.004, where.lon + 0.004]]);
  }

  async function refresh() {
    const response = await fetch(`/api/v1/track/${encodeURIComponent(token)}`);
    if (response.status === 404) {
      document.getElementById("status").textContent = "This delivery has ended.";
      document.getElementById("when").hidden = true;
      canvas.hidden = true;
      return false;
    }
    if (!response.ok) return true;
    const track = await response.json();
    const where = render(track);
    if (where) await place(where);
    return !(track.status in ended);  // nothing changes after the end
  }

  // The server wrote times on the node's clock, or in UTC when it knows none: redo them here.
  for (const id of ["eta", "updated"]) {
    const element = document.getElementById(id);
    if (element.dateTime) element.textContent = clock(element.dateTime);
  }

  async function loop() {
    if (await refresh()) setTimeout(loop, 10000);
  }
  loop();
})();
