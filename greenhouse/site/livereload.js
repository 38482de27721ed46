// greenhouse serve: live reload and the build-error overlay. Injected by `greenhouse serve`
// only; never part of a built bundle. Text reaches the DOM through textContent only.
(function () {
  "use strict";
  var me = document.currentScript, version = me ? Number(new URL(me.src).searchParams.get("v")) : null;
  var box = null;
  function clear() { if (box) { box.remove(); box = null; } }
  function overlay(err) {
    clear();
    box = document.createElement("div");
    box.id = "greenhouse-error";
    box.setAttribute("role", "alert");
    var s = box.style;
    s.position = "fixed"; s.inset = "0"; s.zIndex = "2147483647"; s.overflow = "auto";
    s.background = "rgba(20,10,10,0.92)"; s.color = "#ffe9e9"; s.padding = "2rem"; s.font = "14px/1.5 ui-monospace,monospace";
    var h = document.createElement("h2");
    h.textContent = "Build failed: " + err.message;
    h.style.color = "#ff9b9b";
    box.appendChild(h);
    if (err.file) {
      var where = document.createElement("p");
      where.className = "where";
      where.textContent = err.file + (err.line ? ":" + err.line : "");
      box.appendChild(where);
    }
    if (err.lines && err.lines.length) {
      var pre = document.createElement("pre");
      err.lines.forEach(function (l) {
        var row = document.createElement("div");
        row.textContent = String(l[0]).padStart(5, " ") + "  " + l[1];
        if (l[0] === err.line) { row.style.background = "#7a1f1f"; row.style.color = "#fff"; }
        pre.appendChild(row);
      });
      box.appendChild(pre);
    }
    var note = document.createElement("p");
    note.textContent = "The last good site is still being served. Fix the file and this page reloads by itself.";
    box.appendChild(note);
    document.body.appendChild(box);
  }
  function swapCss(v) {
    document.querySelectorAll('link[rel="stylesheet"]').forEach(function (link) {
      var url = new URL(link.href);
      url.searchParams.set("v", String(v));
      link.href = url.pathname + url.search;
    });
  }
  var events = new EventSource("/__greenhouse/events");
  events.onmessage = function (ev) {
    var msg = JSON.parse(ev.data);
    if (msg.error) return overlay(msg.error);
    if (version !== null && msg.version !== version) {
      if (msg.kind === "css" && !box) { version = msg.version; return swapCss(msg.version); }
      events.close();
      return window.location.reload();
    }
    clear();
    version = msg.version;
  };
})();
