// A small offline map on a canvas: Web Mercator, pan and zoom, a vector base from GeoJSON,
// nodes with delivery radii, planned routes and up to thousands of vehicle dots.
"use strict";

(function () {
  const TILE = 256;

  function project(lat, lon) {
    const s = Math.sin((lat * Math.PI) / 180);
    return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
  }

  function metresPerWorld(lat) {
    return 40075016.686 * Math.cos((lat * Math.PI) / 180);
  }

  class RetailEdgeMap {
    constructor(canvas, options) {
      this.canvas = canvas;
      this.ctx = canvas.getContext("2d");
      this.tileUrl = (options && options.tileUrl) || null;
      this.tiles = new Map();
      this.base = [];
      this.nodes = [];
      this.routes = {};
      this.vehicles = new Map();
      this.selected = null;
      this.center = [0.5, 0.5];
      this.scale = 1 << 16; // world size in pixels
      this.pending = false;
      this.onDraw = null;
      this._resize();
      this._controls();
    }

    _resize() {
      const ratio = window.devicePixelRatio || 1;
      const rect = this.canvas.getBoundingClientRect();
      this.width = Math.max(rect.width, 50);
      this.height = Math.max(rect.height, 50);
      this.canvas.width = Math.round(this.width * ratio);
      this.canvas.height = Math.round(this.height * ratio);
      this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    }

    _controls() {
      let drag = null;
      this.dragged = false; // the click that ends a drag picks no vehicle
      this.canvas.addEventListener("mousedown", (e) => {
        drag = [e.clientX, e.clientY, false];
        this.dragged = false;
      });
      window.addEventListener("mouseup", () => { drag = null; });
      window.addEventListener("mousemove", (e) => {
        if (!drag) return;
        const dx = e.clientX - drag[0];
        const dy = e.clientY - drag[1];
        if (Math.abs(dx) + Math.abs(dy) > 2) { drag[2] = true; this.dragged = true; }
        if (!drag[2]) return;
        this.center = [this.center[0] - dx / this.scale, this.center[1] - dy / this.scale];
        drag[0] = e.clientX;
        drag[1] = e.clientY;
        this.request();
      });
      this.canvas.addEventListener("wheel", (e) => {
        e.preventDefault();
        const factor = e.deltaY < 0 ? 1.25 : 0.8;
        this.scale = Math.min(Math.max(this.scale * factor, 1 << 8), 1 << 24);
        this.request();
      }, { passive: false });
      window.addEventListener("resize", () => { this._resize(); this.request(); });
    }

    toScreen(lat, lon) {
      const p = project(lat, lon);
      return [
        (p[0] - this.center[0]) * this.scale + this.width / 2,
        (p[1] - this.center[1]) * this.scale + this.height / 2,
      ];
    }

    fit(points) {
      if (!points.length) return;
      let minX = 1, minY = 1, maxX = 0, maxY = 0;
      for (const [lat, lon] of points) {
        const p = project(lat, lon);
        minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]);
        minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]);
      }
      this.center = [(minX + maxX) / 2, (minY + maxY) / 2];
      const span = Math.max(maxX - minX, maxY - minY, 1e-5);
      this.scale = Math.min((Math.min(this.width, this.height) * 0.85) / span, 1 << 22);
      this.request();
    }

    setBase(geojson) { this.base = (geojson && geojson.features) || []; this.request(); }
    setNodes(nodes) { this.nodes = nodes || []; this.request(); }
    setRoutes(routes) { this.routes = routes || {}; this.request(); }
    setVehicle(id, v) { if (v) this.vehicles.set(id, v); else this.vehicles.delete(id); this.request(); }

    pick(x, y) {
      let best = null, bestD = 100;
      for (const [id, v] of this.vehicles) {
        const [sx, sy] = this.toScreen(v.lat, v.lon);
        const d = (sx - x) ** 2 + (sy - y) ** 2;
        if (d < bestD) { best = id; bestD = d; }
      }
      return best;
    }

    request() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }

    _tiles() {
      const z = Math.max(0, Math.min(19, Math.round(Math.log2(this.scale / TILE))));
      const n = 1 << z, size = (this.scale / n);
      const x0 = Math.floor((this.center[0] - this.width / 2 / this.scale) * n);
      const y0 = Math.floor((this.center[1] - this.height / 2 / this.scale) * n);
      const x1 = Math.floor((this.center[0] + this.width / 2 / this.scale) * n);
      const y1 = Math.floor((this.center[1] + this.height / 2 / this.scale) * n);
      for (let x = x0; x <= x1; x++) {
        for (let y = Math.max(0, y0); y <= Math.min(n - 1, y1); y++) {
          const url = this.tileUrl.replace("{z}", z).replace("{x}", ((x % n) + n) % n).replace("{y}", y);
          let img = this.tiles.get(url);
          if (!img) {
            img = new Image();
            img.onload = () => this.request();
            img.src = url;
            this.tiles.set(url, img);
          }
          if (img.complete && img.naturalWidth) {
            const sx = (x / n - this.center[0]) * this.scale + this.width / 2;
            const sy = (y / n - this.center[1]) * this.scale + this.height / 2;
            this.ctx.drawImage(img, sx, sy, size + 0.5, size + 0.5);
          }
        }
      }
    }

    draw() {
      const ctx = this.ctx;
      // with no tiles the vector base is the map: water under Natural Earth's land
      ctx.fillStyle = this.tileUrl ? "#eef1f4" : "#c9dbe8";
      ctx.fillRect(0, 0, this.width, this.height);
      if (this.tileUrl) this._tiles();
      // vector base: land (polygons), streets (lines) and labelled places (points)
      for (const f of this.base) {
        const g = f.geometry;
        const land = f.properties.kind === "land";
        if (land && this.tileUrl) continue;  // the tiles draw the coast better
        if (g.type === "LineString" || g.type === "Polygon") {
          const ring = g.type === "Polygon" ? g.coordinates[0] : g.coordinates;
          ctx.beginPath();
          ring.forEach(([lon, lat], i) => {
            const [x, y] = this.toScreen(lat, lon);
            if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
          });
          if (g.type === "Polygon") { ctx.fillStyle = land ? "#f2f0eb" : "#dde3e9"; ctx.fill(); }
          ctx.strokeStyle = f.properties.kind === "street" ? "#ffffff" : land ? "#a9bccb" : "#c3ccd5";
          ctx.lineWidth = f.properties.kind === "street" ? 5 : 1;
          ctx.stroke();
        } else if (g.type === "Point") {
          const [x, y] = this.toScreen(g.coordinates[1], g.coordinates[0]);
          ctx.fillStyle = "#6b7785";
          ctx.font = "12px sans-serif";
          ctx.fillText(f.properties.name || "", x + 6, y - 6);
        }
      }
      // nodes and their delivery radius (geofence)
      for (const n of this.nodes) {
        const [x, y] = this.toScreen(n.lat, n.lon);
        const r = (n.delivery_radius_km * 1000 / metresPerWorld(n.lat)) * this.scale;
        ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fillStyle = "rgba(46, 125, 50, 0.06)"; ctx.fill();
        ctx.strokeStyle = "rgba(46, 125, 50, 0.5)"; ctx.setLineDash([6, 4]); ctx.lineWidth = 1;
        ctx.stroke(); ctx.setLineDash([]);
        ctx.fillStyle = n.kind === "dc" ? "#1b5e20" : n.kind === "store" ? "#6a1b9a" : "#2e7d32";
        ctx.fillRect(x - 5, y - 5, 10, 10);
        ctx.fillStyle = "#263238"; ctx.font = "11px sans-serif"; ctx.fillText(n.id, x + 7, y + 4);
      }
      // planned routes: from the courier through its stops
      const driven = new Map();
      for (const d of this.vehicles.values()) if (d.r) driven.set(d.r, d);
      for (const [courier, stops] of Object.entries(this.routes)) {
        const v = this.vehicles.get(courier) || driven.get(courier);
        ctx.beginPath();
        if (v) { const [x, y] = this.toScreen(v.lat, v.lon); ctx.moveTo(x, y); }
        stops.forEach((s, i) => {
          const [x, y] = this.toScreen(s.lat, s.lon);
          if (i || v) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        });
        ctx.strokeStyle = "rgba(21, 101, 192, 0.7)"; ctx.lineWidth = 2; ctx.stroke();
        for (const s of stops) {  // pickups filled, drops as rings (riders are filled orange)
          const [x, y] = this.toScreen(s.lat, s.lon);
          ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI);
          ctx.fillStyle = s.kind === "pickup" ? "#1565c0" : "#ffffff"; ctx.fill();
          if (s.kind !== "pickup") { ctx.strokeStyle = "#1565c0"; ctx.lineWidth = 2; ctx.stroke(); }
        }
      }
      // vehicles: one path per colour, so 1,000 dots stay cheap
      const groups = { rider: [], stale: [], vehicle: [] };
      const now = Date.now() / 1000;
      for (const [id, v] of this.vehicles) {
        const [x, y] = this.toScreen(v.lat, v.lon);
        if (x < -10 || y < -10 || x > this.width + 10 || y > this.height + 10) continue;
        const key = now - v.t > 120 ? "stale" : v.k === "rider" ? "rider" : "vehicle";
        groups[key].push([x, y, id]);
      }
      const colours = { vehicle: "#d32f2f", rider: "#f57c00", stale: "#9e9e9e" };
      for (const [key, dots] of Object.entries(groups)) {
        ctx.beginPath();
        for (const [x, y] of dots) { ctx.moveTo(x + 4, y); ctx.arc(x, y, 4, 0, 2 * Math.PI); }
        ctx.fillStyle = colours[key]; ctx.fill();
      }
      if (this.selected && this.vehicles.has(this.selected)) {
        const v = this.vehicles.get(this.selected);
        const [x, y] = this.toScreen(v.lat, v.lon);
        ctx.beginPath(); ctx.arc(x, y, 9, 0, 2 * Math.PI);
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.stroke();
        ctx.fillStyle = "#000"; ctx.font = "bold 12px sans-serif"; ctx.fillText(this.selected, x + 11, y - 8);
      }
      if (this.onDraw) this.onDraw();
    }
  }

  window.RetailEdgeMap = RetailEdgeMap;
})();
