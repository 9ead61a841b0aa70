// The customer's tracking page: refreshes status, ETA and the courier's rounded position.
"use strict";

(function () {
  const token = document.body.dataset.token;
  const canvas = document.getElementById("track-map");
  let map = null;
  let base = null;
  const words = {
    received: "Order received", allocated: "Being prepared", picking: "Being picked",
    packed: "Packed, waiting for the courier", dispatched: "On its way",
  };

  async function refresh() {
    const response = await fetch(`/api/v1/track/${encodeURIComponent(token)}`);
    if (response.status === 404) {
      document.getElementById("status").textContent = "This delivery has ended.";
      canvas.hidden = true;
      return false;
    }
    if (!response.ok) return true;
    const track = await response.json();
    document.getElementById("status").textContent = words[track.status] || track.status;
    document.getElementById("eta").textContent = track.eta
      ? new Date(track.eta).toISOString().slice(11, 16) + " UTC" : "being planned";
    document.getElementById("updated").textContent = new Date(track.updated_at).toISOString().slice(11, 19) + " UTC";
    const where = track.courier_position;
    canvas.hidden = !where;
    document.body.dataset.courier = where ? `${where.lat},${where.lon}` : "";
    if (where) {
      if (!map) {
        map = new window.RetailEdgeMap(canvas, {});
        base = base || await fetch("/console/static/basemap.geojson").then((r) => r.json());
        map.setBase(base);
      }
      map.setVehicle("courier", { k: "rider", lat: where.lat, lon: where.lon, t: Date.now() / 1000 });
      map.fit([[where.lat - 0.004, where.lon - 0.004], [where.lat + 0.004, where.lon + 0.004]]);
    }
    return true;
  }

  async function loop() {
    if (await refresh()) setTimeout(loop, 10000);
  }
  loop();
})();
