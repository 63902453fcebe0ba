"""Page layout: controls (left), map (centre), neighbourhood panel and what-if (right)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard import ids
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
JS_LABEL = {"variable": "lifecircle.label"}


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
        html.Span(
            className="lc-swatch", style={"border": "2px dotted #3f3f3f", "background": "none"}
        ),
        t("legend_estimate", lang),
        html.Br(),
        html.Span(
            className="lc-swatch", style={"border": "3px solid #1f3dff", "background": "none"}
        ),
        t("legend_selected", lang),
        html.Br(),
        html.Span(className="lc-dot", style={"background": WHATIF_COLOUR}),
        t("legend_whatif", lang),
    ]
    return items


def _radio(id_: str, options: list[dict[str, Any]], value: Any) -> dcc.RadioItems:
    return dcc.RadioItems(id=id_, options=options, value=value, className="lc-radio", inline=True)


def make_layout(data: DashboardData, *, streets_url: Callable[[str], str]) -> Callable[[], Any]:
    """Return a layout function (called per page load: each page gets a new session id)."""
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
            notice = html.Div(t("no_results", lang), className="lc-msg", id=ids.NO_RESULTS)
        else:  # always laid out: the language callback relabels it
            notice = html.Details(
                [
                    html.Summary(
                        [html.Span(t("missing", lang), id=ids.MISSING_LABEL), f" ({len(missing)})"]
                    ),
                    # file-level diagnostics (file names, commands), as the CLI prints them
                    html.Ul(
                        [html.Li(m.splitlines()[0][:200]) for m in missing[:20]],
                        className="lc-diagnostic",
                    ),
                ],
                className="lc-note",
                style=None if missing else {"display": "none"},
            )
        controls = html.Div(
            className="lc-controls",
            children=[
                html.Label(t("area", lang), id=ids.LAB_AREA, className="lc-lab"),
                dcc.Dropdown(
                    id=ids.AREA, options=area_options(data, lang), value=area0, clearable=False
                ),
                html.Label(t("category", lang), id=ids.LAB_CATEGORY, className="lc-lab"),
                dcc.Dropdown(id=ids.CATEGORY, options=cats, value=cat0, clearable=False),
                html.Label(t("tier", lang), id=ids.LAB_TIER, className="lc-lab"),
                _radio("tier", tier_options(lang), 15),
                html.Label(t("scenario", lang), id=ids.LAB_SCENARIO, className="lc-lab"),
                _radio("scenario", scenario_options(lang), "baseline"),
                html.Label(t("profile", lang), id=ids.LAB_PROFILE, className="lc-lab"),
                _radio("profile", profile_options(lang), "default"),
                html.Label(t("language", lang), id=ids.LAB_LANG, className="lc-lab"),
                _radio(
                    "lang",
                    [{"label": "中文", "value": "zh"}, {"label": "English", "value": "en"}],
                    "zh",
                ),
                html.Label(t("mode", lang), id=ids.LAB_MODE, className="lc-lab"),
                dcc.RadioItems(
                    id=ids.MODE, options=mode_options(lang), value="inspect", className="lc-radio"
                ),
                dcc.Checklist(
                    id=ids.TILES,
                    options=[{"label": t("tiles", lang), "value": "on"}],
                    value=[],
                    style={"marginTop": "8px", "fontSize": "12px"},
                ),
                html.Hr(),
                html.Label(t("export", lang), id=ids.LAB_EXPORT, className="lc-lab"),
                html.Label(t("format", lang), id=ids.LAB_FORMAT, className="lc-note"),
                _radio(
                    "export-format",
                    [{"label": f.upper(), "value": f} for f in ("png", "pdf", "html", "xlsx")],
                    "png",
                ),
                html.Label(t("paper", lang), id=ids.LAB_PAPER, className="lc-note"),
                _radio("export-paper", [{"label": p, "value": p} for p in ("A4", "A3")], "A4"),
                html.Button(
                    t("export_btn", lang), id=ids.EXPORT_BTN, n_clicks=0, style={"marginTop": "6px"}
                ),
                html.Button(
                    t("report_btn", lang), id=ids.REPORT_BTN, n_clicks=0, style={"marginTop": "6px"}
                ),
                dcc.Loading(html.Div(id=ids.EXPORT_MSG, className="lc-note"), type="dot"),
                dcc.Download(id=ids.DOWNLOAD),
            ],
        )
        centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        lmap = dl.Map(id=ids.MAP, bounds=bounds, center=centre, zoom=15, zoomSnap=0.25,
                      attributionControl=False, style={"height": "100%"}, children=[
            dl.AttributionControl(prefix=f"Leaflet | {OSM_CREDIT}", position="bottomright"),
            dl.LayerGroup(id=ids.TILES_LAYER),
            # Leaflet panes fix the drawing order whatever layer is redrawn last:
            # tile (200) < overlay (400) < shadow (500) < marker (600)
            dl.GeoJSON(id=ids.BOUNDARIES, style=JS_STYLE, onEachFeature=JS_EACH,
                       interactive=False, pane="tilePane"),
            dl.GeoJSON(id=ids.CELLS, style=JS_STYLE, onEachFeature=JS_EACH, pane="overlayPane"),
            # streets above the cells (drawn from our data: works offline), not clickable
            dl.GeoJSON(id=ids.STREETS, url=streets_url(area0) if area0 else None,
                       style=JS_STYLE, interactive=False, attribution=OSM_CREDIT,
                       pane="shadowPane"),
            dl.GeoJSON(id=ids.GAPS, style=JS_STYLE, onEachFeature=JS_EACH, pane="shadowPane"),
            dl.GeoJSON(id=ids.SELECTED, style=JS_STYLE, onEachFeature=JS_EACH,
                       interactive=False, pane="shadowPane"),
            dl.GeoJSON(id=ids.STREET_LABELS, pointToLayer=JS_LABEL, interactive=False,
                       pane="shadowPane"),
            dl.GeoJSON(id=ids.FACILITIES, pointToLayer=JS_POINT, onEachFeature=JS_EACH,
                       pane="markerPane"),
            dl.GeoJSON(id=ids.WHATIF_LAYER, pointToLayer=JS_POINT, onEachFeature=JS_EACH,
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
            id=ids.MAPWRAP,
            className="lc-mapwrap",
            children=[
                lmap,
                html.Div(badge, id=ids.AREA_BADGE, className="lc-area-badge"),
                html.Div(legend(lang), id=ids.LEGEND, className="lc-legend"),
            ],
        )
        panel = html.Div(
            className="lc-panel",
            children=[
                html.Div(id=ids.SUMMARY, className="lc-summary"),
                html.Div(id=ids.MESSAGE, className="lc-msg"),
                html.Div(id=ids.URL_MSG, className="lc-msg"),
                html.H4(t("whatif", lang), id=ids.WHATIF_TITLE, style={"margin": "8px 0 2px"}),
                html.Div(t("whatif_help", lang), id=ids.WHATIF_HELP, className="lc-note"),
                html.Div(html.Div(t("whatif_none", lang), className="lc-note"), id=ids.WHATIF_LIST),
                html.Button(
                    t("whatif_clear", lang),
                    id=ids.WHATIF_CLEAR,
                    n_clicks=0,
                    style={"fontSize": "12px"},
                ),
                html.Div(id=ids.WHATIF_MSG, className="lc-msg"),
                html.Hr(),
                html.Div(html.Div(t("panel_prompt", lang), className="lc-note"), id=ids.PANEL),
            ],
        )
        header = html.Div(
            className="lc-header",
            children=[
                html.H1(t("title", lang), id=ids.TITLE),
                html.Span(t("subtitle", lang), id=ids.SUBTITLE, className="lc-sub"),
                notice,
            ],
        )
        footer = html.Div(t("credit", lang), id=ids.FOOTER, className="lc-footer")
        return html.Div(
            [
                dcc.Location(id=ids.URL, refresh=False),
                dcc.Store(id=ids.SESSION, data=uuid.uuid4().hex),
                dcc.Store(id=ids.WHATIF_REV, data=0),
                header,
                html.Div([controls, mapwrap, panel], className="lc-main"),
                footer,
            ]
        )

    return layout
