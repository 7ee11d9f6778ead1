/* landalloc interactive plan map: Leaflet (inlined), no tile layer, data embedded as GeoJSON (EPSG:4326).
   Reads the JSON in #landalloc-data; ES5 so older office browsers run it. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") { return; }
  var D = JSON.parse(document.getElementById("landalloc-data").textContent);
  var T = D.text;

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }
  function colour(code) { return D.colours[code] || "#999999"; }
  function name(code) { return D.names[code] || code; }
  function popup(p) {
    var rows = [];
    if (p.id !== undefined) { rows.push([T.pop_parcel, p.id]); }
    if (p.cu !== undefined) { rows.push([T.pop_current, name(p.cu)]); }
    if (p.nu !== undefined) { rows.push([T.pop_new, name(p.nu)]); }
    if (p.a !== undefined) { rows.push([T.pop_area, p.a]); }
    if (p.c) { rows.push([T.pop_commune, p.c]); }
    if (p.d) { rows.push([T.pop_district, p.d]); }
    if (p.r) { rows.push([T.pop_reason, p.r]); }
    if (p.s) { rows.push([T.pop_site, p.s]); }
    var html = "<table>";
    for (var i = 0; i < rows.length; i++) {
      html += "<tr><th style='text-align:left;padding-right:6px'>" + esc(rows[i][0]) + "</th><td>" + esc(rows[i][1]) + "</td></tr>";
    }
    return html + "</table>";
  }
  function bindPopup(f, layer) { layer.bindPopup(popup(f.properties)); }

  var map = L.map(el, {attributionControl: false, zoomSnap: 0.25});
  var edge = D.merged ? 0 : 0.4;
  var plan = L.geoJSON(D.plan, {
    style: function (f) { return {fillColor: colour(f.properties.nu), fillOpacity: 0.9, color: "#ffffff", weight: edge}; },
    onEachFeature: bindPopup
  });
  var current = L.geoJSON(D.current || D.plan, {
    style: function (f) { return {fillColor: colour(f.properties.cu), fillOpacity: 0.9, color: "#ffffff", weight: edge}; },
    onEachFeature: bindPopup
  });
  var changed = L.geoJSON(D.changed || D.plan, {
    filter: function (f) { return !!f.properties.ch; },
    style: function () { return {fill: false, color: "#000000", weight: 2}; },
    onEachFeature: bindPopup
  });
  var overlays = {};
  overlays[T.map_layer_changed] = changed;
  var zoneStyle = {
    none: {color: "#0b6e2e", dashArray: null},
    forbidden: {color: "#8a4b08", dashArray: "6 4"},
    allowed: {color: "#1f4e9c", dashArray: "2 4"}
  };
  if (D.zones) {
    overlays[T.map_layer_zones] = L.geoJSON(D.zones, {
      style: function (f) {
        var s = zoneStyle[f.properties.kind] || zoneStyle.forbidden;
        return {color: s.color, dashArray: s.dashArray, weight: 2, fillColor: s.color, fillOpacity: 0.08};
      },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(f.properties.label)); }
    });
  }
  if (D.units) {  // 2025 communes: named on hover, so 56 names do not cover the plan
    overlays[T.map_layer_districts] = L.geoJSON(D.units, {
      style: function () { return {fill: false, color: "#505050", weight: 1.1}; },
      onEachFeature: function (f, layer) {
        if (f.properties.label) {
          layer.bindTooltip(esc(f.properties.label), {sticky: true, direction: "top", className: "district-label"});
        }
      }
    });
  }
  if (D.places) {
    overlays[T.map_layer_places] = L.geoJSON(D.places, {
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 4, color: "#000000", weight: 1.5, fillColor: "#ffffff", fillOpacity: 1});
      },
      onEachFeature: function (f, layer) {
        if (f.properties.label) { layer.bindTooltip(esc(f.properties.label), {direction: "right"}); }
      }
    });
  }
  var bases = {};
  bases[T.map_layer_plan] = plan;
  bases[T.map_layer_current] = current;
  plan.addTo(map);
  for (var k in overlays) { if (overlays.hasOwnProperty(k)) { overlays[k].addTo(map); } }
  L.control.layers(bases, overlays, {collapsed: false}).addTo(map);
  L.control.scale({imperial: false, maxWidth: 160}).addTo(map);

  // the legend sits under the map, where it never hides a parcel
  var legend = document.createElement("div");
  legend.className = "map-legend";
  var html = "<b>" + esc(T.map_legend) + ":</b> ";
  for (var i = 0; i < D.legend.length; i++) {
    html += "<span><i style='background:" + esc(colour(D.legend[i])) + "'></i>" + esc(name(D.legend[i])) + "</span> ";
  }
  html += "<span><i style='background:transparent;border:2px solid #000'></i>" + esc(T.map_converted) + "</span>";
  legend.innerHTML = html;
  el.parentNode.insertBefore(legend, el.nextSibling);

  var b = D.bounds;  // [[south, west], [north, east]]
  map.fitBounds(b, {padding: [12, 12]});
  el.setAttribute("data-features", String(plan.getLayers().length));
})();
