"""Map layers as GeoJSON dicts for dash-leaflet (styles and popups in feature properties).

Every text that comes from data (facility names, plan sentences) is HTML-escaped before it
goes into a popup or tooltip.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import urlencode

import numpy as np
import shapely

from dashboard.data import DashboardData, _geojson_geom
from dashboard.i18n import t
from dashboard.whatif import Added, Evaluation
from geo._errors import LifeCircleError
from geo.reporting.html import facility_popup_html
from geo.reporting.results import (
    COMPOSITE,
    FACILITY_CLASSES,
    scenario_facilities,
    share_colour,
)
from geo.reporting.view import view_gaps

HATCH = "url(#lc-hatch)"
WHATIF_COLOUR = "#e7298a"


def _fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


#: Layers served by URL (static for validated parameters), with their parameters.
LAYER_PARAMS: dict[str, tuple[str, ...]] = {
    "cells": ("area", "category", "tier", "scenario", "profile", "lang"),
    "facilities": ("area", "category", "scenario", "lang"),
    "gaps": ("area", "category", "tier", "scenario", "profile", "lang"),
}


def layer_url(kind: str, version: str, **params: Any) -> str:
    """Return the URL of a static layer (``/lifecircle/layer/<kind>.geojson?...``).

    ``version`` busts the browser cache when the results are reloaded.
    """
    query = urlencode({k: params[k] for k in LAYER_PARAMS[kind]} | {"v": version})
    return f"/lifecircle/layer/{kind}.geojson?{query}"


def layer_json(data: DashboardData, kind: str, params: dict[str, Any]) -> bytes:
    """Return the GeoJSON bytes of a static layer, memoised; raises LifeCircleError on bad input."""
    if kind not in LAYER_PARAMS:
        raise LifeCircleError(f"unknown layer '{kind}'")
    area, category, tier, scenario, profile = data.check(
        params.get("area"),
        params.get("category"),
        params.get("tier", 15),
        params.get("scenario", "baseline"),
        params.get("profile", "default"),
    )
    lang = "en" if params.get("lang") == "en" else "zh"
    values = {
        "area": area,
        "category": category,
        "tier": tier,
        "scenario": scenario,
        "profile": profile,
        "lang": lang,
    }
    key = ("json", kind, *(values[p] for p in LAYER_PARAMS[kind]))

    def build() -> bytes:
        if kind == "cells":
            fc = cells_geojson(
                data, area, category, tier=tier, scenario=scenario, profile=profile, lang=lang
            )
        elif kind == "facilities":
            fc = facilities_geojson(data, area, category, scenario, lang)
        else:
            fc = gaps_geojson(
                data, area, category, tier=tier, scenario=scenario, profile=profile, lang=lang
            )
        return json.dumps(fc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    return data.memo(key, build)


def basis_label(basis: str, completeness: float | None, lang: str) -> str:
    """Return the one data badge of an area in one language (``≈ 估算：路网数据不完整（65%）``).

    ``basis`` is the basis of the area's coverage figures; ``completeness`` the share of the
    area its walking network reaches.
    """
    comp = f"{completeness:.0%}" if completeness is not None else "—"
    if basis == "network":
        return t("badge_network", lang).format(comp=comp)
    if basis == "estimate":
        key = "badge_estimate_nonet" if not completeness else "badge_estimate"
        return t(key, lang).format(comp=comp)
    return t("badge_none", lang)


def cell_style(share: float, basis: str) -> dict[str, Any]:
    """Return the Leaflet path style of a neighbourhood cell.

    Hatched grey only where there is no figure (the one meaning of hatching); estimate cells
    get a dotted dark outline (the estimate symbol).
    """
    if not np.isfinite(share):
        return {
            "fillColor": HATCH,
            "color": "#7f7f7f",
            "weight": 1,
            "fillOpacity": 0.9,
            "dashArray": "4 3",
        }
    style = {"fillColor": share_colour(share), "color": "#ffffff", "weight": 1, "fillOpacity": 0.62}
    if basis == "estimate":
        style.update({"color": "#3f3f3f", "dashArray": "2 4", "weight": 1.2})
    return style


def cells_geojson(
    data: DashboardData,
    area: str,
    category: str,
    *,
    tier: int,
    scenario: str,
    profile: str,
    lang: str,
    evaluation: Evaluation | None = None,
) -> dict[str, Any]:
    """Neighbourhood cells coloured by share covered (or by the what-if share)."""
    return _cells(data, area, category, tier, scenario, profile, lang, evaluation)


def _cells(
    data: DashboardData,
    area: str,
    category: str,
    tier: int,
    scenario: str,
    profile: str,
    lang: str,
    evaluation: Evaluation | None,
) -> dict[str, Any]:
    cats, _ = data.coverage(area, tier, scenario, profile)
    recs = cats.get(category, {})
    after: dict[str, float] = {}
    if evaluation is not None:
        after = dict(zip(evaluation.cells, evaluation.after.tolist(), strict=True))
    area_basis = data.results.coverage_basis(area)
    names = data.results.neighbourhood_names(area)
    feats = []
    for base in data.cell_features(area):
        unit = base["properties"]["unit"]
        rec = recs.get(unit)
        share = rec.share if rec is not None else np.nan
        pop = rec.population if rec is not None else np.nan
        basis = rec.basis if rec is not None else area_basis
        label = f"{share:.1%}" if np.isfinite(share) else t("legend_nodata", lang)
        if basis == "estimate" and np.isfinite(share):
            label = "≈ " + label
        if unit in after and np.isfinite(after[unit]):
            label = f"{label} → {after[unit]:.1%}"
            share = after[unit]
        name = names.get(unit, unit)
        tip = f"<b>{html.escape(name)}</b><br>{t('share', lang)}: {label}"
        if np.isfinite(pop):
            tip += f"<br>{t('population', lang)}: {pop:,.0f}"
        feats.append(
            {
                "type": "Feature",
                "id": unit,
                "geometry": base["geometry"],
                "properties": {
                    "unit": unit,
                    "share": share if np.isfinite(share) else None,
                    "style": cell_style(share, basis),
                    "tooltip": tip,
                    "cls": f"lc-cell lc-cell-{unit}",
                },
            }
        )
    return _fc(feats)


def boundaries_geojson(data: DashboardData, selected: str, lang: str) -> dict[str, Any]:
    """Subdistrict outlines; thin-data areas hatched with a permanent completeness label."""
    feats = []
    for f in data.boundary_features():
        p = f["properties"]
        sel = p["area"] == selected
        style: dict[str, Any] = {
            "color": "#111111" if sel else "#555555",
            "weight": 3 if sel else 1.5,
            "fill": False,
        }
        props: dict[str, Any] = {"area": p["area"], "style": style}
        basis = data.results.coverage_basis(p["area"])
        if basis != "network" and not sel:  # the selected area has the corner badge
            props["tooltip"] = html.escape(
                f"{p['name_zh'] if lang == 'zh' else p['name_en']}: "
                f"{basis_label(basis, p['completeness'], lang)}"
            )
            props["permanent"] = True
        feats.append(
            {"type": "Feature", "id": p["area"], "geometry": f["geometry"], "properties": props}
        )
    return _fc(feats)


_CLASS_STYLE = {k: (zh, en, colour) for k, zh, en, colour, _ in FACILITY_CLASSES}


def facilities_geojson(
    data: DashboardData, area: str, category: str, scenario: str, lang: str = "zh"
) -> dict[str, Any]:
    """Facilities of the scenario by source/status, each with an escaped popup."""
    return _facilities(data, area, category, scenario, lang)


def _facilities(
    data: DashboardData, area: str, category: str, scenario: str, lang: str
) -> dict[str, Any]:
    fac = scenario_facilities(
        data.results, area, None if category == COMPOSITE else category, scenario
    )
    feats = []
    for row in fac.itertuples():
        klass = str(row.klass)
        _, _, colour = _CLASS_STYLE.get(klass, ("", "", "#1f77b4"))
        radius = (8 if klass == "recommended" else 6) - (2 if category == COMPOSITE else 0)
        name = str(getattr(row, "name", "") or "")
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(row.geometry.x, 6), round(row.geometry.y, 6)],
                },
                "properties": {
                    "klass": klass,
                    "popup": facility_popup_html(row, lang),
                    "tooltip": html.escape(name) if name and name != "nan" else None,
                    "cls": f"lc-fac lc-fac-{klass}",
                    "style": {
                        "radius": radius,
                        "color": "#222222",
                        "weight": 1.2,
                        "fillColor": colour,
                        "fillOpacity": 0.95,
                    },
                },
            }
        )
    return _fc(feats)


def gaps_geojson(
    data: DashboardData,
    area: str,
    category: str,
    *,
    tier: int,
    scenario: str,
    profile: str,
    lang: str,
    nearest_m: np.ndarray | None = None,
) -> dict[str, Any]:
    """Return the gaps of the view (its tier, profile, scenario and simulated facilities).

    Outer rings only (covered holes inside a gap are not outlined), labelled with their
    population.
    """
    gaps = view_gaps(
        data.results,
        area,
        category,
        tier=tier,
        scenario=scenario,
        profile=profile,
        nearest_m=nearest_m,
    )
    feats = []
    for i, row in enumerate(gaps.itertuples()):
        pop = float(getattr(row, "population", np.nan))
        txt = f"{t('gap', lang)} {i + 1}: {pop:,.0f} {t('people', lang)}"
        rings = shapely.get_exterior_ring(shapely.get_parts(row.geometry))
        feats.append(
            {
                "type": "Feature",
                "geometry": _geojson_geom(shapely.multilinestrings(rings)),
                "properties": {
                    "population": pop,
                    "rank": i + 1,
                    "tooltip": txt,
                    "permanent": i < 3,
                    "cls": "lc-gap",
                    "style": {"color": "#b2182b", "weight": 2.5, "dashArray": "6 4"},
                },
            }
        )
    return _fc(feats)


def street_labels_geojson(data: DashboardData, area: str) -> dict[str, Any]:
    """Street names (network ``name`` tags) as label points, shown at street zooms."""
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(s.lon, 6), round(s.lat, 6)]},
            "properties": {"label": html.escape(s.name), "cls": "lc-streetlabel"},
        }
        for s in data.results.street_labels(area, 40)
    ]
    return _fc(feats)


def selected_geojson(data: DashboardData, area: str, unit: str | None) -> dict[str, Any]:
    """Return the outline of the neighbourhood the panel shows (highlighted on the map)."""
    feats = [
        {
            "type": "Feature",
            "geometry": f["geometry"],
            "properties": {
                "cls": "lc-selected",
                "style": {"color": "#1f3dff", "weight": 4, "fill": False},
            },
        }
        for f in data.cell_features(area)
        if unit is not None and f["properties"]["unit"] == unit
    ]
    return _fc(feats)


def whatif_geojson(added: list[Added], lang: str) -> dict[str, Any]:
    """Facilities added in the what-if panel."""
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(a.lon, 6), round(a.lat, 6)]},
            "properties": {
                "tooltip": html.escape(f"{t('legend_whatif', lang)} {a.label(lang)}"),
                "cls": f"lc-whatif lc-whatif-{a.id}",
                "style": {
                    "radius": 9,
                    "color": "#000000",
                    "weight": 2,
                    "fillColor": WHATIF_COLOUR,
                    "fillOpacity": 0.95,
                },
            },
        }
        for a in added
    ]
    return _fc(feats)
