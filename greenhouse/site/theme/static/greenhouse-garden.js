// <greenhouse-garden src="https://owner.example/api/v1/">: the living garden, on any page.
//
// The theme's own index uses this element too, so there is one renderer. It reads the compact
// render feed (api/v1/garden/render.json), draws on a 2D canvas from sprites cached per species,
// stage, health and size (a plant is drawn with paths once, then copied), and keeps to a few rules:
// - no globals (one custom element definition), a shadow DOM, no request beyond `src` and the
//   site's optional live sidecar;
// - no frame is drawn when nothing moves: the loop runs only while something animates (the
//   ambient sway and rain only while a visitor points at or uses the garden, and 15 s after),
//   never offscreen (IntersectionObserver) or in a hidden tab, and never under reduced motion;
// - one Tab stop: arrow keys turn the garden, + and - zoom, N and P step through the plants,
//   Enter opens one; the light DOM (a static map, say) shows until the feed has loaded.
(function () {
  "use strict";
  if (!window.customElements || window.customElements.get("greenhouse-garden")) return;
  var M = Math, doc = document;

  // -- colours ----------------------------------------------------------------
  function rgb(h) { var n = parseInt(h.slice(1), 16); return [n >> 16, (n >> 8) & 255, n & 255]; }
  function mix(a, b, t) { a = rgb(a); b = rgb(b); return "#" + a.map(function (v, i) { var c = M.round(v + (b[i] - v) * t); return (c < 16 ? "0" : "") + c.toString(16); }).join(""); }
  var SPECIES = { // leaf, flower
    fern: ["#3f9e4a", "#e7f59a"], lavender: ["#6f9a6a", "#a37be0"], sunflower: ["#5da13a", "#f4c430"],
    cactus: ["#4f9a5b", "#f06aa0"], bamboo: ["#7fb24a", "#f4eaa0"], oak: ["#3f8f3a", "#f7c6d9"],
    pine: ["#2d6a4f", "#f9d56e"], rose: ["#3e7d3a", "#e0456b"], moss: ["#6aa84f", "#d9475b"], ivy: ["#2f7d3d", "#fff6c8"]
  };
  var SKY = { // top, horizon, light, rain, snow, fog, clouds
    sunny: ["#4d9fe0", "#d4ecf7", 1, 0, 0, 0, 2], cloudy: ["#8aa3ba", "#dce4ea", 0.92, 0, 0, 0.1, 7],
    rainy: ["#5a7083", "#aebdc7", 0.8, 1, 0, 0.2, 9], stormy: ["#27323f", "#6b7985", 0.64, 1.6, 0, 0.25, 11],
    foggy: ["#b6bec2", "#e6e9e8", 0.9, 0, 0, 0.75, 3], snowy: ["#a9bccd", "#f0f4f8", 0.97, 0, 1, 0.2, 6]
  };
  var NIGHT = { top: "#0b1324", horizon: "#24324a", hills: "#1b2a2a", grass: "#2c4a2c", rim: "#3a2b1e" };
  var STAGES = ["seed", "sprout", "sapling", "blooming", "mature", "dormant"];

  // -- plant shapes: drawn once per sprite, relative to the plant's height h in pixels ------------
  function poly(ctx, pts, fill) { ctx.beginPath(); ctx.moveTo(pts[0], pts[1]); for (var i = 2; i < pts.length; i += 2) ctx.lineTo(pts[i], pts[i + 1]); ctx.closePath(); ctx.fillStyle = fill; ctx.fill(); }
  function blob(ctx, x, y, r, sides, fill, dark) { // a low-poly ball, lit from the upper left
    var pts = [], pts2 = [x, y], i, a;
    for (i = 0; i < sides; i++) { a = i / sides * 6.283 + 0.3; pts.push(x + M.cos(a) * r, y + M.sin(a) * r * 0.9); }
    poly(ctx, pts, fill);
    for (i = 0; i <= sides / 2; i++) { a = i / sides * 6.283 + 0.3 - 0.4; pts2.push(x + M.cos(a) * r, y + M.sin(a) * r * 0.9); }
    poly(ctx, pts2, dark);
  }
  function line(ctx, x1, y1, x2, y2, w, col, cx, cy) { ctx.beginPath(); ctx.moveTo(x1, y1); if (cx === undefined) ctx.lineTo(x2, y2); else ctx.quadraticCurveTo(cx, cy, x2, y2); ctx.lineWidth = w; ctx.strokeStyle = col; ctx.stroke(); }
  function flower(ctx, x, y, r, col) { blob(ctx, x, y, r, 5, col, mix(col, "#000000", 0.15)); blob(ctx, x, y, r * 0.35, 5, "#fff3b0", "#e9c84a"); }

  var DRAW = {
    pine: function (c, h, L, D, F, bloom) {
      c.fillStyle = "#6b4a2b"; c.fillRect(-h * 0.03, -h * 0.2, h * 0.06, h * 0.2);
      for (var i = 0; i < 4; i++) {
        var b = -h * (0.15 + i * 0.2), w = h * (0.32 - i * 0.06), top = b - h * 0.34;
        poly(c, [-w, b, 0, top, 0, b], L); poly(c, [0, top, w, b, 0, b], D);
        if (bloom) flower(c, w * 0.6, b - h * 0.02, h * 0.03, F);
      }
    },
    oak: function (c, h, L, D, F, bloom) {
      poly(c, [-h * 0.05, 0, h * 0.05, 0, h * 0.03, -h * 0.55, -h * 0.03, -h * 0.55], "#6b4a2b");
      [[-0.2, -0.55, 0.24], [0.2, -0.58, 0.24], [0, -0.78, 0.24]].forEach(function (b) { blob(c, b[0] * h, b[1] * h, b[2] * h, 7, L, D); });
      if (bloom) for (var i = 0; i < 7; i++) flower(c, M.cos(i * 2.4) * h * 0.3, -h * 0.68 + M.sin(i * 2.4) * h * 0.18, h * 0.035, F);
    },
    bamboo: function (c, h, L, D, F, bloom) {
      [[-0.1, 1], [0.06, 0.85], [0.16, 0.7]].forEach(function (s, k) {
        var x = s[0] * h, top = -h * s[1];
        line(c, x, 0, x, top, M.max(1, h * 0.045), k ? D : L);
        for (var y = -h * 0.18; y > top; y -= h * 0.18) { line(c, x - h * 0.03, y, x + h * 0.03, y, 1, "#3d5a1e"); line(c, x, y, x + (k % 2 ? -1 : 1) * h * 0.14, y - h * 0.06, M.max(1, h * 0.02), L); }
        if (bloom) flower(c, x, top, h * 0.035, F);
      });
    },
    cactus: function (c, h, L, D, F, bloom) {
      var w = h * 0.13;
      poly(c, [-w, 0, -w, -h * 0.85, 0, -h, 0, 0], L); poly(c, [0, 0, 0, -h, w, -h * 0.85, w, 0], D);
      poly(c, [-w, -h * 0.4, -w * 2.6, -h * 0.45, -w * 2.6, -h * 0.7, -w * 1.8, -h * 0.7, -w * 1.8, -h * 0.5, -w, -h * 0.5], L);
      poly(c, [w, -h * 0.55, w * 2.4, -h * 0.6, w * 2.4, -h * 0.82, w * 1.7, -h * 0.82, w * 1.7, -h * 0.65, w, -h * 0.65], D);
      if (bloom) { flower(c, 0, -h, w * 0.9, F); flower(c, -w * 2.2, -h * 0.72, w * 0.6, F); }
    },
    sunflower: function (c, h, L, D, F, bloom) {
      line(c, 0, 0, 0, -h * 0.85, M.max(1, h * 0.04), D, h * 0.06, -h * 0.4);
      poly(c, [0, -h * 0.35, -h * 0.22, -h * 0.42, -h * 0.05, -h * 0.47], L); poly(c, [0, -h * 0.55, h * 0.2, -h * 0.6, h * 0.04, -h * 0.66], D);
      if (bloom) {
        var r = h * 0.16, pts = [];
        for (var i = 0; i < 24; i++) { var a = i / 24 * 6.283, q = i % 2 ? r : r * 0.55; pts.push(M.cos(a) * q, -h * 0.84 + M.sin(a) * q); }
        poly(c, pts, F); blob(c, 0, -h * 0.84, r * 0.5, 8, "#6b3e1e", "#4f2c14");
      } else blob(c, 0, -h * 0.86, h * 0.07, 6, L, D);
    },
    lavender: function (c, h, L, D, F, bloom) {
      for (var i = -3; i <= 3; i++) {
        var x = i * h * 0.07, top = -h * (0.95 - M.abs(i) * 0.07);
        line(c, 0, 0, x, top, M.max(1, h * 0.015), i % 2 ? L : D, x * 0.3, top * 0.5);
        for (var j = 0; j < 4; j++) blob(c, x, top + j * h * 0.05, h * 0.03, 5, bloom ? F : L, bloom ? mix(F, "#000000", 0.2) : D);
      }
    },
    fern: function (c, h, L, D, F, bloom) {
      for (var i = 0; i < 7; i++) {
        var a = -2.6 + i * 0.35, ex = M.cos(a) * h * 0.5, ey = M.sin(a) * h * 0.95;
        line(c, 0, 0, ex, ey, M.max(1, h * 0.02), i % 2 ? L : D, ex * 0.2, ey * 1.1);
        for (var j = 1; j < 5; j++) blob(c, ex * j / 5, ey * j / 5 - (1 - j / 5) * h * 0.1, h * 0.05, 4, i % 2 ? L : D, D);
        if (bloom) flower(c, ex, ey, h * 0.025, F);
      }
    },
    rose: function (c, h, L, D, F, bloom) {
      [[-0.2, -0.3, 0.22], [0.2, -0.32, 0.22], [0, -0.55, 0.26], [0.05, -0.2, 0.2]].forEach(function (b) { blob(c, b[0] * h, b[1] * h, b[2] * h, 6, L, D); });
      if (bloom) for (var i = 0; i < 6; i++) flower(c, M.cos(i * 2.1) * h * 0.22, -h * 0.45 + M.sin(i * 2.1) * h * 0.2, h * 0.07, F);
    },
    moss: function (c, h, L, D, F, bloom) {
      var w = h * 0.5;
      for (var i = -2; i <= 2; i++) blob(c, i * w * 0.3, -w * 0.3, w * (0.42 - M.abs(i) * 0.07), 6, L, D);
      if (bloom) for (i = 0; i < 5; i++) { var x = (i - 2) * w * 0.25; line(c, x, -w * 0.5, x, -w * 1.6, M.max(1, h * 0.02), "#8a6a2a"); flower(c, x, -w * 1.65, w * 0.1, F); }
    },
    ivy: function (c, h, L, D, F, bloom) {
      line(c, 0, 0, 0, -h, M.max(1, h * 0.025), "#8b6b3d");
      for (var i = 0; i < 8; i++) {
        var y = -h * (0.1 + i * 0.11), x = (i % 2 ? 1 : -1) * h * 0.09;
        line(c, 0, y + h * 0.05, x, y, M.max(1, h * 0.012), D); blob(c, x, y, h * 0.07, 5, i % 3 ? L : D, D);
        if (bloom && i % 2) flower(c, x * 1.6, y, h * 0.03, F);
      }
    }
  };

  // The leaf colour of a plant: its species, faded by poor health (four steps) or dormancy.
  function leafOf(species, stage, tint) {
    var base = SPECIES[species][0];
    return stage === "dormant" ? mix(base, "#8a7a62", 0.75) : mix(base, "#a89f6c", tint / 3 * 0.45);
  }

  function shape(c, species, stage, tint, h) {
    var leaf = leafOf(species, stage, tint), L = mix(leaf, "#ffffff", 0.12), D = mix(leaf, "#0b1a0b", 0.3), F = SPECIES[species][1];
    c.fillStyle = "rgba(80,55,30,0.35)"; c.beginPath(); c.ellipse(0, 0, h * 0.3, h * 0.09, 0, 0, 6.283); c.fill(); // soil
    if (stage === "dormant") c.transform(1, 0, 0.25, 0.9, 0, 0); // leaning, drooping
    if (stage === "seed") {
      blob(c, 0, -h * 0.25, h * 0.32, 6, "#8b6b3d", "#5e4526");
      blob(c, h * 0.1, -h * 0.55, h * 0.16, 5, "#d9b77a", "#a7844a");
    } else if (stage === "sprout") {
      line(c, 0, 0, 0, -h * 0.75, M.max(1.5, h * 0.1), D, h * 0.12, -h * 0.4);
      poly(c, [0, -h * 0.75, -h * 0.45, -h * 1.0, -h * 0.3, -h * 0.6], L);
      poly(c, [0, -h * 0.75, h * 0.45, -h * 1.0, h * 0.3, -h * 0.6], D);
    } else {
      DRAW[species](c, h, L, D, F, stage === "blooming");
    }
  }

  // -- sprites: one small canvas per (species, stage, health step, size step) ---------------------
  // Sizes go in steps of 2^(1/2), so a sprite is never scaled by more than 19 % when copied.
  // New sprites are made within a time budget per frame; a plant whose sprite is not made yet
  // is drawn as a dot for that frame, and the frame asks for another.
  var SPRITE_W = 1.5, SPRITE_H = 1.25, SPRITE_BASE = 1.12; // canvas size and base line, in plant heights
  // Sprites are made between frames, a few milliseconds at a time (a short task, even on a slow
  // phone), and the garden is drawn again once they are all there: no frame is spent waiting.
  function Sprites() { this.cache = {}; this.made = 0; this.wanted = {}; }
  Sprites.prototype.step = function (px) { return M.max(3, M.ceil(M.log(M.max(px, 6)) / M.LN2 * 2)); };
  Sprites.prototype.get = function (species, stage, tint, step) {
    var key = species + stage + tint + "/" + step, hit = this.cache[key];
    if (!hit) this.wanted[key] = [species, stage, tint, step];
    return hit || null;
  };
  Sprites.prototype.pending = function () { for (var k in this.wanted) return true; return false; };
  // Make wanted sprites for up to `budget` ms; true when none is left.
  Sprites.prototype.work = function (budget) {
    var until = performance.now() + budget;
    for (var key in this.wanted) {
      if (performance.now() > until) return false;
      var w = this.wanted[key]; delete this.wanted[key];
      this.cache[key] = this.make(w[0], w[1], w[2], w[3]);
    }
    return true;
  };
  Sprites.prototype.make = function (species, stage, tint, step) {
    var h = M.pow(2, step / 2), w = M.ceil(h * SPRITE_W), hh = M.ceil(h * SPRITE_H);
    var canvas = doc.createElement("canvas"); canvas.width = w; canvas.height = hh;
    var c = canvas.getContext("2d");
    c.translate(w / 2, h * SPRITE_BASE);
    shape(c, species, stage, tint, h);
    var alpha = c.getImageData(0, 0, w, hh).data, mask = new Uint8Array(w * hh);
    for (var i = 0; i < mask.length; i++) mask[i] = alpha[i * 4 + 3] > 60 ? 1 : 0;
    this.made++;
    return ({ canvas: canvas, w: w, h: hh, ax: w / 2, ay: h * SPRITE_BASE, size: h, mask: mask });
  };

  function rand(seed) { return function () { seed = (seed * 16807) % 2147483647; return (seed - 1) / 2147483646; }; }

  var CSS = ":host{display:block;position:relative;overflow:hidden;height:var(--garden-height,26rem);border-radius:.75rem;contain:content}" +
    ".frame{display:flex;flex-direction:column;height:100%}" +
    ":host(:focus-visible){outline:3px solid var(--garden-focus,#8a3b5c);outline-offset:2px}" +
    ".view{position:relative;flex:1;min-height:0}canvas{position:absolute;inset:0;display:block;width:100%;height:100%;cursor:grab;touch-action:none}" +
    ".tip{position:absolute;transform:translate(-50%,-100%);background:#fffdf7;color:#1f2a1f;border:1px solid #d9d4c3;border-radius:.4rem;padding:.1rem .5rem;font:14px/1.4 system-ui,sans-serif;pointer-events:none;white-space:nowrap}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}" +
    ".bar{display:flex;gap:.5rem;align-items:center;padding:.4rem .5rem;background:#f6f4ec;font:14px/1.4 system-ui,sans-serif}" +
    ".bar.waiting>*{visibility:hidden}.bar input{flex:1}" +
    ".bar button,.bar output{background:#fffdf7;color:#1f2a1f;border:1px solid #d9d4c3;border-radius:.4rem;padding:.2rem .6rem;font:inherit}" +
    ".bar button:focus-visible,.bar input:focus-visible{outline:3px solid #8a3b5c;outline-offset:2px}" +
    ".note{position:absolute;inset:auto .5rem .5rem;margin:0;padding:.3rem .6rem;background:#fffdf7;color:#1f2a1f;border-radius:.4rem;font:14px/1.4 system-ui,sans-serif}" +
    ":host([data-scheme=dark]) .bar{background:#141a15}:host([data-scheme=dark]) .tip,:host([data-scheme=dark]) .bar button,:host([data-scheme=dark]) .bar output,:host([data-scheme=dark]) .note{background:#1c241d;color:#e8eee6;border-color:#334034}" +
    ":host([data-scheme=dark]) .bar button:focus-visible,:host([data-scheme=dark]) .bar input:focus-visible{outline-color:#f09ac0}";

  var ENGAGED = 15000; // ms of ambient motion after the visitor last pointed at or used the garden
  var KEYS = "Arrow keys turn the garden, plus and minus zoom, N and P step through the plants, Enter opens the plant.";

  class GreenhouseGarden extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      // Constructable stylesheets pass a strict CSP (style-src 'self'); a <style> element would not.
      if (this.shadowRoot.adoptedStyleSheets !== undefined && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
        var sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); this.shadowRoot.adoptedStyleSheets = [sheet];
      } else { var style = doc.createElement("style"); style.textContent = CSS; this.shadowRoot.appendChild(style); }
      this.shadowRoot.appendChild(doc.createElement("slot")); // the light DOM shows until the garden loads
      this.state = { plants: 0, drawn: 0, frames: 0, firstFrame: null, running: false, focus: null, hover: null, snapshot: null, watched: {}, sprites: 0, camera: null, error: null };
      this._started = false;
    }

    connectedCallback() {
      if (this._started) { this._observe(); return; }
      this._started = true;
      var src = this.getAttribute("src") || "";
      var self = this;
      try { this._api = new URL(src, doc.baseURI); } catch (e) { this._fail("bad src: " + src); return; }
      this._root = new URL("../../", this._api);
      fetch(new URL("garden/render.json", this._api)).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (feed) { self._load(feed); }, function (e) { self._fail(String(e && e.message || e)); });
    }

    disconnectedCallback() {
      if (this._io) this._io.disconnect();
      this._io = null; this._stop();
    }

    _fail(message) {
      this.state.error = message;
      var note = doc.createElement("p"); note.className = "note"; note.setAttribute("role", "status");
      note.textContent = "The garden could not be loaded.";
      this.shadowRoot.appendChild(note);
    }

    // -- set-up --------------------------------------------------------------
    _load(feed) {
      var self = this, sr = this.shadowRoot, P = feed.plants || {}, ids = P.id || [];
      var w = feed.weather || {};
      this.feed = feed;
      this.sky = (SKY[w.condition] || SKY.sunny).slice();
      var k = typeof w.intensity === "number" ? w.intensity : 0.5, mood = w.mood || {};
      this.condition = SKY[w.condition] ? w.condition : "sunny";
      this.energy = typeof mood.energy === "number" ? mood.energy : 0.5;
      this.valence = typeof mood.valence === "number" ? mood.valence : 0.5;
      this.wind = 0.15 + k * (w.condition === "stormy" ? 1 : 0.45) + this.energy * 0.25;
      this.sky[3] *= k + 0.3; this.sky[4] *= k + 0.3;
      var species = feed.species || [], stages = feed.stages || STAGES;
      this.plants = ids.map(function (id, i) {
        var sp = species[P.species[i]];
        return { i: i, id: String(id), name: String(P.name[i]), species: SPECIES[sp] ? sp : "moss",
          stage: STAGES.indexOf(stages[P.stage[i]]) >= 0 ? stages[P.stage[i]] : "sapling",
          growth: (+P.growth[i] || 0) / 100, health: (+P.health[i] || 0) / 100,
          x: +P.x[i] || 0, z: +P.z[i] || 0, visible: true, phase: (i * 2.399) % 6.283 };
      });
      this.byId = {};
      this.plants.forEach(function (p) { self.byId[p.id] = p; });
      this.state.plants = this.plants.length;
      this.state.weather = this.condition;
      this._frame(); // garden bounds, plant scale, camera
      this.sprites = new Sprites();
      this.sparks = {}; this.watched = {};
      var rnd = rand(7);
      this.tufts = []; this.hills = []; this.clouds = []; this.drops = [];
      for (var i = 0; i < 240; i++) { var a = rnd() * 6.283, d = M.sqrt(rnd()) * this.R * 0.97; this.tufts.push([this.gx + M.cos(a) * d, this.gz + M.sin(a) * d, rnd()]); }
      for (i = 0; i < 26; i++) this.hills.push(rnd());
      for (i = 0; i < this.sky[6]; i++) this.clouds.push([rnd(), 0.04 + rnd() * 0.12, 0.5 + rnd() * 0.6]);
      var n = M.round(160 * M.max(this.sky[3], this.sky[4]));
      for (i = 0; i < n; i++) this.drops.push([rnd(), rnd(), 0.5 + rnd()]);

      // shadow DOM: the canvas replaces the slotted fallback
      while (sr.lastChild && sr.lastChild.nodeName !== "STYLE") sr.removeChild(sr.lastChild);
      this.canvas = doc.createElement("canvas"); this.canvas.setAttribute("aria-hidden", "true");
      this.ctx = this.canvas.getContext("2d");
      this.tip = doc.createElement("div"); this.tip.className = "tip"; this.tip.hidden = true; this.tip.setAttribute("aria-hidden", "true");
      this.status = doc.createElement("p"); this.status.className = "sr"; this.status.setAttribute("role", "status");
      this.view = doc.createElement("div"); this.view.className = "view";
      this.view.appendChild(this.canvas); this.view.appendChild(this.tip);
      this.box = doc.createElement("div"); this.box.className = "frame";
      this.box.appendChild(this.view); sr.appendChild(this.box); sr.appendChild(this.status);
      if (!this.hasAttribute("tabindex")) this.tabIndex = 0;
      if (!this.hasAttribute("role")) this.setAttribute("role", "application");
      if (!this.hasAttribute("aria-label")) {
        this.setAttribute("aria-label", (feed.title ? feed.title + ": " : "") + "a garden of " + this.plants.length + " plants. " + KEYS);
      }
      this.bg = doc.createElement("canvas"); this.bgc = this.bg.getContext("2d");
      this.cam = { yaw: this.home.yaw, pitch: this.home.pitch, dist: this.home.dist };
      this.t0 = performance.now(); this.engaged = 0; this.paused = this.t0;
      if (this.hasAttribute("timelapse") && feed.timelapse) this._timelapseBar(new URL(feed.timelapse, new URL("garden/", this._api)));
      this._media();
      this._bind();
      this._resize();
      this._observe();
      if (feed.live && this.getAttribute("live") !== "off") this._live(feed.live);
      this.dispatchEvent(new CustomEvent("greenhouse-ready", { bubbles: true, composed: true }));
    }

    // Where the garden lies, how large plants are drawn, and the camera that shows it all.
    _frame() {
      var ps = this.plants, minx = 1e9, maxx = -1e9, minz = 1e9, maxz = -1e9;
      ps.forEach(function (p) { minx = M.min(minx, p.x); maxx = M.max(maxx, p.x); minz = M.min(minz, p.z); maxz = M.max(maxz, p.z); });
      if (!ps.length) { minx = minz = -3; maxx = maxz = 3; }
      this.gx = this.cx = (minx + maxx) / 2; this.gz = this.cz = (minz + maxz) / 2;
      var far = 0, self = this;
      ps.forEach(function (p) { far = M.max(far, M.hypot(p.x - self.gx, p.z - self.gz)); });
      // Plant size follows how close neighbours stand (median nearest-neighbour distance, on a grid),
      // so twenty plants are drawn large and a thousand stay apart.
      var grid = {}, gaps = [];
      ps.forEach(function (p) { var key = M.floor(p.x / 2) + "," + M.floor(p.z / 2); (grid[key] = grid[key] || []).push(p); });
      ps.forEach(function (p) {
        var best = 1e9, gx = M.floor(p.x / 2), gz = M.floor(p.z / 2);
        for (var dx = -1; dx <= 1; dx++) for (var dz = -1; dz <= 1; dz++) (grid[(gx + dx) + "," + (gz + dz)] || []).forEach(function (q) { if (q !== p) best = M.min(best, M.hypot(p.x - q.x, p.z - q.z)); });
        gaps.push(best);
      });
      gaps.sort(function (a, b) { return a - b; });
      var gap = gaps.length ? gaps[gaps.length >> 1] : 4;
      this.scale = M.max(1.9, M.min(5, 1.9 * M.min(gap, 4)));
      this.R = M.max(4, far + this.scale * 0.5);
      // the outermost plants in 48 directions: what the camera must keep in view
      var rim = {};
      ps.forEach(function (p) {
        var k = M.round((M.atan2(p.z - self.gz, p.x - self.gx) + M.PI) / 6.283 * 48) % 48, d = M.hypot(p.x - self.gx, p.z - self.gz);
        if (!rim[k] || rim[k][0] < d) rim[k] = [d, p];
      });
      this.rim = Object.keys(rim).map(function (k) { return rim[k][1]; });
      if (!this.rim.length) this.rim = [{ x: this.gx - 3, z: this.gz - 3 }, { x: this.gx + 3, z: this.gz + 3 }];
      this.home = { yaw: -0.6, pitch: 0.85, dist: this.R * 2.3 };
    }

    // The nearest camera distance at which every plant fits the canvas (the island may overflow it).
    _fit() {
      var saved = this.cam, cx = this.cx, cz = this.cz, lo = this.R * 0.5, hi = this.R * 8;
      this.cx = this.gx; this.cz = this.gz;
      for (var n = 0; n < 24; n++) {
        var mid = (lo + hi) / 2, fits = true;
        this.cam = { yaw: this.home.yaw, pitch: this.home.pitch, dist: mid };
        for (var i = 0; i < this.rim.length && fits; i++) {
          var p = this.rim[i], low = this.project(p.x, 0, p.z), high = this.project(p.x, this.scale, p.z);
          fits = low[0] > this.W * 0.03 && low[0] < this.W * 0.97 && low[1] < this.H * 0.97 && high[1] > this.H * 0.02;
        }
        if (fits) hi = mid; else lo = mid;
      }
      this.cam = saved; this.cx = cx; this.cz = cz;
      var atHome = this.cam && this.cam.dist === this.home.dist && this.cam.yaw === this.home.yaw && this.cam.pitch === this.home.pitch;
      this.home.dist = hi;
      if (atHome) this.cam.dist = hi;
    }

    _media() {
      var self = this;
      function watch(query, apply) {
        if (!window.matchMedia) return;
        var m = window.matchMedia(query); apply(m.matches);
        var on = function (e) { apply(e.matches); self._dirty(true); self._run(); };
        if (m.addEventListener) m.addEventListener("change", on); else if (m.addListener) m.addListener(on);
      }
      watch("(prefers-reduced-motion: reduce)", function (v) { self.reduced = v; });
      var forced = this.getAttribute("scheme");
      if (forced === "dark" || forced === "light") this.dark = forced === "dark";
      else watch("(prefers-color-scheme: dark)", function (v) { self.dark = v; self.setAttribute("data-scheme", v ? "dark" : "light"); });
      this.setAttribute("data-scheme", this.dark ? "dark" : "light");
    }

    // The loop runs only while the garden is on screen, the tab visible, and something moves.
    _observe() {
      var self = this;
      this.onscreen = true;
      if (window.IntersectionObserver && !this._io) {
        this._io = new IntersectionObserver(function (entries) {
          self.onscreen = entries[entries.length - 1].isIntersecting;
          self._run();
        });
        this._io.observe(this);
      }
      if (!this._vis) {
        this._vis = function () { self._run(); };
        doc.addEventListener("visibilitychange", this._vis);
      }
    }
    // Ambient motion (sway, rain, snow) plays while a visitor is with the garden: pointer over it,
    // focus in it, or in the ENGAGED ms after that. A page left alone draws nothing at all.
    _animating() { return (!this.reduced && performance.now() < this.engaged) || this.tween || this._sparking(); }
    engage() {
      var was = this._animating();
      this.engaged = performance.now() + ENGAGED;
      if (!was) { this.t0 += performance.now() - (this.paused || performance.now()); this._run(); }
      var self = this;
      clearTimeout(this._settle);
      this._settle = setTimeout(function () { self.paused = performance.now(); self._run(); }, ENGAGED + 50);
    }
    _sparking() { var now = performance.now(), s = this.sparks; for (var id in s) if (s[id] > now) return true; return false; }
    _run() {
      var live = this.onscreen && doc.visibilityState !== "hidden" && this.ctx;
      if (live && (this.needs || this._animating())) {
        if (!this.raf) { var self = this; this.raf = requestAnimationFrame(function (t) { self.raf = 0; self._draw(t); }); }
        this.state.running = true;
      } else this._stop();
    }
    _stop() { if (this.raf) cancelAnimationFrame(this.raf); this.raf = 0; this.state.running = !!this._making; }
    _dirty(camera) { this.needs = true; if (camera) this.moved = true; }
    redraw(camera) { this._dirty(camera); this._run(); }

    _resize() {
      var r = this.view.getBoundingClientRect(), dpr = M.min(2, window.devicePixelRatio || 1);
      if (r.width === this.W && r.height === this.H && dpr === this.dpr) return; // the observer's first call
      this.dpr = dpr;
      this.W = r.width || 600; this.H = r.height || 400;
      this.canvas.width = this.bg.width = M.round(this.W * this.dpr);
      this.canvas.height = this.bg.height = M.round(this.H * this.dpr);
      this._fit();
      this._dirty(true);
    }

    // world (x, y up, z) → screen px, pixels per unit at that depth, depth
    project(x, y, z) {
      var cam = this.cam, dx = x - this.cx, dz = z - this.cz, c = M.cos(cam.yaw), s = M.sin(cam.yaw);
      var rx = dx * c - dz * s, rz = dx * s + dz * c, cp = M.cos(cam.pitch), sp = M.sin(cam.pitch);
      var d = rz * cp - y * sp + cam.dist, u = rz * sp + y * cp, f = M.min(this.H * 1.75, this.W * 0.95);
      if (d < 1) d = 1;
      return [this.W / 2 + f * rx / d, this.H * 0.5 - f * u / d, f / d, d];
    }

    // -- camera-dependent layout: projected plants, depth order, sprite sizes, pick grid ------------
    _place() {
      var self = this, order = [], upright = M.max(0.5, M.cos(this.cam.pitch) * 0.7 + 0.3);
      this.plants.forEach(function (p) {
        if (!p.visible) return;
        var q = self.project(p.x, 0, p.z);
        p.sx = q[0]; p.sy = q[1]; p.depth = q[3];
        p.hpx = self.scale * (0.65 + 0.35 * p.growth) * q[2] * upright; // on-screen height: seeds stay visible
        order.push(p);
      });
      order.sort(function (a, b) { return b.depth - a.depth; });
      this.order = order;
      this._grid = null;
    }

    _background() {
      var c = this.bgc, W = this.W, H = this.H, sky = this.sky, dark = this.dark, i;
      c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      var top = dark ? mix(NIGHT.top, sky[0], 0.2) : sky[0], horizon = dark ? mix(NIGHT.horizon, sky[1], 0.2) : sky[1];
      var g = c.createLinearGradient(0, 0, 0, H);
      g.addColorStop(0, top); g.addColorStop(0.62, horizon); g.addColorStop(1, mix(horizon, dark ? NIGHT.grass : "#6f8a5a", 0.5));
      c.fillStyle = g; c.fillRect(0, 0, W, H);
      if (this.condition === "sunny" || dark) blob(c, W * 0.82, H * 0.16, dark ? 20 : 28, 12, dark ? "#e9eef7" : "#fff4c2", dark ? "#c9d2e0" : "#ffe58a");
      // clouds sit behind the hills and the garden, never over a plant
      var cloud = mix(sky[1], "#ffffff", sky[2] < 0.9 ? 0 : 0.4), shade = mix(sky[0], sky[1], 0.35);
      if (dark) { cloud = mix(cloud, NIGHT.horizon, 0.6); shade = mix(shade, NIGHT.top, 0.6); }
      this.clouds.forEach(function (k) {
        var x = (k[0] * 1.2 - 0.1) * W, y = k[1] * H, r = 22 * k[2];
        blob(c, x, y, r, 7, cloud, shade); blob(c, x + r, y + 4, r * 0.8, 7, cloud, shade);
      });
      var hills = this.hills;
      [[0.34, 0.3], [0.42, 0.5]].forEach(function (layer, k) {
        var pts = [0, H], y0 = H * layer[0];
        for (var j = 0; j <= 12; j++) pts.push(j / 12 * W, y0 - (hills[j + k * 13] || 0) * H * 0.08);
        pts.push(W, H); poly(c, pts, mix(horizon, dark ? NIGHT.hills : "#4f6f4a", layer[1]));
      });
      // the garden island: a thick disc of soil, grass on top, sized to the plants
      var rim = [], ground = [], ys = [];
      for (i = 0; i < 64; i++) {
        var a = i / 64 * 6.283, x = this.gx + M.cos(a) * this.R, z = this.gz + M.sin(a) * this.R;
        var p1 = this.project(x, -this.R * 0.06, z), p2 = this.project(x, 0, z);
        rim.push(p1[0], p1[1]); ground.push(p2[0], p2[1]); ys.push(p2[1]);
      }
      poly(c, rim, dark ? NIGHT.rim : "#6b4f33");
      var grass = this.condition === "snowy" ? "#e8eef0" : mix("#6fae4f", "#8a8f5a", 1 - this.valence);
      if (dark) grass = mix(grass, NIGHT.grass, 0.6);
      var gy = c.createLinearGradient(0, M.min.apply(M, ys), 0, M.max.apply(M, ys));
      gy.addColorStop(0, mix(grass, "#2f4f2a", 0.25)); gy.addColorStop(1, mix(grass, "#d8f0a0", dark ? 0.08 : 0.25));
      poly(c, ground, gy);
      // grass tufts and wild flowers: one path per colour (a stroke per tuft costs ten times more)
      var blades = new Path2D(), light = new Path2D();
      for (i = 0; i < this.tufts.length; i++) {
        var t = this.tufts[i], q = this.project(t[0], 0, t[1]), k = M.min(q[2], 14);
        if (t[2] > 0.9) { c.fillStyle = t[2] > 0.95 ? "#f7f2c8" : "#e8a0c0"; c.fillRect(q[0], q[1] - k * 0.3, k * 0.25, k * 0.25); continue; }
        blades.moveTo(q[0], q[1]); blades.lineTo(q[0] - k * 0.2, q[1] - k * 0.5);
        light.moveTo(q[0], q[1]); light.lineTo(q[0] + k * 0.15, q[1] - k * 0.6);
      }
      c.lineWidth = 1;
      c.strokeStyle = dark ? "#3d6a32" : "#4d8a3a"; c.stroke(blades);
      c.strokeStyle = dark ? "#4a7a3e" : "#5c9a45"; c.stroke(light);
    }

    _draw(now) {
      var c = this.ctx, W = this.W, H = this.H, dpr = this.dpr, t = (now - this.t0) / 1000, self = this;
      if (this.tween) this._tweenStep(now);
      if (this.moved) { this._place(); this._background(); this.moved = false; }
      this.needs = false;
      c.setTransform(1, 0, 0, 1, 0, 0);
      c.drawImage(this.bg, 0, 0);
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      var motion = !this.reduced;
      // plants, back to front, each copied from its sprite
      var missing = false, drawn = 0;
      var sway = motion ? this.wind * 0.06 : 0, speed = 0.8 + this.energy, focus = this.state.focus, hover = this.state.hover;
      // the focused plant is drawn last, above its neighbours: a seed among oaks still shows
      var list = this.order, top = focus && this.byId[focus];
      if (top && top.visible) { list = this.order.filter(function (q) { return q !== top; }); list.push(top); }
      for (var n = 0; n < list.length; n++) {
        var p = list[n], h = p.hpx;
        if (p.sx < -h || p.sx > W + h || p.sy < -h * 0.2 || p.sy > H + h * 1.2) { p.sprite = null; continue; }
        drawn++;
        if (this.watched[p.id] || this.sparks[p.id] > now || focus === p.id || hover === p.id) this._glow(p, focus === p.id || hover === p.id);
        if (h < 5) { // far away: a dot of the plant's colour
          c.fillStyle = p.stage === "blooming" ? SPECIES[p.species][1] : leafOf(p.species, p.stage, 0);
          c.fillRect(p.sx - 1.5, p.sy - 3, 3, 3); p.sprite = null; continue;
        }
        var tint = M.min(3, M.floor((1 - p.health) * 4)), sprite = this.sprites.get(p.species, p.stage, tint, this.sprites.step(h * dpr));
        p.sprite = sprite;
        if (!sprite) { missing = true; c.fillStyle = leafOf(p.species, p.stage, tint); c.fillRect(p.sx - h * 0.15, p.sy - h * 0.6, h * 0.3, h * 0.6); continue; }
        var k = h / sprite.size;
        if (sway && h >= 14) {
          c.setTransform(dpr, 0, -dpr * M.sin(t * speed + p.phase) * sway, dpr, p.sx * dpr, p.sy * dpr);
          c.drawImage(sprite.canvas, -sprite.ax * k, -sprite.ay * k, sprite.w * k, sprite.h * k);
          c.setTransform(dpr, 0, 0, dpr, 0, 0);
        } else c.drawImage(sprite.canvas, p.sx - sprite.ax * k, p.sy - sprite.ay * k, sprite.w * k, sprite.h * k);
        if (focus === p.id) { c.strokeStyle = this.dark ? "#f09ac0" : "#8a3b5c"; c.lineWidth = 3; c.strokeRect(p.sx - h * 0.45 - 4, p.sy - h * 1.05 - 4, h * 0.9 + 8, h * 1.15 + 8); }
      }
      this._weather(c, t, motion);
      this.state.drawn = drawn; this.state.frames++; this.state.sprites = this.sprites.made;
      this.state.camera = { yaw: this.cam.yaw, pitch: this.cam.pitch, dist: this.cam.dist };
      if (this.state.firstFrame === null) { this.state.firstFrame = performance.now(); this.setAttribute("data-ready", ""); }
      if (missing) this._make();
      this._run();
    }
    _make() {
      if (this._making) return;
      var self = this;
      this._making = setTimeout(function work() {
        if (!self.sprites.work(4)) { self._making = setTimeout(work, 0); return; }
        self._making = 0; self.redraw(false);
      }, 0);
    }

    _glow(p, bright) {
      var c = this.ctx, s = M.max(p.hpx, 10), g = c.createRadialGradient(p.sx, p.sy - s * 0.5, 0, p.sx, p.sy - s * 0.5, s);
      g.addColorStop(0, bright ? "rgba(255,255,255,0.75)" : "rgba(255,225,110,0.8)"); g.addColorStop(1, "rgba(255,225,110,0)");
      c.fillStyle = g; c.fillRect(p.sx - s, p.sy - s * 1.5, s * 2, s * 2);
    }

    _weather(c, t, motion) {
      var W = this.W, H = this.H, sky = this.sky, wind = this.wind;
      if (sky[5]) { var f = c.createLinearGradient(0, H * 0.3, 0, H), tone = this.dark ? "40,48,60," : "235,238,236,"; f.addColorStop(0, "rgba(" + tone + sky[5] + ")"); f.addColorStop(1, "rgba(" + tone + sky[5] * 0.25 + ")"); c.fillStyle = f; c.fillRect(0, 0, W, H); }
      if (this.drops.length) {
        var snow = sky[4] > 0;
        c.strokeStyle = "rgba(210,225,240,0.6)"; c.fillStyle = "rgba(255,255,255,0.9)"; c.lineWidth = 1;
        c.beginPath();
        this.drops.forEach(function (d) {
          var y = ((d[1] + (motion ? t * (snow ? 0.05 : 0.9) * d[2] : 0)) % 1) * H;
          var x = ((d[0] + (motion && snow ? M.sin(t + d[2] * 9) * 0.01 : 0) + y / H * wind * 0.1) % 1) * W;
          if (snow) { c.moveTo(x + 2 * d[2], y); c.arc(x, y, 2 * d[2], 0, 6.283); } else { c.moveTo(x, y); c.lineTo(x - wind * 6, y + 12 * d[2]); }
        });
        if (snow) c.fill(); else c.stroke();
      }
      // light and mood: darker under heavy weather and at night, warmer when the music is happy
      var dim = (1 - sky[2]) * 0.6 + (this.dark ? 0.28 : 0);
      if (dim > 0) { c.fillStyle = "rgba(10,16,32," + dim.toFixed(3) + ")"; c.fillRect(0, 0, W, H); }
      var v = this.valence;
      c.fillStyle = v > 0.5 ? "rgba(255,170,60," + (v - 0.5) * 0.16 + ")" : "rgba(60,90,170," + (0.5 - v) * 0.16 + ")";
      c.fillRect(0, 0, W, H);
      if (this.condition === "stormy" && motion && M.sin(t * 0.7) > 0.995) { c.fillStyle = "rgba(255,255,255,0.35)"; c.fillRect(0, 0, W, H); }
    }

    // -- picking: the front-most plant whose sprite covers the point (its alpha, not its box) ------
    _pickGrid() {
      if (this._grid) return this._grid;
      var grid = {}, order = this.order || [];
      for (var n = 0; n < order.length; n++) {
        var p = order[n], b = this._box(p);
        for (var gx = M.floor(b[0] / 32); gx <= M.floor(b[2] / 32); gx++)
          for (var gy = M.floor(b[1] / 32); gy <= M.floor(b[3] / 32); gy++) (grid[gx + "," + gy] = grid[gx + "," + gy] || []).push(n);
      }
      return (this._grid = grid);
    }
    _box(p) { // left, top, right, bottom in CSS px
      var s = p.sprite, h = p.hpx;
      if (!s) return [p.sx - M.max(3, h * 0.3), p.sy - M.max(4, h), p.sx + M.max(3, h * 0.3), p.sy + 1];
      var k = h / s.size;
      return [p.sx - s.ax * k, p.sy - s.ay * k, p.sx - s.ax * k + s.w * k, p.sy - s.ay * k + s.h * k];
    }
    plantAt(x, y) {
      if (!this.order) return null;
      var top = this.state.focus && this.byId[this.state.focus];
      if (top && top.visible && this._hits(top, x, y)) return top.id; // drawn above the rest

      var cell = this._pickGrid()[M.floor(x / 32) + "," + M.floor(y / 32)] || [], best = -1;
      for (var i = 0; i < cell.length; i++) {
        var n = cell[i];
        if (n > best && this._hits(this.order[n], x, y)) best = n;
      }
      return best >= 0 ? this.order[best].id : null;
    }
    _hits(p, x, y) { // is the point on the plant's own pixels?
      var b = this._box(p), s = p.sprite;
      if (x < b[0] || x >= b[2] || y < b[1] || y >= b[3]) return false;
      if (!s) return true;
      var k = s.size / p.hpx, u = M.floor((x - b[0]) * k), v = M.floor((y - b[1]) * k);
      return !!s.mask[v * s.w + u];
    }
    // Where a plant is drawn: its screen box (CSS px, relative to the element) and its depth.
    screenOf(id) {
      var p = this.byId && this.byId[id];
      if (!p || !p.visible || p.sx === undefined) return null;
      var b = this._box(p);
      return { x: p.sx, y: (b[1] + b[3]) / 2, left: b[0], top: b[1], right: b[2], bottom: b[3], depth: p.depth, drawn: !!p.sprite || p.hpx < 5 };
    }

    // -- input -----------------------------------------------------------------
    _bind() {
      var self = this, canvas = this.canvas, drag = { pts: {}, moved: 0 };
      // the canvas's own size: window resizes, and the time-lapse bar appearing under it
      if (window.ResizeObserver) new ResizeObserver(function () { self._resize(); self._run(); }).observe(this.view);
      else window.addEventListener("resize", function () { self._resize(); self._run(); });
      canvas.addEventListener("pointerdown", function (ev) {
        self.engage();
        drag.pts[ev.pointerId] = [ev.clientX, ev.clientY]; drag.moved = 0;
        if (canvas.setPointerCapture) canvas.setPointerCapture(ev.pointerId);
      });
      canvas.addEventListener("pointermove", function (ev) {
        self.engage();
        var last = drag.pts[ev.pointerId], r = canvas.getBoundingClientRect();
        if (!last) { self.hover(self.plantAt(ev.clientX - r.left, ev.clientY - r.top)); return; }
        var ids = Object.keys(drag.pts), dx = ev.clientX - last[0], dy = ev.clientY - last[1];
        if (ids.length === 2) { // pinch: the change in finger distance zooms
          var o = drag.pts[ids[0] === String(ev.pointerId) ? ids[1] : ids[0]];
          self.zoom(M.hypot(last[0] - o[0], last[1] - o[1]) / M.max(M.hypot(ev.clientX - o[0], ev.clientY - o[1]), 1));
        } else self.orbit(-dx * 0.008, dy * 0.005);
        drag.moved += M.abs(dx) + M.abs(dy);
        drag.pts[ev.pointerId] = [ev.clientX, ev.clientY];
      });
      function up(ev) {
        if (drag.pts[ev.pointerId] && drag.moved < 6 && Object.keys(drag.pts).length === 1) {
          var r = canvas.getBoundingClientRect(), id = self.plantAt(ev.clientX - r.left, ev.clientY - r.top);
          if (id) self.open(id);
        }
        delete drag.pts[ev.pointerId];
      }
      canvas.addEventListener("pointerup", up);
      canvas.addEventListener("pointercancel", up);
      canvas.addEventListener("pointerleave", function () { self.hover(null); });
      canvas.addEventListener("wheel", function (ev) { ev.preventDefault(); self.zoom(M.exp(M.max(-1, M.min(1, ev.deltaY * 0.001)))); }, { passive: false });
      this.addEventListener("focus", function () { self.engage(); });
      this.addEventListener("keydown", function (ev) {
        if (ev.target !== self || ev.altKey || ev.ctrlKey || ev.metaKey) return;
        self.engage();
        var key = ev.key, done = true;
        if (key === "ArrowLeft") self.orbit(0.15, 0); else if (key === "ArrowRight") self.orbit(-0.15, 0);
        else if (key === "ArrowUp") self.orbit(0, 0.08); else if (key === "ArrowDown") self.orbit(0, -0.08);
        else if (key === "+" || key === "=") self.zoom(0.8); else if (key === "-" || key === "_") self.zoom(1.25);
        else if (key === "n" || key === "N" || key === "p" || key === "P") self.step(key.toLowerCase() === "n" ? 1 : -1);
        else if (key === "Enter" && self.state.focus) self.open(self.state.focus);
        else if (key === "Escape") self.focusPlant(null);
        else if (key === "0" || key === "Home") self.reset();
        else done = false;
        if (done) ev.preventDefault();
      });
      this.addEventListener("blur", function () { if (self.state.focus) { self.state.focus = null; self._showTip(null); self.redraw(false); } });
    }

    orbit(dyaw, dpitch) {
      this.tween = null;
      this.cam.yaw += dyaw;
      this.cam.pitch = M.max(0.3, M.min(1.35, this.cam.pitch + dpitch));
      this.redraw(true);
    }
    zoom(k) { this.tween = null; this.cam.dist = M.max(this.R * 0.12, M.min(this.R * 12, this.cam.dist * k)); this.redraw(true); }
    reset() { this.tween = null; this.cam = { yaw: this.home.yaw, pitch: this.home.pitch, dist: this.home.dist }; this.cx = this.gx; this.cz = this.gz; this.redraw(true); }
    open(id) { window.location.href = new URL("projects/" + encodeURIComponent(id) + "/", this._root).href; }

    hover(id) {
      if (id === this.state.hover) return;
      this.state.hover = id;
      this.canvas.style.cursor = id ? "pointer" : "grab";
      this._showTip(id);
      this.redraw(false);
    }

    // Keyboard focus on one plant: lit, named in the status line, and brought into view.
    step(delta) {
      var visible = this.plants.filter(function (p) { return p.visible; });
      if (!visible.length) return;
      var at = -1, focus = this.state.focus;
      visible.forEach(function (p, i) { if (p.id === focus) at = i; });
      at = at < 0 ? (delta > 0 ? 0 : visible.length - 1) : (at + delta + visible.length) % visible.length;
      this.focusPlant(visible[at].id);
    }
    focusPlant(id) {
      var p = id && this.byId[id];
      this.state.focus = p ? p.id : null;
      if (p) {
        this.lookAt(p.id);
        this.status.textContent = p.name + ": " + p.species + ", " + p.stage + ", growth " + M.round(p.growth * 100) + "%. Enter opens its page.";
      } else this.status.textContent = "";
      this.redraw(false);
      this._showTip(this.state.focus);
    }
    // Bring a plant into view, near enough to be told apart (the camera eases there unless motion is reduced).
    lookAt(id) {
      var p = this.byId[id];
      if (!p) return;
      if (p.sx === undefined || this.moved) this._place();
      var inside = p.sx > this.W * 0.1 && p.sx < this.W * 0.9 && p.sy > this.H * 0.15 && p.sy < this.H * 0.95;
      if (inside && p.hpx >= 28) return;
      // near enough for 40 px, and from higher up, so taller neighbours in front hide less of it
      var want = { cx: p.x, cz: p.z, dist: p.hpx >= 28 ? this.cam.dist : M.max(this.R * 0.12, this.cam.dist * p.hpx / 40), pitch: M.max(this.cam.pitch, 1.2) };
      if (this.reduced) { this.cx = want.cx; this.cz = want.cz; this.cam.dist = want.dist; this.cam.pitch = want.pitch; this._place(); this.redraw(true); return; }
      this.tween = { from: { cx: this.cx, cz: this.cz, dist: this.cam.dist, pitch: this.cam.pitch }, to: want, start: performance.now() };
      this.redraw(true);
    }
    _tweenStep(now) {
      var tw = this.tween, k = M.min(1, (now - tw.start) / 400), e = k * (2 - k);
      this.cx = tw.from.cx + (tw.to.cx - tw.from.cx) * e; this.cz = tw.from.cz + (tw.to.cz - tw.from.cz) * e;
      this.cam.dist = tw.from.dist + (tw.to.dist - tw.from.dist) * e;
      this.cam.pitch = tw.from.pitch + (tw.to.pitch - tw.from.pitch) * e;
      this.moved = true;
      if (k >= 1) this.tween = null;
    }
    _showTip(id) {
      var p = id && this.byId[id];
      if (!p || !p.visible || this.moved) { this.tip.hidden = true; if (p && this.moved) { var self = this; requestAnimationFrame(function () { if (self.state.focus === id || self.state.hover === id) self._showTip(id); }); } return; }
      this.tip.textContent = p.name + " · " + p.stage;
      this.tip.hidden = false;
      this.tip.style.left = p.sx + "px"; this.tip.style.top = M.max(24, p.sy - M.max(p.hpx, 8) - 6) + "px";
    }

    // Live presence, from the page using the element: id -> count of people looking.
    watch(projects) { this.watched = {}; for (var id in projects) if (projects[id] > 0 && this.byId[id]) this.watched[id] = projects[id]; this.state.watched = this.watched; this.redraw(false); }
    spark(id) { if (this.byId[id]) { this.sparks[id] = performance.now() + 2000; this.redraw(false); } }
    highlight(id) { this.focusPlant(id && this.byId[id] ? id : null); }

    // -- the element's own presence client (embedded on another site) ----------------------------
    _live(url) {
      var self = this, quiet = navigator.doNotTrack === "1" || navigator.globalPrivacyControl === true, tries = 0;
      function connect() {
        var ws; try { ws = new WebSocket(url); } catch (e) { return; }
        ws.onopen = function () { tries = 0; if (!quiet) ws.send(JSON.stringify({ type: "view", project: null })); };
        ws.onmessage = function (ev) {
          var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
          if (msg && (msg.type === "welcome" || msg.type === "presence")) self.watch(msg.projects && typeof msg.projects === "object" ? msg.projects : {});
          else if (msg && msg.type === "interaction") self.spark(msg.project);
        };
        ws.onclose = function () { self.watch({}); if (self.isConnected) setTimeout(connect, M.min(30000, 1000 * M.pow(2, tries++)) * (0.5 + M.random() / 2)); };
      }
      connect();
    }

    // -- time-lapse: keyframes and deltas, a chunk at a time ---------------------------------------
    _timelapseBar(indexUrl) {
      var self = this, bar = doc.createElement("div"), play = doc.createElement("button"), slider = doc.createElement("input"), out = doc.createElement("output");
      bar.className = "bar waiting"; // its room is kept from the start: showing it resizes nothing
      play.type = "button"; play.textContent = "Play time-lapse"; play.setAttribute("aria-pressed", "false");
      slider.type = "range"; slider.min = "0"; slider.setAttribute("aria-label", "History snapshot");
      bar.appendChild(play); bar.appendChild(slider); bar.appendChild(out);
      this.box.appendChild(bar);
      var chunks = {}, index = null, timer = null, i = 0, applied = -1;
      function chunkOf(k) { for (var n = 0; n < index.chunks.length; n++) { var c = index.chunks[n]; if (k >= c.first && k < c.first + c.count) return n; } return -1; }
      function load(n) {
        if (!chunks[n]) chunks[n] = fetch(new URL(index.chunks[n].url, indexUrl)).then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
        return chunks[n];
      }
      function set(group) {
        for (var j = 0; j + 3 < group.length; j += 4) {
          var p = self.plants[group[j]];
          if (!p) continue;
          p.visible = true; p.stage = STAGES[group[j + 1]] || p.stage; p.growth = group[j + 2] / 100; p.health = group[j + 3] / 100;
        }
      }
      function show(k) {
        var n = chunkOf(k);
        if (n < 0) return Promise.resolve();
        if (index.chunks[n + 1] && k - index.chunks[n].first > index.chunks[n].count / 2) load(n + 1); // read ahead
        return load(n).then(function (chunk) {
          var first = index.chunks[n].first, from = applied >= first && applied < k ? applied + 1 : first;
          if (from === first) { self.plants.forEach(function (p) { p.visible = false; }); }
          for (var j = from - first; j <= k - first; j++) set(chunk.frames[j].plants);
          applied = k;
          out.textContent = index.snapshots[k]; self.state.snapshot = index.snapshots[k];
          self.redraw(true);
        });
      }
      function stop() { clearTimeout(timer); timer = null; play.setAttribute("aria-pressed", "false"); play.textContent = "Play time-lapse"; }
      function tick() {
        slider.value = String(i);
        show(i).then(function () {
          i += 1;
          if (i >= index.snapshots.length || !timer) return stop();
          timer = setTimeout(tick, self.reduced ? 1000 : 120);
        }, stop);
      }
      slider.addEventListener("input", function () { show(Number(slider.value)); });
      play.addEventListener("click", function () {
        if (timer) return stop();
        play.setAttribute("aria-pressed", "true"); play.textContent = "Pause time-lapse";
        i = Number(slider.value) >= index.snapshots.length - 1 ? 0 : Number(slider.value);
        timer = 1; tick();
      });
      fetch(indexUrl).then(function (r) { return r.json(); }).then(function (d) {
        index = d;
        if (!d.snapshots || !d.snapshots.length || !d.chunks || !d.chunks.length) return;
        slider.max = String(d.snapshots.length - 1); slider.value = slider.max; applied = -1;
        out.textContent = d.snapshots[d.snapshots.length - 1];
        bar.className = "bar";
        self._timelapse = { show: show, index: d };
      }).catch(function () { /* no time-lapse: the garden of today stays */ });
    }
  }

  window.customElements.define("greenhouse-garden", GreenhouseGarden);
})();
