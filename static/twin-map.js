// The city map: fetches the points of /api/v1/map/buildings (the page's filters) and draws
// each building as a canvas circle marker coloured by its level, with the legend's colours.
// No tile server configured: a plain background with the districts' names at the centre of
// their buildings. The page works without this script: the list at /map/list is the same.
(function () {
  "use strict";
  var box = document.getElementById("twin-map");
  var status = document.getElementById("map-status");
  if (!box || typeof L === "undefined") { return; }
  var words = JSON.parse(box.dataset.words || "{}");

  function say(text) { if (status) { status.textContent = text; } }
  say(status ? status.dataset.loading : "");

  // The colours are the legend's (housing.css): one place for them.
  var colours = {};
  document.querySelectorAll("#map-legend [data-level]").forEach(function (item) {
    var swatch = item.querySelector(".swatch");
    colours[item.dataset.level] = window.getComputedStyle(swatch).backgroundColor;
  });
  var fallback = "#777";

  // The same rule as Scale.level in housing/twin/map.py.
  function level(scale, grade, value) {
    if (scale.kind === "grade") { return grade || "none"; }
    if (value === null || value === undefined) { return "none"; }
    if (scale.kind === "flag") { return value >= 1 ? "on" : "off"; }
    function reached(limit) { return scale.more_is_worse ? value >= limit : value <= limit; }
    if (reached(scale.red)) { return "red"; }
    if (reached(scale.yellow)) { return "yellow"; }
    return "green";
  }

  function shown(layer, scale, grade, value, lvl) {
    if (layer === "grade") { return words.grades[grade || "none"]; }
    if (value === null || value === undefined) { return words.levels.none; }
    if (layer === "debt") { return (Math.round(value * 1000) / 10) + " %"; }
    if (layer === "report" || layer === "meeting") { return words.levels[lvl]; }
    return String(value);
  }

  function line(label, text) {
    var p = document.createElement("p");
    var b = document.createElement("strong");
    b.textContent = label + ": ";
    p.appendChild(b);
    p.appendChild(document.createTextNode(text));
    return p;
  }

  var map = L.map(box, { preferCanvas: true, zoomSnap: 0.25, worldCopyJump: false });
  map.setView([41.31, 69.28], 11); // Tashkent until the points are in
  var tiles = box.dataset.tileUrl;
  if (tiles) {
    L.tileLayer(tiles, { attribution: box.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
  } else {
    box.classList.add("plain");
  }

  function popup(point, data, names) {
    var lvl = level(data.scale, point[6], point[7]);
    var div = document.createElement("div");
    var link = document.createElement("a");
    link.href = "/buildings/" + point[0];
    link.textContent = point[3];
    link.className = "building-link";
    var title = document.createElement("p");
    title.appendChild(link);
    div.appendChild(title);
    div.appendChild(line(words.district, names.districts[point[4]] || ""));
    div.appendChild(line(words.company, point[5] === null ? words.no_company : (names.companies[point[5]] || "")));
    div.appendChild(line(words.grade, words.grades[point[6] || "none"]));
    if (data.layer !== "grade") {
      div.appendChild(line(words.layer, shown(data.layer, data.scale, point[6], point[7], lvl)));
    }
    var open = document.createElement("a");
    open.href = link.href;
    open.textContent = words.open;
    var more = document.createElement("p");
    more.appendChild(open);
    div.appendChild(more);
    return div;
  }

  function districtLabels(data, names) {
    var sums = {};
    data.points.forEach(function (p) {
      var s = sums[p[4]] || (sums[p[4]] = { lat: 0, lon: 0, n: 0 });
      s.lat += p[1]; s.lon += p[2]; s.n += 1;
    });
    Object.keys(sums).forEach(function (id) {
      var s = sums[id];
      var label = document.createElement("span");
      label.textContent = names.districts[id] || "";
      L.marker([s.lat / s.n, s.lon / s.n], {
        icon: L.divIcon({ className: "district-label", html: label, iconSize: null }),
        interactive: false,
        keyboard: false,
      }).addTo(map);
    });
  }

  function draw(data) {
    var names = { districts: {}, companies: {} };
    data.districts.forEach(function (d) { names.districts[d[0]] = d[1]; });
    data.companies.forEach(function (c) { names.companies[c[0]] = c[1]; });
    var counts = {};
    var bounds = [];
    // A city's tens of thousands of points: smaller and without outlines, so colours stay readable.
    var crowded = data.points.length > 5000;
    data.points.forEach(function (point) {
      var lvl = level(data.scale, point[6], point[7]);
      counts[lvl] = (counts[lvl] || 0) + 1;
      var marker = L.circleMarker([point[1], point[2]], {
        radius: crowded ? 3 : 5, stroke: !crowded, weight: 1, color: "#222",
        fillColor: colours[lvl] || fallback, fillOpacity: 0.9,
      });
      marker.bindPopup(function () { return popup(point, data, names); });
      marker.addTo(map);
      bounds.push([point[1], point[2]]);
    });
    if (!tiles) { districtLabels(data, names); }
    if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16, animate: false }); }
    document.querySelectorAll("#map-legend [data-level]").forEach(function (item) {
      var count = item.querySelector("[data-count]");
      if (count) { count.textContent = "(" + (counts[item.dataset.level] || 0) + ")"; }
    });
    box.dataset.drawn = String(data.points.length);
    var n = data.points.length;
    say(n === 0 ? status.dataset.empty
      : n === 1 ? status.dataset.drawnOne
      : status.dataset.drawnMany.replace("{n}", n.toLocaleString(document.documentElement.lang)));
    box.dataset.ready = "1";
  }

  fetch(box.dataset.points, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(draw)
    .catch(function () {
      say(status ? status.dataset.failed : "");
      box.dataset.ready = "failed";
    });
}());
