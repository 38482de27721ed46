// greenhouse default theme: progressive enhancement of the server-rendered garden.
// Everything here is optional: without JavaScript the map, the list and every link work.
(function () {
  "use strict";
  var scene = document.getElementById("scene");
  if (!scene) return;
  var controls = document.getElementById("controls");
  var slider = document.getElementById("timeline");
  var label = document.getElementById("timeline-date");
  var play = document.getElementById("timelapse");
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var circles = {};
  scene.querySelectorAll("a.plant").forEach(function (a) { circles[a.dataset.id] = a; });

  function apply(snapshot) {
    var present = {};
    snapshot.plants.forEach(function (p) {
      present[p.id] = true;
      var a = circles[p.id];
      if (!a) return;
      a.setAttribute("class", "plant stage-" + p.stage);
      a.querySelector("circle").setAttribute("r", (0.18 + 0.3 * p.growth).toFixed(3));
      a.style.display = "";
    });
    Object.keys(circles).forEach(function (id) { if (!present[id]) circles[id].style.display = "none"; });
    label.textContent = snapshot.date;
  }

  fetch(scene.dataset.history).then(function (r) { return r.json(); }).then(function (index) {
    var snaps = index.snapshots;
    if (!snaps.length) return;
    controls.hidden = false;
    slider.max = String(snaps.length - 1);
    slider.value = String(snaps.length - 1);
    label.textContent = snaps[snaps.length - 1].date;
    var cache = {};
    function show(i) {
      var item = snaps[i];
      if (cache[item.date]) return Promise.resolve(apply(cache[item.date]));
      return fetch(item.url.replace(/^https?:\/\/[^/]+/, "")).then(function (r) { return r.json(); })
        .then(function (doc) { cache[item.date] = doc; apply(doc); });
    }
    slider.addEventListener("input", function () { show(Number(slider.value)); });
    var timer = null;
    play.addEventListener("click", function () {
      if (timer) { clearInterval(timer); timer = null; play.setAttribute("aria-pressed", "false"); return; }
      play.setAttribute("aria-pressed", "true");
      var i = 0;
      timer = setInterval(function () {
        slider.value = String(i);
        show(i);
        i += 1;
        if (i >= snaps.length) { clearInterval(timer); timer = null; play.setAttribute("aria-pressed", "false"); }
      }, reduced ? 1000 : 250);
    });
  }).catch(function () { /* the static map stays as it is */ });
})();
