"""A standalone, offline HTML map of one view (Leaflet inlined: no CDN, no network).

Leaflet 1.9.4 (BSD-2-Clause, ``assets/leaflet/``, from the npm package) is written into the
page with the view's GeoJSON, so the file opens anywhere, also without internet. An online
OSM base map can be switched on in the page.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.reporting.results import (
    COMPOSITE,
    FACILITY_CLASSES,
    Results,
    data_status_label,
    footer_line,
    share_colour,
    share_legend,
    titles,
)
from geo.reporting.view import WHATIF_LABEL, View

ASSETS = Path(__file__).resolve().parent / "assets" / "leaflet"

_TEXT: dict[str, tuple[str, str]] = {
    "unnamed": ("未命名", "unnamed"),
    "plan": ("规划原文", "plan"),
    "document": ("文件", "document"),
    "precision": ("定位精度", "precision"),
    "confidence": ("置信度", "confidence"),
    "gain": ("新增覆盖", "gain"),
    "people": ("人", "people"),
}


def _tx(key: str, lang: str | None) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en if lang == "en" else f"{zh} {en}"


def facility_popup_html(row: Any, lang: str | None = None) -> str:
    """Escaped popup HTML for one facility row (plan rows show sentence/document/precision).

    ``lang`` ``zh`` or ``en`` gives one language (the dashboard); None both (exports).
    """
    esc = html.escape
    klass = str(getattr(row, "klass", "osm"))
    label = next(
        (
            zh if lang == "zh" else en if lang == "en" else f"{zh} {en}"
            for k, zh, en, _, _ in FACILITY_CLASSES
            if k == klass
        ),
        klass,
    )
    name = str(getattr(row, "name", "") or "")
    parts = [
        f"<b>{esc(name) if name and name != 'nan' else '(' + _tx('unnamed', lang) + ')'}</b>",
        f"{esc(label)}",
    ]
    if klass.startswith("plan"):
        sentence = getattr(row, "sentence", None)
        if isinstance(sentence, str) and sentence:
            parts.append(f"{_tx('plan', lang)}: “{esc(sentence[:300])}”")
        doc = getattr(row, "mention_doc", None)
        if isinstance(doc, str) and doc:
            parts.append(f"{_tx('document', lang)}: {esc(Path(doc).name)}")
        prec = getattr(row, "precision", None)
        conf = getattr(row, "confidence", None)
        txt = f"{_tx('precision', lang)}: {esc(str(prec))}"
        if isinstance(conf, int | float) and np.isfinite(conf):
            txt += f" ({_tx('confidence', lang)} {conf:.2f})"
        parts.append(txt)
    elif klass == "recommended":
        gain = getattr(row, "gain_population", None)
        if isinstance(gain, int | float) and np.isfinite(gain):
            parts.append(f"{_tx('gain', lang)}: {gain:,.0f} {_tx('people', lang)}")
    else:
        osm_id = getattr(row, "osm_id", None)
        if osm_id is not None and str(osm_id) not in ("", "nan", "None"):
            parts.append(f"OSM {esc(str(osm_id))}")
    return "<br>".join(parts)


def _fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _geom(geom: Any) -> Any:
    return json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-6)))


def view_geojson(results: Results, view: View) -> dict[str, Any]:
    """Return the layers of a view as GeoJSON (WGS-84), with styles and escaped labels."""
    esc = html.escape
    info = results.area(view.area)
    hoods = results.neighbourhoods[results.neighbourhoods["area"] == view.area]
    cells = hoods.merge(view.cells[["unit", "share", "population"]], on="unit", how="left")
    names = results.neighbourhood_names(view.area)
    estimate = view.basis == "estimate"
    cell_feats = []
    for row in cells.itertuples():
        share = float(row.share) if np.isfinite(row.share) else float("nan")
        txt = f"{share:.1%}" if np.isfinite(share) else "无数据 no figure"
        if estimate and np.isfinite(share):
            txt = "≈ " + txt
        pop = f"{row.population:,.0f}" if np.isfinite(row.population) else "—"
        cell_feats.append(
            {
                "type": "Feature",
                "geometry": _geom(row.geometry),
                "properties": {
                    "tip": f"<b>{esc(names.get(str(row.unit), str(row.unit)))}</b><br>"
                    f"覆盖率 share: {txt}<br>人口 population: {pop}",
                    "style": {
                        "fillColor": share_colour(share),
                        "color": "#3f3f3f" if estimate else "#ffffff",
                        "dashArray": "2 3" if estimate else None,
                        "weight": 1,
                        "fillOpacity": 0.65 if np.isfinite(share) else 0.35,
                    },
                },
            }
        )
    streets = results.streets(view.area)
    street_feats = []
    if not streets.empty:
        for row in streets.itertuples():
            name = str(getattr(row, "name", "") or "")
            street_feats.append(
                {
                    "type": "Feature",
                    "geometry": _geom(row.geometry),
                    "properties": {"name": esc(name) if name not in ("", "nan", "None") else ""},
                }
            )
    labels = [
        {"name": esc(lab.name), "lat": lab.lat, "lon": lab.lon, "angle": -lab.angle}
        for lab in results.street_labels(view.area, 30)
    ]
    gap_feats = []
    if not view.gaps.empty:
        for i, row in enumerate(view.gaps.itertuples()):
            outer = shapely.get_exterior_ring(shapely.get_parts(row.geometry))
            gap_feats.append(
                {
                    "type": "Feature",
                    "geometry": _geom(shapely.multilinestrings(outer)),
                    "properties": {"tip": f"缺口 gap {i + 1}: {row.population:,.0f} 人 people"},
                }
            )
    colours = {k: c for k, _, _, c, _ in FACILITY_CLASSES}
    fac_feats = [
        {
            "type": "Feature",
            "geometry": _geom(shapely.point_on_surface(row.geometry)),
            "properties": {
                "popup": facility_popup_html(row),
                "colour": colours.get(str(row.klass), "#1f77b4"),
            },
        }
        for row in view.facilities.itertuples()
    ]
    wi_feats = []
    if view.simulated and view.whatif is not None:
        wi_feats = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                "properties": {"tip": esc(f"{WHATIF_LABEL[0]} {WHATIF_LABEL[1]}: {p.label_zh}")},
            }
            for p in view.whatif.points
        ]
    boundary = _fc(
        [{"type": "Feature", "geometry": _geom(info.boundary), "properties": {}}]
        if info.boundary is not None
        else []
    )
    if info.boundary is not None:
        minx, miny, maxx, maxy = info.boundary.bounds
    elif not hoods.empty:
        minx, miny, maxx, maxy = hoods.total_bounds
    else:
        minx, miny, maxx, maxy = 121.4, 31.2, 121.5, 31.3
    return {
        "cells": _fc(cell_feats),
        "streets": _fc(street_feats),
        "labels": labels,
        "gaps": _fc(gap_feats),
        "facilities": _fc(fac_feats),
        "whatif": _fc(wi_feats),
        "boundary": boundary,
        "bounds": [[miny, minx], [maxy, maxx]],
    }


_JS = """
var D = JSON.parse(document.getElementById('lc-data').textContent);
var map = L.map('map', {zoomSnap: 0.25});
var tiles = L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png',
  {attribution: '© OpenStreetMap contributors', opacity: 0.6});
document.getElementById('lc-tiles').addEventListener('change', function (e) {
  if (e.target.checked) { tiles.addTo(map); } else { map.removeLayer(tiles); }
});
L.geoJSON(D.cells, {style: function (f) { return f.properties.style; },
  onEachFeature: function (f, l) { l.bindTooltip(f.properties.tip, {sticky: true}); }
}).addTo(map);
L.geoJSON(D.streets, {style: {color: '#555555', weight: 1.2, opacity: 0.85},
  onEachFeature: function (f, l) {
    if (f.properties.name) { l.bindTooltip(f.properties.name, {sticky: true}); }
  }
}).addTo(map);
L.geoJSON(D.boundary, {style: {color: '#000000', weight: 2.5, fill: false}}).addTo(map);
L.geoJSON(D.gaps, {style: {color: '#b2182b', weight: 2.5, dashArray: '6 4'},
  onEachFeature: function (f, l) { l.bindTooltip(f.properties.tip, {sticky: true}); }
}).addTo(map);
L.geoJSON(D.facilities, {pointToLayer: function (f, ll) {
    return L.circleMarker(ll, {radius: 6, color: '#222222', weight: 1.2,
      fillColor: f.properties.colour, fillOpacity: 0.95});
  }, onEachFeature: function (f, l) { l.bindPopup(f.properties.popup, {maxWidth: 340}); }
}).addTo(map);
L.geoJSON(D.whatif, {pointToLayer: function (f, ll) {
    return L.circleMarker(ll, {radius: 9, color: '#000000', weight: 2,
      fillColor: '#e7298a', fillOpacity: 0.95});
  }, onEachFeature: function (f, l) { l.bindTooltip(f.properties.tip); }
}).addTo(map);
var labels = L.layerGroup(D.labels.map(function (s) {
  return L.marker([s.lat, s.lon], {interactive: false, icon: L.divIcon({className: 'lc-street',
    html: '<span style="transform:rotate(' + s.angle + 'deg)">' + s.name + '</span>',
    iconSize: [0, 0]})});
}));
function showLabels() {
  if (map.getZoom() >= 15.5) { labels.addTo(map); } else { map.removeLayer(labels); }
}
map.on('zoomend', showLabels);
L.control.scale({imperial: false}).addTo(map);
map.attributionControl.setPrefix('Leaflet | © OpenStreetMap contributors');
map.fitBounds(D.bounds);
showLabels();
document.body.setAttribute('data-lc-drawn', '1');
"""

_CSS = """
html, body {margin: 0; height: 100%; font: 13px 'Noto Sans CJK SC', sans-serif;}
#map {position: absolute; top: 0; bottom: 0; left: 0; right: 0; background: #f4f4f0;}
.lc-box {position: absolute; z-index: 1000; background: white; padding: 6px 10px;
  border: 1px solid #999; max-width: 460px;}
.lc-sw {display: inline-block; width: 12px; height: 12px; margin-right: 4px;}
.lc-street span {display: inline-block; white-space: nowrap; font-size: 11px; color: #222;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff; transform-origin: center; margin-left: -50%;}
"""


def html_page(results: Results, view: View) -> str:
    """Return the complete offline HTML page of one view (Leaflet, data and styles inlined)."""
    esc = html.escape
    zh, en = titles(results, view.area, view.category, view.tier, view.scenario, view.profile)
    if view.simulated:
        zh += f" · {WHATIF_LABEL[0]}"
        en += f" · {WHATIF_LABEL[1]}"
    data = json.dumps(view_geojson(results, view), ensure_ascii=False, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # never close the script element early
    legend = "".join(
        f'<div><span class="lc-sw" style="background:{c}"></span>{lab}</div>'
        for c, lab in share_legend()[::-1]
    )
    legend += '<div><span class="lc-sw" style="background:#bdbdbd"></span>无数据 no figure</div>'
    legend += "".join(
        f'<div><span class="lc-sw" style="background:{c};border-radius:6px"></span>'
        f"{zh_} {en_}</div>"
        for _, zh_, en_, c, _ in FACILITY_CLASSES
    )
    if view.category != COMPOSITE:
        legend += (
            '<div><span class="lc-sw" style="border:2px dashed #b2182b"></span>'
            "覆盖缺口 coverage gap</div>"
        )
    if view.basis == "estimate":
        legend += (
            '<div><span class="lc-sw" style="border:1px dotted #3f3f3f"></span>'
            "≈ 估算（直线×绕行系数） estimate (straight line × detour)</div>"
        )
    if view.simulated:
        legend += (
            '<div><span class="lc-sw" style="background:#e7298a;border-radius:6px"></span>'
            f"{WHATIF_LABEL[0]}新增 {WHATIF_LABEL[1]} facility</div>"
        )
    s = view.summary
    stats = (
        f"全街道覆盖率 Area share: {s['share']:.1%} "
        f"({s['covered_population']:,.0f} / {s['population']:,.0f})"
        if np.isfinite(s["share"])
        else "全街道覆盖率 Area share: 无数据 n/a"
    )
    if s.get("data_status", "ok") != "ok":  # no facility data is not 0 % (issue 11)
        stats = f"全街道覆盖率 Area share: {esc(data_status_label(s['data_status']))}"
        if s.get("sources_searched"):
            stats += f"<br>已检索 searched: {esc(s['sources_searched'])}"
    if view.simulated and view.before and np.isfinite(view.before.get("share", np.nan)):
        b = view.before["share"]
        stats += f"<br>{WHATIF_LABEL[0]} {WHATIF_LABEL[1]}: {b:.1%} → {s['share']:.1%}"
    if np.isfinite(view.threshold_m):
        stats += f"<br>步行距离阈值 Threshold: {view.threshold_m:,.0f} m"
    leaflet_css = (ASSETS / "leaflet.css").read_text(encoding="utf-8")
    leaflet_js = (ASSETS / "leaflet.js").read_text(encoding="utf-8")
    footer = esc(footer_line(results, view.area, view.profile, view.basis))
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(zh)}</title>
<!-- Leaflet 1.9.4, BSD-2-Clause, (c) 2010-2023 Volodymyr Agafonkin, (c) 2010-2011 CloudMade -->
<style>{leaflet_css}</style><style>{_CSS}</style></head>
<body><div id="map"></div>
<div class="lc-box" style="top:10px;left:50px"><b>{esc(zh)}</b><br>{esc(en)}
<div style="margin-top:4px">{stats}</div>
<div style="font-size:11px;margin-top:4px">{legend}</div>
<label style="font-size:11px"><input type="checkbox" id="lc-tiles"> 在线底图（需联网）
online base map (needs internet)</label>
<div style="font-size:10px;margin-top:4px">{footer}</div></div>
<script type="application/json" id="lc-data">{data}</script>
<script>{leaflet_js}</script>
<script>{_JS}</script>
</body></html>
"""


def write_html(results: Results, view: View, path: str | Path) -> None:
    """Write :func:`html_page` of ``view`` to ``path`` (UTF-8)."""
    Path(path).write_text(html_page(results, view), encoding="utf-8")
