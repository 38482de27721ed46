// greenhouse default theme: progressive enhancement of the server-rendered pages.
// Without JavaScript the SVG map, the plant list and every link work; with it the
// garden becomes a small 3D scene drawn on a 2D canvas (no framework, no network
// beyond this site and the optional live sidecar). Data only ever reaches the DOM
// through textContent.
(function () {
  "use strict";
  var doc = document, body = doc.body, M = Math;
  var reduced = !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
  var base = body.dataset.base || "/";
  var local = function (u) { return String(u).replace(/^[a-z]+:\/\/[^/]+/i, ""); };
  var state = window.__garden = { plants: 0, drawn: 0, frames: 0, firstFrame: null, screen: {}, watched: {} };

  // -- colours --------------------------------------------------------------
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

  // -- live presence (every page) -------------------------------------------
  var live = (function () {
    var url = body.dataset.live, out = doc.getElementById("presence");
    var quiet = navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
    var api = { names: {}, onWatch: function () {}, onSpark: function () {}, view: function () {}, interact: function () {} };
    if (!url || !window.WebSocket) return api;
    var ws = null, tries = 0, current = null, first = true;
    function send(msg) { if (quiet || !ws || ws.readyState !== 1) return false; ws.send(JSON.stringify(msg)); return true; }
    function sendView() {
      var msg = { type: "view", project: current };
      if (first && doc.referrer) { try { msg.referrer = new URL(doc.referrer).host; } catch (e) { /* no host */ } }
      if (send(msg)) first = false; // the referrer goes with the first view actually sent
    }
    function show(visitors, projects) {
      if (!out) return;
      if (!visitors) { out.textContent = ""; return; }
      var text = visitors === 1 ? "1 person here" : visitors + " people here";
      var top = null;
      Object.keys(projects).forEach(function (id) { if (projects[id] > 0 && (!top || projects[id] > projects[top])) top = id; });
      if (current && projects[current]) text += " · " + projects[current] + " on this plant";
      else if (top) text += " · " + projects[top] + " at " + (api.names[top] || top);
      out.textContent = text;
    }
    function connect() {
      try { ws = new WebSocket(url); } catch (e) { return retry(); }
      ws.onopen = function () { tries = 0; sendView(); };
      ws.onmessage = function (ev) {
        var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (!msg || typeof msg !== "object") return;
        if (msg.type === "welcome" || msg.type === "presence") {
          var projects = msg.projects && typeof msg.projects === "object" ? msg.projects : {};
          show(+msg.visitors || 0, projects);
          api.onWatch(projects);
        } else if (msg.type === "interaction") {
          api.onSpark(msg.project);
        } else if (msg.type === "garden_updated" && out) {
          out.textContent = "The garden has grown: reload to see it.";
        }
      };
      ws.onclose = function () { ws = null; show(0, {}); api.onWatch({}); retry(); };
      ws.onerror = function () { /* onclose follows */ };
    }
    function retry() {
      // exponential backoff with full jitter, so a restarted sidecar is not stampeded
      var wait = M.min(30000, 1000 * M.pow(2, tries++)) * (0.5 + M.random() / 2);
      setTimeout(connect, wait);
    }
    api.view = function (id) { current = id; sendView(); };
    doc.addEventListener("click", function (ev) {
      var el = ev.target.closest && ev.target.closest("[data-action]");
      if (el && current) send({ type: "interact", project: current, action: el.dataset.action });
    });
    connect();
    return api;
  })();

  var article = doc.querySelector("article[data-project]");
  if (article) { live.view(article.dataset.project); chart(article); }

  // project page: a readout under the growth chart, from the project's API document
  function chart(el) {
    var svg = el.querySelector(".chart svg"), out = el.querySelector(".readout");
    if (!svg || !out) return;
    fetch(el.dataset.api).then(function (r) { return r.json(); }).then(function (d) {
      var points = d.history || [], mark = doc.createElementNS("http://www.w3.org/2000/svg", "line");
      if (!points.length) return;
      mark.setAttribute("vector-effect", "non-scaling-stroke"); mark.setAttribute("y1", "0"); mark.setAttribute("y2", "1");
      function at(ev) {
        var r = svg.getBoundingClientRect(), i = M.round((ev.clientX - r.left) / r.width * (points.length - 1));
        var p = points[M.max(0, M.min(points.length - 1, i))];
        mark.setAttribute("x1", String(i)); mark.setAttribute("x2", String(i)); svg.appendChild(mark);
        out.textContent = p.date + ": " + p.stage + ", growth " + M.round(p.growth * 100) + "%, health " + M.round(p.health * 100) + "%";
      }
      svg.addEventListener("pointermove", at);
      svg.addEventListener("pointerleave", function () { mark.remove(); out.textContent = ""; });
    }).catch(function () { /* the static chart stays */ });
  }
  var sky = doc.querySelector("svg.constellation");
  if (sky && !reduced) constellation(sky);

  // skills page: the constellation turns slowly about its vertical axis (skipped for reduced motion)
  function constellation(svg) {
    var stars = svg.querySelectorAll("g.star"), lines = svg.querySelectorAll("line");
    fetch(svg.dataset.api).then(function (r) { return r.json(); }).then(function (d) {
      var nodes = d.nodes || [], edges = d.edges || [], index = {}, a = 0;
      if (nodes.length !== stars.length || edges.length !== lines.length) return;
      nodes.forEach(function (n, i) { index[n.id] = i; });
      function turn() {
        var c = M.cos(a), s = M.sin(a), xs = nodes.map(function (n) { return n.position.x * c + n.position.y * s; });
        nodes.forEach(function (n, i) {
          var depth = (n.position.y * c - n.position.x * s) / 12, g = stars[i];
          g.querySelector("circle").setAttribute("cx", xs[i].toFixed(3));
          g.querySelector("text").setAttribute("x", xs[i].toFixed(3));
          g.setAttribute("opacity", (0.75 + 0.25 * M.max(-1, M.min(1, -depth))).toFixed(2));
        });
        edges.forEach(function (e, i) { lines[i].setAttribute("x1", xs[index[e.source]].toFixed(3)); lines[i].setAttribute("x2", xs[index[e.target]].toFixed(3)); });
        a += 0.003;
        requestAnimationFrame(turn);
      }
      turn();
    }).catch(function () { /* the still constellation stays */ });
  }

  var sceneBox = doc.getElementById("scene");
  if (!sceneBox) return;
  live.view(null);

  // -- the 3D garden --------------------------------------------------------
  var canvas = doc.createElement("canvas"), ctx = canvas.getContext("2d");
  if (!ctx) return;
  var svg = sceneBox.querySelector("svg"), tip = doc.createElement("div");
  canvas.setAttribute("aria-hidden", "true");
  tip.className = "tip"; tip.hidden = true; tip.setAttribute("aria-hidden", "true");
  var links = {}, plants = [], byId = {}, weather = SKY.sunny, wind = 0.3, energy = 0.5, valence = 0.5;
  var cam = { yaw: -0.6, pitch: 0.6, dist: 80, cx: 0, cz: 0, r: 30 };
  var W = 0, H = 0, dpr = 1, focus = null, hover = null, sparks = {}, tufts = [], drops = [], clouds = [];
  var dirty = true, idle = 0, t0 = performance.now(), hills = [];
  sceneBox.querySelectorAll("a.plant").forEach(function (a) { links[a.dataset.id] = a; });

  function rand(seed) { return function () { seed = (seed * 16807) % 2147483647; return (seed - 1) / 2147483646; }; }

  function load(garden) {
    var w = garden.weather || {};
    weather = SKY[w.condition] || SKY.sunny;
    var k = typeof w.intensity === "number" ? w.intensity : 0.5;
    var mood = w.mood || {};
    energy = typeof mood.energy === "number" ? mood.energy : 0.5;
    valence = typeof mood.valence === "number" ? mood.valence : 0.5;
    wind = 0.15 + k * (w.condition === "stormy" ? 1 : 0.45) + energy * 0.25;
    weather = weather.slice(); weather[3] *= k + 0.3; weather[4] *= k + 0.3;
    plants = (garden.plants || []).map(function (p) {
      var pos = p.position || {};
      var item = { id: String(p.id), name: String(p.name), species: SPECIES[p.species] ? p.species : "moss",
        stage: p.stage, growth: +p.growth || 0, health: +p.health || 0, height: +p.height || 0,
        x: +pos.x || 0, y: +pos.y || 0, z: +pos.z || 0, visible: true, phase: M.random() * 6.28,
        href: links[p.id] ? links[p.id].getAttribute("href") : base + "projects/" + p.id + "/" };
      byId[item.id] = item; live.names[item.id] = item.name;
      return item;
    });
    var minx = 1e9, maxx = -1e9, minz = 1e9, maxz = -1e9;
    plants.forEach(function (p) { minx = M.min(minx, p.x); maxx = M.max(maxx, p.x); minz = M.min(minz, p.z); maxz = M.max(maxz, p.z); });
    if (!plants.length) { minx = minz = -5; maxx = maxz = 5; }
    cam.cx = (minx + maxx) / 2; cam.cz = (minz + maxz) / 2;
    cam.r = M.max(8, M.sqrt(M.pow(maxx - minx, 2) + M.pow(maxz - minz, 2)) / 2 + 6);
    cam.dist = cam.r * 1.75;
    var rnd = rand(7);
    for (var i = 0; i < 220; i++) {
      var a = rnd() * 6.283, d = M.sqrt(rnd()) * cam.r * 0.97;
      tufts.push([cam.cx + M.cos(a) * d, cam.cz + M.sin(a) * d, rnd()]);
    }
    for (i = 0; i < 26; i++) hills.push(rnd());
    for (i = 0; i < weather[6]; i++) clouds.push([rnd(), 0.05 + rnd() * 0.3, 0.6 + rnd() * 0.8]);
    var n = M.round(160 * M.max(weather[3], weather[4]));
    for (i = 0; i < n; i++) drops.push([rnd(), rnd(), 0.5 + rnd()]);
    state.plants = plants.length;
    state.weather = w.condition || "sunny";
    svg.classList.add("sr-map");
    sceneBox.insertBefore(canvas, svg);
    sceneBox.appendChild(tip);
    resize(); bind(); frame();
  }

  function resize() {
    dpr = M.min(2, window.devicePixelRatio || 1);
    W = canvas.clientWidth || 600; H = canvas.clientHeight || 400;
    canvas.width = M.round(W * dpr); canvas.height = M.round(H * dpr);
    dirty = true;
  }

  // world (x, y up, z) → screen px and pixels-per-unit at that depth
  function project(x, y, z) {
    var dx = x - cam.cx, dz = z - cam.cz, c = M.cos(cam.yaw), s = M.sin(cam.yaw);
    var rx = dx * c - dz * s, rz = dx * s + dz * c, cp = M.cos(cam.pitch), sp = M.sin(cam.pitch);
    var d = rz * cp - y * sp + cam.dist, u = rz * sp + y * cp, f = M.min(H * 1.5, W * 0.95);
    if (d < 1) d = 1;
    return [W / 2 + f * rx / d, H * 0.58 - f * u / d, f / d, d];
  }

  function poly(pts, fill) { ctx.beginPath(); ctx.moveTo(pts[0], pts[1]); for (var i = 2; i < pts.length; i += 2) ctx.lineTo(pts[i], pts[i + 1]); ctx.closePath(); ctx.fillStyle = fill; ctx.fill(); }
  function blob(x, y, r, sides, fill, dark) { // a low-poly ball, lit from the upper left
    var pts = [], pts2 = [x, y];
    for (var i = 0; i < sides; i++) { var a = i / sides * 6.283 + 0.3; pts.push(x + M.cos(a) * r, y + M.sin(a) * r * 0.9); }
    poly(pts, fill);
    for (i = 0; i <= sides / 2; i++) { a = i / sides * 6.283 + 0.3 - 0.4; pts2.push(x + M.cos(a) * r, y + M.sin(a) * r * 0.9); }
    poly(pts2, dark);
  }
  function line(x1, y1, x2, y2, w, col, cx, cy) { ctx.beginPath(); ctx.moveTo(x1, y1); if (cx === undefined) ctx.lineTo(x2, y2); else ctx.quadraticCurveTo(cx, cy, x2, y2); ctx.lineWidth = w; ctx.strokeStyle = col; ctx.stroke(); }
  function flower(x, y, r, col) { blob(x, y, r, 5, col, mix(col, "#000000", 0.15)); blob(x, y, r * 0.35, 5, "#fff3b0", "#e9c84a"); }

  var DRAW = {
    pine: function (h, L, D, F, bloom) {
      ctx.fillStyle = "#6b4a2b"; ctx.fillRect(-h * 0.03, -h * 0.2, h * 0.06, h * 0.2);
      for (var i = 0; i < 4; i++) {
        var b = -h * (0.15 + i * 0.2), w = h * (0.32 - i * 0.06), top = b - h * 0.34;
        poly([-w, b, 0, top, 0, b], L); poly([0, top, w, b, 0, b], D);
        if (bloom) flower(w * 0.6, b - 3, h * 0.03, F);
      }
    },
    oak: function (h, L, D, F, bloom) {
      poly([-h * 0.05, 0, h * 0.05, 0, h * 0.03, -h * 0.55, -h * 0.03, -h * 0.55], "#6b4a2b");
      var balls = [[-0.2, -0.55, 0.24], [0.2, -0.58, 0.24], [0, -0.78, 0.28]];
      balls.forEach(function (b) { blob(b[0] * h, b[1] * h, b[2] * h, 7, L, D); });
      if (bloom) for (var i = 0; i < 7; i++) flower(M.cos(i * 2.4) * h * 0.3, -h * 0.68 + M.sin(i * 2.4) * h * 0.18, h * 0.035, F);
    },
    bamboo: function (h, L, D, F, bloom) {
      [[-0.1, 1], [0.06, 0.85], [0.16, 0.7]].forEach(function (s, k) {
        var x = s[0] * h, top = -h * s[1];
        line(x, 0, x, top, M.max(2, h * 0.045), k ? D : L);
        for (var y = -h * 0.18; y > top; y -= h * 0.18) { line(x - h * 0.03, y, x + h * 0.03, y, 1, "#3d5a1e"); line(x, y, x + (k % 2 ? -1 : 1) * h * 0.14, y - h * 0.06, M.max(1.5, h * 0.02), L); }
        if (bloom) flower(x, top, h * 0.035, F);
      });
    },
    cactus: function (h, L, D, F, bloom) {
      var w = h * 0.13;
      poly([-w, 0, -w, -h * 0.85, 0, -h, 0, 0], L); poly([0, 0, 0, -h, w, -h * 0.85, w, 0], D);
      poly([-w, -h * 0.4, -w * 2.6, -h * 0.45, -w * 2.6, -h * 0.7, -w * 1.8, -h * 0.7, -w * 1.8, -h * 0.5, -w, -h * 0.5], L);
      poly([w, -h * 0.55, w * 2.4, -h * 0.6, w * 2.4, -h * 0.82, w * 1.7, -h * 0.82, w * 1.7, -h * 0.65, w, -h * 0.65], D);
      if (bloom) { flower(0, -h, w * 0.9, F); flower(-w * 2.2, -h * 0.72, w * 0.6, F); }
    },
    sunflower: function (h, L, D, F, bloom) {
      line(0, 0, 0, -h * 0.85, M.max(2, h * 0.04), D, h * 0.06, -h * 0.4);
      poly([0, -h * 0.35, -h * 0.22, -h * 0.42, -h * 0.05, -h * 0.47], L); poly([0, -h * 0.55, h * 0.2, -h * 0.6, h * 0.04, -h * 0.66], D);
      if (bloom) {
        var r = h * 0.16, pts = [];
        for (var i = 0; i < 24; i++) { var a = i / 24 * 6.283, q = i % 2 ? r : r * 0.55; pts.push(M.cos(a) * q, -h * 0.88 + M.sin(a) * q); }
        poly(pts, F); blob(0, -h * 0.88, r * 0.5, 8, "#6b3e1e", "#4f2c14");
      } else blob(0, -h * 0.88, h * 0.06, 6, L, D);
    },
    lavender: function (h, L, D, F, bloom) {
      for (var i = -3; i <= 3; i++) {
        var x = i * h * 0.07, top = -h * (0.95 - M.abs(i) * 0.07);
        line(0, 0, x, top, M.max(1, h * 0.015), i % 2 ? L : D, x * 0.3, top * 0.5);
        for (var j = 0; j < 4; j++) blob(x, top + j * h * 0.05, h * 0.03, 5, bloom ? F : L, bloom ? mix(F, "#000000", 0.2) : D);
      }
    },
    fern: function (h, L, D, F, bloom) {
      for (var i = 0; i < 7; i++) {
        var a = -2.6 + i * 0.35, ex = M.cos(a) * h * 0.6, ey = M.sin(a) * h * 0.9 * 0.9;
        line(0, 0, ex, ey, M.max(1.5, h * 0.02), i % 2 ? L : D, ex * 0.2, ey * 1.2);
        for (var j = 1; j < 5; j++) { var px = ex * j / 5, py = ey * j / 5 - (1 - j / 5) * h * 0.1; blob(px, py, h * 0.05, 4, i % 2 ? L : D, D); }
        if (bloom) flower(ex, ey, h * 0.025, F);
      }
    },
    rose: function (h, L, D, F, bloom) {
      [[-0.22, -0.3, 0.24], [0.2, -0.32, 0.24], [0, -0.5, 0.28], [0.05, -0.2, 0.2]].forEach(function (b) { blob(b[0] * h, b[1] * h, b[2] * h, 6, L, D); });
      if (bloom) for (var i = 0; i < 6; i++) flower(M.cos(i * 2.1) * h * 0.25, -h * 0.4 + M.sin(i * 2.1) * h * 0.2, h * 0.07, F);
    },
    moss: function (h, L, D, F, bloom) {
      var w = M.max(h, 14) * 0.5;
      for (var i = -2; i <= 2; i++) blob(i * w * 0.35, -w * 0.1, w * (0.45 - M.abs(i) * 0.07), 6, L, D);
      if (bloom) for (i = 0; i < 7; i++) { var x = (i - 3) * w * 0.22; line(x, -w * 0.3, x, -w * 0.75, 1, "#8a6a2a"); flower(x, -w * 0.78, w * 0.07, F); }
    },
    ivy: function (h, L, D, F, bloom) {
      line(0, 0, 0, -h, M.max(1.5, h * 0.025), "#8b6b3d");
      for (var i = 0; i < 8; i++) {
        var y = -h * (0.1 + i * 0.11), x = (i % 2 ? 1 : -1) * h * 0.09;
        line(0, y + h * 0.05, x, y, 1.2, D); blob(x, y, h * 0.07, 5, i % 3 ? L : D, D);
        if (bloom && i % 2) flower(x * 1.6, y, h * 0.03, F);
      }
    }
  };

  function drawPlant(p, t, s) {
    var spec = SPECIES[p.species], dormant = p.stage === "dormant";
    var h = (2.6 + 6.5 * p.height) * s, leaf = mix(spec[0], "#a89f6c", (1 - p.health) * 0.45);
    if (dormant) leaf = mix(spec[0], "#8a7a62", 0.75);
    var L = mix(leaf, "#ffffff", 0.12), D = mix(leaf, "#0b1a0b", 0.3), F = spec[1];
    // soil patch
    ctx.fillStyle = "rgba(80,55,30,0.35)"; ctx.beginPath(); ctx.ellipse(0, 0, s * 1.8, s * 0.7, 0, 0, 6.283); ctx.fill();
    var sway = reduced ? 0 : M.sin(t * (0.8 + energy) + p.phase) * wind * 0.06;
    ctx.save();
    if (dormant) { ctx.transform(1, 0, 0.35, 0.8, 0, 0); } // leaning, drooping, shrunken
    ctx.transform(1, 0, -sway, 1, 0, 0); // the top moves more than the base: a skew is a sway
    if (p.stage === "seed") {
      blob(0, -s * 0.15, s * 0.35, 6, "#8b6b3d", "#5e4526");
      blob(s * 0.1, -s * 0.4, s * 0.14, 5, "#d9b77a", "#a7844a");
    } else if (p.stage === "sprout") {
      var hh = M.max(h * 0.5, s * 1.2);
      line(0, 0, 0, -hh, M.max(1.5, s * 0.1), D, s * 0.2, -hh * 0.5);
      poly([0, -hh, -hh * 0.45, -hh * 1.15, -hh * 0.1, -hh * 0.9], L);
      poly([0, -hh, hh * 0.45, -hh * 1.15, hh * 0.1, -hh * 0.9], D);
    } else {
      DRAW[p.species](p.stage === "sapling" ? h * 0.8 : h, L, D, F, p.stage === "blooming");
    }
    ctx.restore();
    return h;
  }

  function frame() {
    var now = performance.now(), t = (now - t0) / 1000;
    if (!reduced && idle++ > 120 && !drag.on) cam.yaw += 0.0012; // a slow stroll round the garden
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    var sky = ctx.createLinearGradient(0, 0, 0, H);
    sky.addColorStop(0, weather[0]); sky.addColorStop(0.62, weather[1]); sky.addColorStop(1, mix(weather[1], "#6f8a5a", 0.5));
    ctx.fillStyle = sky; ctx.fillRect(0, 0, W, H);
    if (state.weather === "sunny") blob(W * 0.82, H * 0.16, 28, 12, "#fff4c2", "#ffe58a");
    clouds.forEach(function (c) {
      var x = ((c[0] + (reduced ? 0 : t * 0.004 * wind * c[2])) % 1.2 - 0.1) * W, y = c[1] * H, r = 26 * c[2];
      var col = mix(weather[1], "#ffffff", weather[2] < 0.9 ? 0 : 0.4), dark = mix(weather[0], weather[1], 0.35);
      blob(x, y, r, 7, col, dark); blob(x + r, y + 4, r * 0.8, 7, col, dark); blob(x - r, y + 6, r * 0.7, 7, col, dark);
    });
    // distant hills, two low-poly layers fading into the sky
    [[0.34, 0.3], [0.42, 0.5]].forEach(function (layer, k) {
      var pts = [0, H], y0 = H * layer[0];
      for (var i = 0; i <= 12; i++) pts.push(i / 12 * W, y0 - (hills[i + k * 13] || 0) * H * 0.08);
      pts.push(W, H); poly(pts, mix(weather[1], "#4f6f4a", layer[1]));
    });
    // the garden island: a thick disc of soil with grass on top
    var rim = [], top = [];
    for (var i = 0; i < 48; i++) {
      var a = i / 48 * 6.283, x = cam.cx + M.cos(a) * cam.r, z = cam.cz + M.sin(a) * cam.r;
      var p1 = project(x, -2.5, z), p2 = project(x, 0, z); rim.push(p1[0], p1[1]); top.push(p2[0], p2[1]);
    }
    poly(rim, "#6b4f33");
    var grass = state.weather === "snowy" ? "#e8eef0" : mix("#6fae4f", "#8a8f5a", 1 - valence);
    var ys = top.filter(function (v, j) { return j % 2; }), gy = ctx.createLinearGradient(0, M.min.apply(M, ys), 0, M.max.apply(M, ys));
    gy.addColorStop(0, mix(grass, "#2f4f2a", 0.25)); gy.addColorStop(1, mix(grass, "#d8f0a0", 0.25));
    poly(top, gy);
    ctx.lineWidth = 1.2;
    tufts.forEach(function (g) {
      var q = project(g[0], 0, g[1]), k = q[2];
      if (g[2] > 0.9) { ctx.fillStyle = g[2] > 0.95 ? "#f7f2c8" : "#e8a0c0"; ctx.fillRect(q[0], q[1] - k * 0.3, k * 0.25, k * 0.25); return; }
      line(q[0], q[1], q[0] - k * 0.2, q[1] - k * 0.5, 1, "#4d8a3a"); line(q[0], q[1], q[0] + k * 0.15, q[1] - k * 0.6, 1, "#5c9a45");
    });
    // plants back to front
    var order = plants.filter(function (p) { return p.visible; }).map(function (p) { return [p, project(p.x, p.y, p.z)]; });
    order.sort(function (a, b) { return b[1][3] - a[1][3]; });
    var fog = weather[5], screen = {};
    order.forEach(function (e) {
      var p = e[0], q = e[1], s = q[2], glow = state.watched[p.id] || sparks[p.id] > now || focus === p.id || hover === p.id;
      ctx.save();
      ctx.translate(q[0], q[1]);
      if (glow) {
        var g = ctx.createRadialGradient(0, -s * 2, 0, 0, -s * 2, s * 6);
        g.addColorStop(0, focus === p.id || hover === p.id ? "rgba(255,255,255,0.75)" : "rgba(255,225,110,0.8)"); g.addColorStop(1, "rgba(255,225,110,0)");
        ctx.fillStyle = g; ctx.fillRect(-s * 6, -s * 8, s * 12, s * 12);
      }
      var h = drawPlant(p, t, s);
      ctx.restore();
      var w = M.max(h * 0.6, s * 2, 18), hh = M.max(h, 18);
      screen[p.id] = { x: q[0], y: q[1] - hh / 2, w: w, h: hh, depth: q[3] };
      if (focus === p.id) { ctx.strokeStyle = "#8a3b5c"; ctx.lineWidth = 3; ctx.strokeRect(q[0] - w / 2 - 4, q[1] - hh - 4, w + 8, hh + 8); }
    });
    if (fog) { var f = ctx.createLinearGradient(0, H * 0.3, 0, H); f.addColorStop(0, "rgba(235,238,236," + fog + ")"); f.addColorStop(1, "rgba(235,238,236," + fog * 0.25 + ")"); ctx.fillStyle = f; ctx.fillRect(0, 0, W, H); }
    // weather particles: screen space, slanted by the wind
    if (drops.length) {
      var snow = weather[4] > 0;
      ctx.strokeStyle = "rgba(210,225,240,0.6)"; ctx.fillStyle = "rgba(255,255,255,0.9)"; ctx.lineWidth = 1;
      ctx.beginPath();
      drops.forEach(function (d) {
        var y = ((d[1] + (reduced ? 0 : t * (snow ? 0.05 : 0.9) * d[2])) % 1) * H;
        var x = ((d[0] + (reduced ? 0 : snow ? M.sin(t + d[2] * 9) * 0.01 : 0) + y / H * wind * 0.1) % 1) * W;
        if (snow) { ctx.moveTo(x + 2 * d[2], y); ctx.arc(x, y, 2 * d[2], 0, 6.283); } else { ctx.moveTo(x, y); ctx.lineTo(x - wind * 6, y + 12 * d[2]); }
      });
      if (snow) ctx.fill(); else ctx.stroke();
    }
    // light and mood: darker under heavy weather, warmer when the music is happy
    if (weather[2] < 1) { ctx.fillStyle = "rgba(15,25,40," + (1 - weather[2]) * 0.6 + ")"; ctx.fillRect(0, 0, W, H); }
    ctx.fillStyle = valence > 0.5 ? "rgba(255,170,60," + (valence - 0.5) * 0.16 + ")" : "rgba(60,90,170," + (0.5 - valence) * 0.16 + ")";
    ctx.fillRect(0, 0, W, H);
    if (state.weather === "stormy" && !reduced && M.sin(t * 0.7) > 0.995) { ctx.fillStyle = "rgba(255,255,255,0.35)"; ctx.fillRect(0, 0, W, H); }
    state.screen = screen; state.drawn = order.length; state.frames++; state.focus = focus;
    state.camera = { yaw: cam.yaw, pitch: cam.pitch, dist: cam.dist };
    if (state.firstFrame === null) { state.firstFrame = now; canvas.dataset.ready = "1"; }
    dirty = false;
    if (!reduced) requestAnimationFrame(frame);
  }
  function redraw() { if (reduced && !dirty) { dirty = true; requestAnimationFrame(frame); } }

  function pick(x, y) {
    var best = null;
    Object.keys(state.screen).forEach(function (id) {
      var r = state.screen[id];
      if (M.abs(x - r.x) <= r.w / 2 && M.abs(y - r.y) <= r.h / 2 && (!best || r.depth < state.screen[best].depth)) best = id;
    });
    return best;
  }

  var drag = { on: false, moved: 0, pts: {} };
  function bind() {
    window.addEventListener("resize", function () { resize(); redraw(); });
    canvas.addEventListener("pointerdown", function (ev) {
      drag.pts[ev.pointerId] = [ev.clientX, ev.clientY];
      drag.on = true; drag.moved = 0; idle = 0;
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", function (ev) {
      var r = canvas.getBoundingClientRect(), last = drag.pts[ev.pointerId];
      if (!last) {
        var id = pick(ev.clientX - r.left, ev.clientY - r.top);
        if (id !== hover) { hover = id; canvas.style.cursor = id ? "pointer" : "grab"; showTip(id); redraw(); }
        return;
      }
      var ids = Object.keys(drag.pts), dx = ev.clientX - last[0], dy = ev.clientY - last[1];
      if (ids.length === 2) { // pinch: the change in finger distance zooms
        var o = drag.pts[ids[0] === String(ev.pointerId) ? ids[1] : ids[0]];
        var before = M.hypot(last[0] - o[0], last[1] - o[1]), after = M.hypot(ev.clientX - o[0], ev.clientY - o[1]);
        zoom(before / M.max(after, 1));
      } else {
        cam.yaw -= dx * 0.008; cam.pitch = M.max(0.12, M.min(1.3, cam.pitch + dy * 0.005));
      }
      drag.moved += M.abs(dx) + M.abs(dy);
      drag.pts[ev.pointerId] = [ev.clientX, ev.clientY];
      redraw();
    });
    function up(ev) {
      if (drag.pts[ev.pointerId] && drag.moved < 6 && Object.keys(drag.pts).length === 1) {
        var r = canvas.getBoundingClientRect(), id = pick(ev.clientX - r.left, ev.clientY - r.top);
        if (id) window.location.href = byId[id].href;
      }
      delete drag.pts[ev.pointerId];
      drag.on = Object.keys(drag.pts).length > 0;
    }
    canvas.addEventListener("pointerup", up);
    canvas.addEventListener("pointercancel", up);
    canvas.addEventListener("pointerleave", function () { hover = null; showTip(null); redraw(); });
    canvas.addEventListener("wheel", function (ev) { ev.preventDefault(); idle = 0; zoom(M.exp(ev.deltaY * 0.001)); }, { passive: false });
    // keyboard: the (visually hidden) map links and the list stay focusable; focus lights the plant up
    doc.addEventListener("focusin", function (ev) {
      var a = ev.target.closest && ev.target.closest("a"), id = a && a.getAttribute("href");
      focus = null;
      plants.forEach(function (p) { if (p.href === id) focus = p.id; });
      showTip(focus); redraw();
    });
    live.onWatch = function (projects) {
      state.watched = {};
      Object.keys(links).forEach(function (id) {
        var on = projects[id] > 0;
        if (on) state.watched[id] = projects[id];
        links[id].classList.toggle("watched", on);
      });
      redraw();
    };
    live.onSpark = function (id) { sparks[id] = performance.now() + 2000; redraw(); };
  }
  function zoom(k) { cam.dist = M.max(cam.r * 0.6, M.min(cam.r * 5, cam.dist * k)); redraw(); }
  function showTip(id) {
    var r = id && state.screen[id], p = id && byId[id];
    if (!r) { tip.hidden = true; return; }
    tip.textContent = p.name + " · " + p.stage;
    tip.hidden = false;
    tip.style.left = r.x + "px"; tip.style.top = r.y - r.h / 2 - 8 + "px";
  }

  // -- time-lapse: history snapshots drive both the 3D scene and the SVG map ---
  var controls = doc.getElementById("controls"), slider = doc.getElementById("timeline");
  var label = doc.getElementById("timeline-date"), play = doc.getElementById("timelapse");
  function apply(snapshot) {
    var present = {};
    (snapshot.plants || []).forEach(function (s) {
      present[s.id] = true;
      var p = byId[s.id], a = links[s.id];
      if (p) { p.stage = s.stage; p.growth = +s.growth || 0; p.health = +s.health || 0; p.height = +s.height || 0; p.visible = true; }
      if (a) {
        a.setAttribute("class", "plant stage-" + s.stage);
        a.querySelector("circle").setAttribute("r", (0.18 + 0.3 * (+s.growth || 0)).toFixed(3));
        a.style.display = "";
      }
    });
    plants.forEach(function (p) { if (!present[p.id]) { p.visible = false; if (links[p.id]) links[p.id].style.display = "none"; } });
    label.textContent = snapshot.date;
    state.snapshot = snapshot.date;
    redraw();
  }
  function timelapse(index) {
    var snaps = index.snapshots || [];
    if (!snaps.length || !controls) return;
    controls.hidden = false;
    slider.max = String(snaps.length - 1);
    slider.value = String(snaps.length - 1);
    label.textContent = snaps[snaps.length - 1].date;
    var cache = {}, timer = null, i = 0;
    function show(k) {
      var item = snaps[k];
      if (cache[item.date]) return Promise.resolve(apply(cache[item.date]));
      return fetch(local(item.url)).then(function (r) { return r.json(); })
        .then(function (d) { cache[item.date] = d; apply(d); });
    }
    function stop() { clearTimeout(timer); timer = null; play.setAttribute("aria-pressed", "false"); play.textContent = "Play time-lapse"; }
    function step() {
      slider.value = String(i);
      show(i).then(function () {
        i += 1;
        if (i >= snaps.length || !timer) return stop();
        timer = setTimeout(step, reduced ? 1000 : 120);
      }, stop);
    }
    slider.addEventListener("input", function () { show(Number(slider.value)); });
    play.addEventListener("click", function () {
      if (timer) return stop();
      play.setAttribute("aria-pressed", "true"); play.textContent = "Pause time-lapse";
      i = Number(slider.value) >= snaps.length - 1 ? 0 : Number(slider.value);
      timer = 1; step();
    });
  }

  fetch(sceneBox.dataset.garden).then(function (r) { return r.json(); }).then(function (garden) {
    load(garden);
    return fetch(sceneBox.dataset.history).then(function (r) { return r.json(); }).then(timelapse);
  }).catch(function () { /* the static map stays as it is */ });
})();
