"""A standalone HTML map (folium) of one area, category and setting."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import folium
import numpy as np
import shapely

from geo.reporting.results import (
    COMPOSITE,
    FACILITY_CLASSES,
    OSM_CREDIT,
    Results,
    area_gaps,
    area_summary,
    cell_shares,
    footer_line,
    scenario_facilities,
    share_colour,
    share_legend,
    titles,
)


def facility_popup_html(row: Any) -> str:
    """Escaped popup HTML for one facility row (plan rows show sentence/document/precision)."""
    esc = html.escape
    klass = str(getattr(row, "klass", "osm"))
    label = next((f"{zh} {en}" for k, zh, en, _, _ in FACILITY_CLASSES if k == klass), klass)
    name = str(getattr(row, "name", "") or "")
    parts = [
        f"<b>{esc(name) if name and name != 'nan' else '(未命名 unnamed)'}</b>",
        f"{esc(label)}",
    ]
    if klass.startswith("plan"):
        sentence = getattr(row, "sentence", None)
        if isinstance(sentence, str) and sentence:
            parts.append(f"规划原文 plan: “{esc(sentence[:300])}”")
        doc = getattr(row, "mention_doc", None)
        if isinstance(doc, str) and doc:
            parts.append(f"文件 document: {esc(Path(doc).name)}")
        prec = getattr(row, "precision", None)
        conf = getattr(row, "confidence", None)
        txt = f"定位精度 precision: {esc(str(prec))}"
        if isinstance(conf, int | float) and np.isfinite(conf):
            txt += f" (confidence {conf:.2f})"
        parts.append(txt)
    elif klass == "recommended":
        gain = getattr(row, "gain_population", None)
        if isinstance(gain, int | float) and np.isfinite(gain):
            parts.append(f"新增覆盖 gain: {gain:,.0f} 人 people")
    else:
        osm_id = getattr(row, "osm_id", None)
        if osm_id is not None and str(osm_id) not in ("", "nan", "None"):
            parts.append(f"OSM {esc(str(osm_id))}")
    return "<br>".join(parts)


def folium_map(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
) -> Any:
    """A standalone folium map (streets, cells, gaps, facilities; OSM tiles optional)."""
    info = results.area(area)
    cells = results.neighbourhoods[results.neighbourhoods["area"] == area]
    shares = cell_shares(results, area, category, tier=tier, scenario=scenario, profile=profile)
    cells = cells.merge(shares, on="unit", how="left")
    if info.boundary is not None:
        minx, miny, maxx, maxy = info.boundary.bounds
    elif not cells.empty:
        minx, miny, maxx, maxy = cells.total_bounds
    else:
        minx, miny, maxx, maxy = 121.4, 31.2, 121.5, 31.3
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=15,
        tiles=None,
        control_scale=True,
    )
    folium.TileLayer(
        "OpenStreetMap", name="OSM 底图 tiles (online)", show=False, attr=OSM_CREDIT
    ).add_to(fmap)
    streets = results.streets(area)
    if not streets.empty:
        folium.GeoJson(
            streets[["highway", "geometry"]].to_json(),
            name="步行路网 streets",
            style_function=lambda f: {"color": "#666666", "weight": 1},
            attr=OSM_CREDIT,
        ).add_to(fmap)
    if not cells.empty:
        cells = cells.assign(
            colour=[share_colour(s) for s in cells["share"]],
            share_txt=[f"{s:.1%}" if np.isfinite(s) else "n/a" for s in cells["share"]],
        )
        folium.GeoJson(
            cells[["unit", "share_txt", "population", "colour", "geometry"]].to_json(),
            name="覆盖率 share covered",
            style_function=lambda f: {
                "fillColor": f["properties"]["colour"],
                "color": "white",
                "weight": 1,
                "fillOpacity": 0.6,
            },
            tooltip=folium.GeoJsonTooltip(
                ["unit", "share_txt", "population"],
                aliases=["单元 unit", "覆盖率 share", "人口 pop"],
            ),
        ).add_to(fmap)
    if info.boundary is not None:
        folium.GeoJson(
            shapely.to_geojson(info.boundary),
            name="边界 boundary",
            style_function=lambda f: {"color": "black", "weight": 2.5, "fill": False},
        ).add_to(fmap)
    if category != COMPOSITE:
        gaps = area_gaps(results, area, category, scenario)
        if not gaps.empty:
            g = gaps[["population", "geometry"]].assign(rank=np.arange(1, len(gaps) + 1))
            folium.GeoJson(
                g.to_json(),
                name="缺口 gaps",
                style_function=lambda f: {
                    "color": "#b2182b",
                    "weight": 2,
                    "fillOpacity": 0.1,
                    "dashArray": "4",
                },
                tooltip=folium.GeoJsonTooltip(
                    ["rank", "population"], aliases=["缺口 gap", "人口 pop"]
                ),
            ).add_to(fmap)
    fac = scenario_facilities(results, area, category if category != COMPOSITE else None, scenario)
    group = folium.FeatureGroup(name="设施 facilities").add_to(fmap)
    colours = {k: c for k, _, _, c, _ in FACILITY_CLASSES}
    for row in fac.itertuples():
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x],
            radius=6,
            color="black",
            weight=1,
            fill=True,
            fill_opacity=0.9,
            fill_color=colours.get(row.klass, "#1f77b4"),
            popup=folium.Popup(facility_popup_html(row), max_width=320),
        ).add_to(group)
    folium.LayerControl(collapsed=False).add_to(fmap)
    zh, en = titles(results, area, category, tier, scenario, profile)
    legend = "".join(
        f'<div><span style="background:{c};display:inline-block;width:12px;'
        f'height:12px;margin-right:4px"></span>{lab}</div>'
        for c, lab in share_legend()[::-1]
    )
    legend += "".join(
        f'<div><span style="background:{c};border-radius:6px;display:'
        f'inline-block;width:12px;height:12px;margin-right:4px"></span>'
        f"{zh_} {en_}</div>"
        for _, zh_, en_, c, _ in FACILITY_CLASSES
    )
    basis = area_summary(results, area, category, tier=tier, scenario=scenario, profile=profile)[
        "basis"
    ]
    box = (
        f'<div style="position:fixed;top:10px;left:50px;z-index:9999;background:white;'
        f'padding:6px 10px;border:1px solid #999;font:13px sans-serif;max-width:480px">'
        f"<b>{html.escape(zh)}</b><br>{html.escape(en)}<div style='font-size:11px;"
        f"margin-top:4px'>{legend}</div><div style='font-size:10px;margin-top:4px'>"
        f"{html.escape(footer_line(results, area, profile, str(basis)))}</div></div>"
    )
    fmap.get_root().html.add_child(folium.Element(box))  # type: ignore[attr-defined]
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap
