"""The city view: every screened subdistrict on one map, ranked; a click opens its own view.

Served at ``/city/`` beside the subdistrict dashboard (:func:`create_city_server`). The polygons
are coloured by the share covered for the chosen category (or the composite) and tier, with the
marks the subdistrict views use (:func:`dashboard.layers.cell_style`): a dotted outline for the
estimate basis, a grey hatch where the figure is unknown (no population, no facility data, a
failed area). Clicking a polygon (or a name in the ranking) opens ``/city/open/<area>``, which
remembers the area in a cookie and shows today's subdistrict view (:func:`dashboard.app.create_app`
on ``<out>/areas/<area>/``) at ``/``. Nothing here reads the stages: the command line hands in
the city table and polygons (:mod:`geo.city.screen`) and the catalogue registry.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import dash
import dash_leaflet as dl
import pandas as pd
from dash import Input, Output, dcc, html
from flask import Flask, abort, make_response, redirect

from dashboard.app import create_app
from dashboard.layers import cell_style
from geo.reporting.results import BASIS_LABELS, OSM_CREDIT, share_legend

CITY_PREFIX = "/city/"
OPEN_ROUTE = "/city/open/"
COOKIE = "lc_area"

#: Component ids of the city view.
CITY_MAP = "city-map"
CITY_AREAS = "city-areas"
CITY_CATEGORY = "city-category"
CITY_TIER = "city-tier"
CITY_RANKING = "city-ranking"
CITY_GO = "city-go"
CITY_BACK = "city-back"

#: Tier choices: the standard threshold of each category, or a tier in minutes.
STANDARD = "std"

#: Area status marks and labels (Chinese, English).
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "ok": ("网络距离", "network"),
    "estimate": ("估算", "estimate"),
    "no_data": ("无数据", "no data"),
    "no_population": ("无人口数据", "no population"),
    "failed": ("失败", "failed"),
}
_JS_STYLE = {"variable": "lifecircle.style"}
_JS_EACH = {"variable": "lifecircle.each"}
ASSETS = Path(__file__).resolve().parent / "assets"


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def select_rows(table: pd.DataFrame, category: str, tier: str | int) -> pd.DataFrame:
    """One row per area: the category at its standard threshold (``std``) or at a tier."""
    sel = table[table["category"].astype(str) == category]
    if str(tier) == STANDARD:
        sel = sel[sel["is_standard_tier"].fillna(False).astype(bool)]
    else:  # a category's row at its own tier is its standard row; the composite has both
        sel = sel[sel["tier"] == float(tier)]
    return sel.drop_duplicates("area").set_index("area")


def ranking(table: pd.DataFrame, category: str, tier: str | int) -> pd.DataFrame:
    """Areas by share, best first; areas without a figure last (``rank`` empty)."""
    rows = select_rows(table, category, tier).reset_index()
    rows["rank"] = rows["share"].rank(ascending=False, method="min")
    return rows.sort_values(["rank", "area"], na_position="last").reset_index(drop=True)


def feature_collection(
    polygons: Any, table: pd.DataFrame, category: str, tier: str | int
) -> dict[str, Any]:
    """GeoJSON of the subdistricts with their style, tooltip and class for the chosen figure."""
    rows = select_rows(table, category, tier)
    feats = []
    for rec in polygons.itertuples(index=False):
        geom = rec.geometry
        if geom is None or geom.is_empty:
            continue
        aid = str(rec.area)
        r = rows.loc[aid] if aid in rows.index else None
        share = _finite(r["share"]) if r is not None else None
        status = str(r["area_status"]) if r is not None else "failed"
        basis = str(r["basis"]) if r is not None else ""
        # the marks of the subdistrict views: hatch = no figure, dotted outline = estimate
        style = cell_style(math.nan if share is None else share, basis)
        style["color"] = "#3f3f3f" if basis == "estimate" or share is None else "#333333"
        style["weight"] = 1.6 if basis == "estimate" else 1.0
        label = "—" if share is None else f"{share:.0%}"
        why = ""
        if r is not None and share is None and str(r.get("data_status") or "ok") != "ok":
            why = str(r["data_status"])  # e.g. no_facility_data: unknown, not 0 %
        zh, en = STATUS_LABELS.get(status, (status, status))
        tip = f"{rec.name_zh} ({rec.district}) {label} · {zh} / {en}" + (f" · {why}" if why else "")
        feats.append(
            {
                "type": "Feature",
                "id": aid,
                "geometry": geom.__geo_interface__,
                "properties": {
                    "area": aid,
                    "style": style,
                    "tooltip": tip,
                    "cls": f"lc-city-area lc-city-{aid}",
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def ranking_table(table: pd.DataFrame, category: str, tier: str | int) -> html.Table:
    """Return the ranking as an HTML table; names link to the subdistrict views."""
    head = html.Tr(
        [html.Th(x) for x in ("#", "街道 subdistrict", "区 district", "覆盖 share", "依据 basis")]
    )
    body = []
    # the composite averages the categories with facility data: say how many of all
    n_categories = table.loc[table["category"] != "composite", "category"].nunique()
    for r in ranking(table, category, tier).to_dict("records"):
        share = _finite(r["share"])
        rank = "" if _finite(r["rank"]) is None else f"{int(r['rank'])}"
        basis = BASIS_LABELS.get(str(r["basis"]), (str(r["basis"]), ""))[0] if r["basis"] else ""
        status = str(r["area_status"])  # the basis label already says "estimate"
        mark = (
            ""
            if status in ("ok", "estimate")
            else f" ⚠ {STATUS_LABELS.get(status, (status, status))[0]}"
        )
        n_cat = _finite(r.get("n_categories"))
        of = f" · {int(n_cat)}/{n_categories}" if n_cat is not None and share is not None else ""
        body.append(
            html.Tr(
                [
                    html.Td(rank),
                    html.Td(
                        html.A(
                            r["name_zh"],
                            href=f"{OPEN_ROUTE}{r['area']}",
                            id=f"city-open-{r['area']}",
                        )
                    ),
                    html.Td(r["district"]),
                    html.Td("—" if share is None else f"{share:.1%}{of}"),
                    html.Td(f"{basis}{mark}"),
                ]
            )
        )
    return html.Table([html.Thead(head), html.Tbody(body)], className="lc-city-table")


def category_options(table: pd.DataFrame) -> list[dict[str, str]]:
    """Composite first, then the categories in table order (bilingual labels)."""
    cats = table.drop_duplicates("category")
    opts = []
    for r in cats.to_dict("records"):
        label = f"{r.get('category_zh') or r['category']} {r.get('category_en') or ''}".strip()
        opts.append({"label": label, "value": str(r["category"])})
    opts.sort(key=lambda o: o["value"] != "composite")
    return opts


def legend() -> html.Div:
    """Share classes, the unknown hatch and the estimate outline."""
    items: list[Any] = [html.B("覆盖率 share"), html.Br()]
    for colour, label in share_legend()[::-1]:
        items += [html.Span(className="lc-swatch", style={"background": colour}), label, html.Br()]
    items += [
        html.Span(
            className="lc-swatch",
            style={"background": "repeating-linear-gradient(45deg,#8c8c8c 0 3px,#eee 3px 6px)"},
        ),
        "未知 unknown (无人口/无数据/失败)",
        html.Br(),
        html.Span(className="lc-swatch", style={"border": "2px dotted #3f3f3f"}),
        "估算 estimate (直线×绕行系数)",
    ]
    return html.Div(items, className="lc-legend")


def make_city_layout(table: pd.DataFrame, polygons: Any, facts: dict[str, Any]) -> html.Div:
    """Return the city page: controls, map with the subdistricts, ranking."""
    n = polygons["area"].nunique() if len(polygons) else 0
    b = polygons.total_bounds if len(polygons) else (121.3, 31.1, 121.6, 31.4)
    counts = table.drop_duplicates("area")["area_status"].astype(str).value_counts()
    summary = ", ".join(
        f"{STATUS_LABELS.get(str(k), (str(k), ''))[0]} {v}" for k, v in counts.sort_index().items()
    )
    return html.Div(
        [
            html.Div(
                [
                    html.H1("全市15分钟生活圈筛查 · city screen"),
                    html.Span(f"{n} 街道/镇 subdistricts · {summary}", className="lc-sub"),
                ],
                className="lc-header",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.Label("类别 category", className="lc-lab"),
                            dcc.Dropdown(
                                id=CITY_CATEGORY,
                                options=category_options(table),
                                value="composite",
                                clearable=False,
                            ),
                            html.Label("时间圈 tier", className="lc-lab"),
                            dcc.RadioItems(
                                id=CITY_TIER,
                                options=[
                                    {"label": "标准 standard", "value": STANDARD},
                                    *(
                                        {"label": f"{m} 分钟 min", "value": str(m)}
                                        for m in (5, 10, 15)
                                    ),
                                ],
                                value=STANDARD,
                                className="lc-radio",
                            ),
                            html.P(
                                "点击街道查看详情 / click a subdistrict to open it",
                                className="lc-note",
                            ),
                            html.P(
                                "Facilities: OSM + Geofabrik; population: 2010 census. "
                                "Unknown is not 0 %.",
                                className="lc-note",
                            ),
                        ],
                        className="lc-controls",
                    ),
                    html.Div(
                        [
                            dl.Map(
                                [
                                    dl.GeoJSON(
                                        id=CITY_AREAS,
                                        data=feature_collection(
                                            polygons, table, "composite", STANDARD
                                        ),
                                        style=_JS_STYLE,
                                        onEachFeature=_JS_EACH,
                                    )
                                ],
                                id=CITY_MAP,
                                bounds=[[b[1], b[0]], [b[3], b[2]]],
                                style={"height": "100%", "width": "100%"},
                                attributionControl=True,
                            ),
                            legend(),
                        ],
                        className="lc-mapwrap",
                    ),
                    html.Div(
                        ranking_table(table, "composite", STANDARD),
                        id=CITY_RANKING,
                        className="lc-panel",
                    ),
                ],
                className="lc-main",
            ),
            html.Div(
                f"Map data {OSM_CREDIT} (ODbL) · wall time {facts.get('wall_seconds', '—')} s",
                className="lc-footer",
            ),
            dcc.Location(id=CITY_GO, refresh=True),
        ]
    )


def create_city_app(
    table: pd.DataFrame, polygons: Any, facts: dict[str, Any] | None = None
) -> dash.Dash:
    """Return the city view as a Dash app under ``/city/`` (its own Flask server)."""
    app = dash.Dash(
        __name__,
        url_base_pathname=CITY_PREFIX,
        assets_folder=str(ASSETS),
        title="全市筛查 · city screen",
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]
    )
    known = set(table["area"].astype(str))
    app.layout = make_city_layout(table, polygons, facts or {})

    @app.callback(
        Output(CITY_AREAS, "data"),
        Output(CITY_RANKING, "children"),
        Input(CITY_CATEGORY, "value"),
        Input(CITY_TIER, "value"),
        prevent_initial_call=True,
    )
    def on_choice(category: Any, tier: Any) -> tuple[Any, Any]:
        cat = str(category or "composite")
        t = str(tier or STANDARD)
        return feature_collection(polygons, table, cat, t), ranking_table(table, cat, t)

    @app.callback(
        Output(CITY_GO, "href"), Input(CITY_AREAS, "clickData"), prevent_initial_call=True
    )
    def on_click(feature: Any) -> Any:
        aid = str(((feature or {}).get("properties") or {}).get("area", ""))
        if aid not in known:
            return dash.no_update
        return f"{OPEN_ROUTE}{aid}"

    server: Flask = app.server  # Dash types it Any; the Flask app, typed for its decorators

    @server.route(f"{OPEN_ROUTE}<area>")
    def open_area(area: str) -> Any:
        # only known area ids: the cookie never names a file
        if area not in known:
            abort(404)
        resp = make_response(redirect("/"))
        resp.set_cookie(COOKIE, area, path="/", samesite="Lax")
        return resp

    return app


class CityServer:
    """Route a request: ``/city/...`` to the city view, anything else to a subdistrict view.

    The subdistrict view is the area opened last (cookie), else the results folder's own
    dashboard, else the city view.
    """

    def __init__(
        self,
        city: dash.Dash,
        area_app: Callable[[str], dash.Dash],
        areas: set[str],
        root: dash.Dash | None = None,
        keep: int = 6,
    ) -> None:
        self.city = city
        self.root = root
        self.areas = areas
        self._make = area_app
        self._apps: OrderedDict[str, dash.Dash] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def area_app(self, area: str) -> dash.Dash:
        """Return the subdistrict app of ``area`` (built on first use; a few are kept)."""
        with self._lock:
            app = self._apps.get(area)
            if app is None:
                app = self._make(area)
                self._apps[area] = app
                while len(self._apps) > self._keep:
                    self._apps.popitem(last=False)
            self._apps.move_to_end(area)
            return app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve one WSGI request through the city view or a subdistrict view."""
        path = str(environ.get("PATH_INFO", ""))
        if path == "/city":
            start_response("302 Found", [("Location", CITY_PREFIX)])
            return [b""]
        if path.startswith(CITY_PREFIX):
            return self.city.server(environ, start_response)
        jar = SimpleCookie(str(environ.get("HTTP_COOKIE", "")))
        area = jar[COOKIE].value if COOKIE in jar else ""
        if area in self.areas:
            return self.area_app(area).server(environ, start_response)
        if self.root is not None:
            return self.root.server(environ, start_response)
        start_response("302 Found", [("Location", CITY_PREFIX)])
        return [b""]

    @property
    def server(self) -> CityServer:
        """The WSGI callable (``serve`` takes ``app.server``)."""
        return self


def with_back_link(app: dash.Dash) -> dash.Dash:
    """Add a fixed "back to the city" link to a subdistrict app's page."""
    inner = app.layout
    link = html.A(
        "← 全市 city",
        href=CITY_PREFIX,
        id=CITY_BACK,
        style={
            "position": "fixed",
            "right": "14px",
            "top": "7px",
            "zIndex": 2000,
            "background": "white",
            "padding": "3px 8px",
            "border": "1px solid #16324f",
            "borderRadius": "4px",
        },
    )
    if callable(inner):  # a layout function (a new session id per page load)
        app.layout = lambda: html.Div([inner(), link])
    else:
        app.layout = html.Div([inner, link])
    return app


def create_city_server(
    out_dir: str | Path,
    table: pd.DataFrame,
    polygons: Any,
    *,
    registry: Any,
    facts: dict[str, Any] | None = None,
    root: dash.Dash | None = None,
    taxonomy: Any = None,
    preload: bool = False,
) -> CityServer:
    """Return the city view plus the subdistrict views of ``<out_dir>/areas/<id>/``.

    Parameters
    ----------
    out_dir
        The screen's results folder.
    table, polygons
        The city table and the subdistrict polygons (``geo.city.screen.read_city``).
    registry
        The catalogue registry (names and boundaries of every subdistrict).
    facts
        The screen's run facts (shown in the footer).
    root
        The results folder's own dashboard (``lifecircle run``), served at ``/`` until a
        subdistrict is opened; None sends ``/`` to the city view.
    taxonomy, preload
        Passed to :func:`dashboard.app.create_app` for each subdistrict view.
    """
    out = Path(out_dir)
    ok = set(
        table.loc[table["area_status"] != "failed", "area"].astype(str)
    )  # failed areas have no view
    ok = {a for a in ok if (out / "areas" / a / "coverage.csv").exists()}

    def make(area: str) -> dash.Dash:
        app = create_app(
            out / "areas" / area,
            registry=registry,
            taxonomy=taxonomy,
            preload=preload,
            areas=[area],
        )
        return with_back_link(app)

    city = create_city_app(table, polygons, facts)
    return CityServer(city, make, ok, root=root)
