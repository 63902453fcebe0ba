/* lifecircle dashboard: map functions for dash-leaflet (served locally, no CDN). */
(function () {
  "use strict";
  function hatchDefs() {
    if (document.getElementById("lc-defs")) { return; }
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("id", "lc-defs");
    svg.setAttribute("width", "0");
    svg.setAttribute("height", "0");
    svg.style.position = "absolute";
    var defs = document.createElementNS(ns, "defs");
    [["lc-hatch", "#8c8c8c", "#eeeeee"], ["lc-gaphatch", "#b2182b", "none"]].forEach(function (p) {
      var pat = document.createElementNS(ns, "pattern");
      pat.setAttribute("id", p[0]);
      pat.setAttribute("patternUnits", "userSpaceOnUse");
      pat.setAttribute("width", "8");
      pat.setAttribute("height", "8");
      pat.setAttribute("patternTransform", "rotate(45)");
      if (p[2] !== "none") {
        var bg = document.createElementNS(ns, "rect");
        bg.setAttribute("width", "8");
        bg.setAttribute("height", "8");
        bg.setAttribute("fill", p[2]);
        pat.appendChild(bg);
      }
      var line = document.createElementNS(ns, "line");
      line.setAttribute("x1", "0");
      line.setAttribute("y1", "0");
      line.setAttribute("x2", "0");
      line.setAttribute("y2", "8");
      line.setAttribute("stroke", p[1]);
      line.setAttribute("stroke-width", "3");
      pat.appendChild(line);
      defs.appendChild(pat);
    });
    svg.appendChild(defs);
    document.body.appendChild(svg);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", hatchDefs);
  } else {
    hatchDefs();
  }
  window.lifecircle = Object.assign({}, window.lifecircle, {
    style: function (feature) {
      return (feature.properties && feature.properties.style) || {};
    },
    point: function (feature, latlng, context) {
      var p = feature.properties || {};
      var opts = Object.assign({radius: 6}, p.style || {});
      if (p.cls) { opts.className = p.cls; }
      // markers are created here, so they take the layer's pane explicitly
      if (context && context.pane) { opts.pane = context.pane; }
      return L.circleMarker(latlng, opts);
    },
    label: function (feature, latlng, context) {
      // a street name: an invisible marker with a permanent tooltip, shown at street zooms
      var p = feature.properties || {};
      var m = L.circleMarker(latlng, {radius: 0, opacity: 0, fillOpacity: 0, interactive: false,
        pane: (context && context.pane) || "shadowPane"});
      m.bindTooltip(p.label || "", {permanent: true, direction: "center", className: "lc-streetlabel"});
      m.on("add", function () {
        var map = m._map;
        if (!map || map._lcZoomHook) { return; }
        map._lcZoomHook = true;
        var toggle = function () {
          map.getContainer().classList.toggle("lc-zoom-low", map.getZoom() < 15.5);
        };
        map.on("zoomend", toggle);
        toggle();
      });
      return m;
    },
    each: function (feature, layer) {
      var p = feature.properties || {};
      if (p.cls) { layer.options.className = p.cls; }
      if (p.popup) { layer.bindPopup(p.popup, {maxWidth: 340}); }
      if (p.tooltip) {
        layer.bindTooltip(p.tooltip, {
          permanent: !!p.permanent, direction: p.permanent ? "center" : "auto",
          className: p.permanent ? "lc-label" : "", sticky: !p.permanent
        });
      }
    }
  });
})();
