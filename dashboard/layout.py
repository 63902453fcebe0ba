"""Page layout: controls (left), map (centre), neighbourhood panel and what-if (right)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard.data import DashboardData
from dashboard.i18n import t
from dashboard.layers import WHATIF_COLOUR, basis_label
from geo import settings
from geo.reporting.results import (
    FACILITY_CLASSES,
    OSM_CREDIT,
    PROFILE_LABELS,
    PROFILES,
    SCENARIO_LABELS,
    SCENARIOS,
    TIERS,
    share_legend,
)

#: JavaScript functions in ``assets/lifecircle.js`` (dash-leaflet resolves ``variable``).
JS_STYLE = {"variable": "lifecircle.style"}
JS_POINT = {"variable": "lifecircle.point"}
JS_EACH = {"variable": "lifecircle.each"}


def area_options(data: DashboardData, lang: str) -> list[dict[str, str]]:
    """Dropdown options for the areas (thin-data areas marked)."""
    out = []
    for a in data.results.areas.values():
        mark = "" if a.basis == "network" else " ⚠"
        out.append({"label": f"{a.label(lang)}{mark}", "value": a.id})
    return out


def tier_options(lang: str) -> list[dict[str, Any]]:
    """Radio options for the tiers."""
    return [{"label": f"{m} {t('minutes', lang)}", "value": m} for m in TIERS]


def scenario_options(lang: str) -> list[dict[str, str]]:
    """Radio options for the scenarios."""
    i = 1 if lang == "en" else 0
    return [{"label": SCENARIO_LABELS[s][i], "value": s} for s in SCENARIOS]


def profile_options(lang: str) -> list[dict[str, str]]:
    """Radio options for the walking profiles (with their speeds)."""
    i = 1 if lang == "en" else 0
    return [
        {"label": f"{PROFILE_LABELS[p][i]} {settings.WALK_SPEEDS_KMH[p]:g} km/h", "value": p}
        for p in PROFILES
    ]


def mode_options(lang: str) -> list[dict[str, str]]:
    """Radio options for what a map click does."""
    return [
        {"label": t("mode_inspect", lang), "value": "inspect"},
        {"label": t("mode_add", lang), "value": "add"},
    ]


def legend(lang: str) -> list[Any]:
    """Legend children: share classes, no-data hatch, facility classes, gap, what-if."""
    items: list[Any] = [html.B(t("legend_share", lang)), html.Br()]
    for colour, label in share_legend()[::-1]:
        items += [html.Span(className="lc-swatch", style={"background": colour}), label, html.Br()]
    items += [
        html.Span(
            className="lc-swatch",
            style={"background": "repeating-linear-gradient(45deg,#8c8c8c 0 3px,#eee 3px 6px)"},
        ),
        t("legend_nodata", lang),
        html.Br(),
    ]
    i = 2 if lang == "en" else 1
    for row in FACILITY_CLASSES:
        items += [html.Span(className="lc-dot", style={"background": row[3]}), row[i], html.Br()]
    items += [
        html.Span(
            className="lc-swatch", style={"border": "2px dashed #b2182b", "background": "none"}
        ),
        t("legend_gap", lang),
        html.Br(),
        html.Span(className="lc-dot", style={"background": WHATIF_COLOUR}),
        t("legend_whatif", lang),
    ]
    return items


def _radio(id_: str, options: list[dict[str, Any]], value: Any) -> dcc.RadioItems:
    return dcc.RadioItems(id=id_, options=options, value=value, className="lc-radio", inline=True)


def make_layout(data: DashboardData, *, streets_url: Callable[[str], str]) -> Callable[[], Any]:
    """A layout function (called per page load: each page gets a new session id)."""
    results = data.results
    lang = "zh"

    def layout() -> Any:
        area0 = next(iter(results.areas), None)
        cats = data.category_options(lang)
        # the composite life-circle score is the overview; single categories are one click away
        values = [c["value"] for c in cats]
        cat0 = "composite" if "composite" in values else (values[0] if values else None)
        bounds = data.bounds(area0) if area0 else [[31.1, 121.3], [31.4, 121.6]]
        missing = results.missing
        notice: Any = ""
        if not results.areas:
            notice = html.Div(t("no_results", lang), className="lc-msg", id="no-results")
        elif missing:
            notice = html.Details(
                [
                    html.Summary(f"{t('missing', lang)} ({len(missing)})"),
                    html.Ul([html.Li(m.splitlines()[0][:200]) for m in missing[:20]]),
                ],
                className="lc-note",
            )
        controls = html.Div(
            className="lc-controls",
            children=[
                html.Label(t("area", lang), id="lab-area", className="lc-lab"),
                dcc.Dropdown(
                    id="area", options=area_options(data, lang), value=area0, clearable=False
                ),
                html.Label(t("category", lang), id="lab-category", className="lc-lab"),
                dcc.Dropdown(id="category", options=cats, value=cat0, clearable=False),
                html.Label(t("tier", lang), id="lab-tier", className="lc-lab"),
                _radio("tier", tier_options(lang), 15),
                html.Label(t("scenario", lang), id="lab-scenario", className="lc-lab"),
                _radio("scenario", scenario_options(lang), "baseline"),
                html.Label(t("profile", lang), id="lab-profile", className="lc-lab"),
                _radio("profile", profile_options(lang), "default"),
                html.Label(t("language", lang), id="lab-lang", className="lc-lab"),
                _radio(
                    "lang",
                    [{"label": "中文", "value": "zh"}, {"label": "English", "value": "en"}],
                    "zh",
                ),
                html.Label(t("mode", lang), id="lab-mode", className="lc-lab"),
                dcc.RadioItems(
                    id="mode", options=mode_options(lang), value="inspect", className="lc-radio"
                ),
                dcc.Checklist(
                    id="tiles",
                    options=[{"label": t("tiles", lang), "value": "on"}],
                    value=[],
                    style={"marginTop": "8px", "fontSize": "12px"},
                ),
                html.Hr(),
                html.Label(t("export", lang), id="lab-export", className="lc-lab"),
                html.Label(t("format", lang), id="lab-format", className="lc-note"),
                _radio(
                    "export-format",
                    [{"label": f.upper(), "value": f} for f in ("png", "pdf", "html", "xlsx")],
                    "png",
                ),
                html.Label(t("paper", lang), id="lab-paper", className="lc-note"),
                _radio("export-paper", [{"label": p, "value": p} for p in ("A4", "A3")], "A4"),
                html.Button(
                    t("export_btn", lang), id="export-btn", n_clicks=0, style={"marginTop": "6px"}
                ),
                dcc.Loading(html.Div(id="export-msg", className="lc-note"), type="dot"),
                dcc.Download(id="download"),
            ],
        )
        centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        lmap = dl.Map(id="map", bounds=bounds, center=centre, zoom=15, zoomSnap=0.25,
                      attributionControl=False, style={"height": "100%"}, children=[
            dl.AttributionControl(prefix=f"Leaflet | {OSM_CREDIT}", position="bottomright"),
            dl.LayerGroup(id="tiles-layer"),
            # Leaflet panes fix the drawing order whatever layer is redrawn last:
            # tile (200) < overlay (400) < shadow (500) < marker (600)
            dl.GeoJSON(id="boundaries", style=JS_STYLE, onEachFeature=JS_EACH,
                       interactive=False, pane="tilePane"),
            dl.GeoJSON(id="cells", style=JS_STYLE, onEachFeature=JS_EACH, pane="overlayPane"),
            # streets above the cells (drawn from our data: works offline), not clickable
            dl.GeoJSON(id="streets", url=streets_url(area0) if area0 else None,
                       style=JS_STYLE, interactive=False, attribution=OSM_CREDIT,
                       pane="shadowPane"),
            dl.GeoJSON(id="gaps", style=JS_STYLE, onEachFeature=JS_EACH, pane="shadowPane"),
            dl.GeoJSON(id="facilities", pointToLayer=JS_POINT, onEachFeature=JS_EACH,
                       pane="markerPane"),
            dl.GeoJSON(id="whatif-layer", pointToLayer=JS_POINT, onEachFeature=JS_EACH,
                       pane="markerPane"),
            dl.ScaleControl(position="bottomleft", imperial=False),
        ])  # fmt: skip
        area_info = results.areas.get(area0) if area0 else None
        badge = (
            html.Span(
                basis_label(area_info.basis, area_info.completeness, lang),
                className=f"lc-badge lc-badge-{area_info.basis}",
            )
            if area_info
            else ""
        )
        mapwrap = html.Div(
            className="lc-mapwrap",
            children=[
                lmap,
                html.Div(badge, id="area-badge", className="lc-area-badge"),
                html.Div(legend(lang), id="legend", className="lc-legend"),
            ],
        )
        panel = html.Div(
            className="lc-panel",
            children=[
                html.Div(id="summary", className="lc-summary"),
                html.Div(id="message", className="lc-msg"),
                html.H4(t("whatif", lang), id="whatif-title", style={"margin": "8px 0 2px"}),
                html.Div(t("whatif_help", lang), id="whatif-help", className="lc-note"),
                html.Div(html.Div(t("whatif_none", lang), className="lc-note"), id="whatif-list"),
                html.Button(
                    t("whatif_clear", lang),
                    id="whatif-clear",
                    n_clicks=0,
                    style={"fontSize": "12px"},
                ),
                html.Div(id="whatif-msg", className="lc-msg"),
                html.Hr(),
                html.Div(html.Div(t("panel_prompt", lang), className="lc-note"), id="panel"),
            ],
        )
        header = html.Div(
            className="lc-header",
            children=[
                html.H1(t("title", lang), id="title"),
                html.Span(t("subtitle", lang), id="subtitle", className="lc-sub"),
                notice,
            ],
        )
        footer = html.Div(t("credit", lang), id="footer", className="lc-footer")
        return html.Div(
            [
                dcc.Store(id="session", data=uuid.uuid4().hex),
                dcc.Store(id="whatif-rev", data=0),
                header,
                html.Div([controls, mapwrap, panel], className="lc-main"),
                footer,
            ]
        )

    return layout
