// greenhouse default theme: progressive enhancement of the server-rendered pages.
// Without JavaScript the map, the plant list and every link work. With it: live presence on
// every page, the project chart's readout, the turning skills constellation, and on the index
// the <greenhouse-garden> element (static/greenhouse-garden.js, the one garden renderer) gets
// presence from here. No framework, no network beyond this site and the optional live sidecar;
// data only ever reaches the DOM through textContent.
(function () {
  "use strict";
  var doc = document, body = doc.body, M = Math;
  var reduced = !!(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
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
          api.last = projects;
          api.onWatch(projects);
        } else if (msg.type === "interaction") {
          api.onSpark(msg.project);
        } else if (msg.type === "garden_updated" && out) {
          out.textContent = "The garden has grown: reload to see it.";
        }
      };
      ws.onclose = function () { ws = null; show(0, {}); api.last = {}; api.onWatch({}); retry(); };
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
  // skills page: the constellation turns slowly about its vertical axis, only while it is on
  // screen in a visible tab and motion is welcome; labels that would collide are hidden
  var sky = doc.querySelector("svg.constellation");
  if (sky && !reduced) constellation(sky);

  function constellation(svg) {
    var stars = svg.querySelectorAll("g.star"), lines = svg.querySelectorAll("line");
    fetch(svg.dataset.api).then(function (r) { return r.json(); }).then(function (d) {
      var nodes = d.nodes || [], edges = d.edges || [], index = {}, a = 0, raf = 0, onscreen = true, last = 0;
      if (nodes.length !== stars.length || edges.length !== lines.length) return;
      nodes.forEach(function (n, i) { index[n.id] = i; });
      var circles = [], texts = [], radius = [], rank = nodes.map(function (n, i) { return i; });
      stars.forEach(function (g, i) { circles.push(g.querySelector("circle")); texts.push(g.querySelector("text")); radius.push(+circles[i].getAttribute("r")); });
      rank.sort(function (i, j) { return nodes[j].uses - nodes[i].uses || (nodes[i].id < nodes[j].id ? -1 : 1); });
      var state = svg.__turn = { frames: 0, running: false };
      function labels(xs) { // most-used first; a label that would overlap one already shown, or a star, waits for hover
        var boxes = [];
        rank.forEach(function (i) {
          var y = +circles[i].getAttribute("cy"), half = nodes[i].name.length * 0.13, b = [xs[i] - half, y - radius[i] - 0.53, xs[i] + half, y - radius[i] - 0.08];
          var free = boxes.every(function (o) { return b[2] <= o[0] || o[2] <= b[0] || b[3] <= o[1] || o[3] <= b[1]; }) &&
            nodes.every(function (n, j) { var cy = +circles[j].getAttribute("cy"); return j === i || b[2] <= xs[j] - radius[j] || xs[j] + radius[j] <= b[0] || b[3] <= cy - radius[j] || cy + radius[j] <= b[1]; });
          if (free) boxes.push(b);
          stars[i].classList.toggle("named", free);
        });
      }
      function turn(now) {
        raf = 0;
        var c = M.cos(a), s = M.sin(a), xs = nodes.map(function (n) { return n.position.x * c + n.position.y * s; });
        nodes.forEach(function (n, i) {
          var depth = (n.position.y * c - n.position.x * s) / 12;
          circles[i].setAttribute("cx", xs[i].toFixed(3));
          texts[i].setAttribute("x", xs[i].toFixed(3));
          stars[i].setAttribute("opacity", (0.75 + 0.25 * M.max(-1, M.min(1, -depth))).toFixed(2));
        });
        edges.forEach(function (e, i) { lines[i].setAttribute("x1", xs[index[e.source]].toFixed(3)); lines[i].setAttribute("x2", xs[index[e.target]].toFixed(3)); });
        if (now - last > 250) { labels(xs); last = now; }
        a += 0.003; state.frames++;
        run();
      }
      function run() {
        var go = onscreen && doc.visibilityState !== "hidden";
        if (go && !raf) raf = requestAnimationFrame(turn);
        if (!go && raf) { cancelAnimationFrame(raf); raf = 0; }
        state.running = go;
      }
      if (window.IntersectionObserver) new IntersectionObserver(function (entries) { onscreen = entries[entries.length - 1].isIntersecting; run(); }).observe(svg);
      doc.addEventListener("visibilitychange", run);
      run();
    }).catch(function () { /* the still constellation stays */ });
  }

  // index: the garden element gets presence and sparks; its keyboard help shows once it is drawn
  var garden = doc.querySelector("greenhouse-garden");
  if (!garden) return;
  live.view(null);
  function ready() {
    var keys = doc.getElementById("garden-keys");
    if (keys) keys.hidden = false;
    garden.plants.forEach(function (p) { live.names[p.id] = p.name; });
    live.onWatch = function (projects) { garden.watch(projects); };
    live.onSpark = function (id) { garden.spark(id); };
    if (live.last) garden.watch(live.last);
  }
  if (garden.state && garden.state.plants) ready(); else garden.addEventListener("greenhouse-ready", ready);
})();
