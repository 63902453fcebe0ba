"""Dash callbacks. They only look results up (loaded once) or ask the what-if service.

Every input is validated: an unknown area/category/tier/scenario/profile, a malformed session
id or a click outside the area gives a visible message, never a server error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import dash_leaflet as dl
import flask
import numpy as np
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard import ids, layers
from dashboard.data import DashboardData
from dashboard.i18n import t
from dashboard.layout import (
    area_options,
    legend,
    mode_options,
    profile_options,
    scenario_options,
    tier_options,
)
from dashboard.whatif import WhatIfError, WhatIfService
from geo import settings
from geo._errors import LifeCircleError
from geo.reporting.export import export
from geo.reporting.results import COMPOSITE, OSM_CREDIT, data_status, data_status_label

log = logging.getLogger("lifecircle.dashboard")

#: Exports (matplotlib/folium/openpyxl) allowed to run at the same time.
EXPORT_SLOTS: int = 2

#: Callback timings (name -> list of seconds), for scripts/bench_dashboard.py.
TIMINGS: dict[str, list[float]] = {}


def _timed(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                TIMINGS.setdefault(name, []).append(time.perf_counter() - t0)
                if len(TIMINGS[name]) > 10000:
                    del TIMINGS[name][:5000]

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return deco


def _lang(value: Any) -> str:
    return "en" if value == "en" else "zh"


def _bad(lang: str, exc: Exception) -> str:
    return f"{t('bad_input', lang)}: {exc}"


def _data_status_note(results: Any, area: str, category: str, scenario: str, profile: str) -> list:
    """Grey "无设施数据 / no facility data" and the sources searched (no data is not 0 %)."""
    status, searched = data_status(results, area, category, scenario=scenario, profile=profile)
    if status == "ok":
        return []
    return [
        html.Div(
            [
                html.B(data_status_label(status)),
                f" · searched 已检索: {searched}" if searched else "",
            ],
            id=ids.AREA_DATA_STATUS,
            className="lc-nodata",
            style={"background": "#e6e6e6", "color": "#555", "padding": "2px 4px"},
        )
    ]


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{f:.1%}" if np.isfinite(f) else "—"


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{f:,.0f}" if np.isfinite(f) else "—"


@dataclass
class AppState:
    """What the callbacks of one app look up (kept in ``app.server.extensions``)."""

    data: DashboardData
    service: WhatIfService
    streets_url: Callable[[str], str]
    version: str = "0"
    export_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(EXPORT_SLOTS)
    )


#: Callbacks defined in this module: (dependencies, keyword arguments, function).
_CALLBACKS: list[tuple[tuple[Any, ...], dict[str, Any], Callable[..., Any]]] = []


def _callback(*deps: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record a module-level callback; :func:`register` attaches it to an app."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _CALLBACKS.append((deps, kwargs, fn))
        return fn

    return deco


def _state() -> AppState:
    """The state of the app serving the current request."""
    return cast(AppState, flask.current_app.extensions["lifecircle"])


def register(
    app: Dash,
    data: DashboardData,
    service: WhatIfService,
    streets_url: Callable[[str], str],
    version: str = "0",
) -> None:
    """Attach every callback of this module to ``app`` (``version`` tags static layer URLs)."""
    app.server.extensions["lifecircle"] = AppState(data, service, streets_url, version)
    for deps, kwargs, fn in _CALLBACKS:
        app.callback(*deps, **kwargs)(fn)


# -- language ---------------------------------------------------------------------------
#: Components whose text is one i18n key: (component id, text key).
LABELS: tuple[tuple[str, str], ...] = (
    (ids.LAB_AREA, "area"),
    (ids.LAB_CATEGORY, "category"),
    (ids.LAB_TIER, "tier"),
    (ids.LAB_SCENARIO, "scenario"),
    (ids.LAB_PROFILE, "profile"),
    (ids.LAB_LANG, "language"),
    (ids.LAB_MODE, "mode"),
    (ids.LAB_EXPORT, "export"),
    (ids.LAB_FORMAT, "format"),
    (ids.LAB_PAPER, "paper"),
    (ids.EXPORT_BTN, "export_btn"),
    (ids.TITLE, "title"),
    (ids.SUBTITLE, "subtitle"),
    (ids.WHATIF_TITLE, "whatif"),
    (ids.WHATIF_HELP, "whatif_help"),
    (ids.WHATIF_CLEAR, "whatif_clear"),
    (ids.FOOTER, "credit"),
)


@_callback(
    [Output(i, "children") for i, _ in LABELS]
    + [
        Output(ids.AREA, "options"),
        Output(ids.CATEGORY, "options"),
        Output(ids.TIER, "options"),
        Output(ids.SCENARIO, "options"),
        Output(ids.PROFILE, "options"),
        Output(ids.MODE, "options"),
        Output(ids.TILES, "options"),
        Output(ids.LEGEND, "children"),
    ],
    Input(ids.LANG, "value"),
    prevent_initial_call=True,  # the page is laid out in Chinese already
)
@_timed("language")
def on_language(lang_value: Any) -> list[Any]:
    st = _state()
    data = st.data
    lang = _lang(lang_value)
    texts: list[Any] = [t(k, lang) for _, k in LABELS]
    return [
        *texts,
        area_options(data, lang),
        data.category_options(lang),
        tier_options(lang),
        scenario_options(lang),
        profile_options(lang),
        mode_options(lang),
        [{"label": t("tiles", lang), "value": "on"}],
        legend(lang),
    ]


# -- optional online tiles -------------------------------------------------------------
@_callback(Output(ids.TILES_LAYER, "children"), Input(ids.TILES, "value"))
def on_tiles(value: Any) -> list[Any]:
    if isinstance(value, list) and "on" in value:
        return [
            dl.TileLayer(
                url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                attribution=OSM_CREDIT,
                opacity=0.6,
            )
        ]
    return []


# -- area: streets, outlines, viewport, badge ---------------------------------------------
@_callback(
    Output(ids.STREETS, "url"),
    Output(ids.BOUNDARIES, "data"),
    Output(ids.MAP, "viewport"),
    Output(ids.AREA_BADGE, "children"),
    Input(ids.AREA, "value"),
    Input(ids.LANG, "value"),
)
@_timed("area")
def on_area(area: Any, lang_value: Any) -> tuple[Any, ...]:
    st = _state()
    data, results = st.data, st.data.results
    lang = _lang(lang_value)
    try:
        data.check(area)
    except LifeCircleError as exc:
        return no_update, no_update, no_update, html.Span(_bad(lang, exc), className="lc-msg")
    info = results.areas[area]
    badge = html.Span(
        layers.basis_label(info.basis, info.completeness, lang),
        className=f"lc-badge lc-badge-{info.basis}",
        id=ids.BASIS_BADGE,
    )
    viewport: Any = no_update
    if ctx.triggered_id != ids.LANG:  # the first load and a new area fit the map
        viewport = {"bounds": data.bounds(area), "transition": "fitBounds"}
    return (st.streets_url(area), layers.boundaries_geojson(data, area, lang), viewport, badge)


# -- main view ------------------------------------------------------------------------
@_callback(
    Output(ids.CELLS, "url"),
    Output(ids.CELLS, "data"),
    Output(ids.FACILITIES, "url"),
    Output(ids.GAPS, "url"),
    Output(ids.WHATIF_LAYER, "data"),
    Output(ids.SUMMARY, "children"),
    Output(ids.MESSAGE, "children"),
    Input(ids.AREA, "value"),
    Input(ids.CATEGORY, "value"),
    Input(ids.TIER, "value"),
    Input(ids.SCENARIO, "value"),
    Input(ids.PROFILE, "value"),
    Input(ids.LANG, "value"),
    Input(ids.WHATIF_REV, "data"),
    State(ids.SESSION, "data"),
)
@_timed("view")
def on_view(
    area: Any,
    category: Any,
    tier: Any,
    scenario: Any,
    profile: Any,
    lang_value: Any,
    _rev: Any,
    session: Any,
) -> tuple[Any, ...]:
    st = _state()
    data, service, results = st.data, st.service, st.data.results
    lang = _lang(lang_value)
    empty = {"type": "FeatureCollection", "features": []}
    try:
        area, category, tier, scenario, profile = data.check(
            area, category, tier, scenario, profile
        )
    except LifeCircleError as exc:
        return None, empty, None, None, empty, "", _bad(lang, exc)
    msgs: list[str] = []
    evaluation = None
    added: list[Any] = []
    try:
        added = service.added(session, area, category)
        evaluation = service.evaluate(session, area, category, tier, scenario, profile)
    except WhatIfError as exc:
        msgs.append(f"{t(exc.key, lang)} ({exc})")
    # static layers go by URL (served from memory, cached by the browser); only the
    # what-if colouring, which is per session, is sent as data
    params = {
        "area": area,
        "category": category,
        "tier": tier,
        "scenario": scenario,
        "profile": profile,
        "lang": lang,
    }
    cells_url = layers.layer_url("cells", st.version, **params)
    cells_data = None
    if evaluation is not None:
        cells_data = layers.cells_geojson(
            data,
            area,
            category,
            tier=tier,
            scenario=scenario,
            profile=profile,
            lang=lang,
            evaluation=evaluation,
        )
    fac_url = layers.layer_url("facilities", st.version, **params)
    gaps_url = layers.layer_url("gaps", st.version, **params)
    wi = layers.whatif_geojson(added, lang)
    cats, fallback = data.coverage(area, tier, scenario, profile)
    rec = cats.get(category, {}).get("ALL")
    info = results.areas[area]
    s: dict[str, Any] = {
        "share": rec.share if rec else None,
        "population": rec.population if rec else None,
        "covered_population": rec.covered if rec else None,
        "basis": rec.basis if rec else info.basis,
    }
    if fallback:
        msgs.append(t("fallback", lang))
    summary: list[Any] = [
        html.B(
            f"{info.label(lang)} · {data.category_label(category, lang)}"
            if category != COMPOSITE
            else f"{info.label(lang)} · {'综合得分' if lang == 'zh' else 'Composite score'}"
        ),
        html.Br(),
        f"{t('area_share', lang)} {t('share', lang)}: ",
        html.B(_pct(s["share"]), id=ids.AREA_SHARE),
        f" ({t('covered', lang)} {_num(s['covered_population'])} / {_num(s['population'])})",
        html.Br(),
        *_data_status_note(results, area, category, scenario, profile),
        html.Span(
            layers.basis_label(s["basis"], info.completeness, lang),
            className=f"lc-badge lc-badge-{s['basis']}",
        ),
        html.Span(
            f"  {t('speed', lang)} {settings.WALK_SPEEDS_KMH[profile]:g} km/h · "
            f"{t('data_date', lang)} {results.data_date(area)}",
            className="lc-note",
        ),
    ]
    if evaluation is not None:
        delta = (evaluation.area_after - evaluation.area_before) * 100
        summary += [
            html.Br(),
            html.Span(
                f"{t('whatif', lang)} ({evaluation.n_added}): "
                f"{_pct(evaluation.area_before)} → {_pct(evaluation.area_after)} "
                f"({delta:+.1f} pp)",
                id=ids.WHATIF_SUMMARY,
                style={"color": "#7a0177"},
            ),
            html.Div(
                t("whatif_engine", lang)
                if evaluation.method == "network"
                else f"{t('whatif_estimate', lang)} {evaluation.factor:.2f}",
                className="lc-note",
                id=ids.WHATIF_METHOD,
            ),
        ]
    return cells_url, cells_data, fac_url, gaps_url, wi, summary, "\n".join(msgs)


# -- what-if ----------------------------------------------------------------------------
@_callback(
    Output(ids.WHATIF_REV, "data"),
    Output(ids.WHATIF_LIST, "children"),
    Output(ids.WHATIF_MSG, "children"),
    # n_clicks, not clickData: a second click on the same spot must add again
    Input(ids.MAP, "n_clicks"),
    Input({"type": ids.WHATIF_REMOVE, "index": ALL}, "n_clicks"),
    Input(ids.WHATIF_CLEAR, "n_clicks"),
    Input(ids.AREA, "value"),
    Input(ids.CATEGORY, "value"),
    Input(ids.LANG, "value"),
    State(ids.MAP, "clickData"),
    State(ids.MODE, "value"),
    State(ids.SESSION, "data"),
    State(ids.WHATIF_REV, "data"),
    prevent_initial_call=True,  # a new page has a new session: nothing added yet
)
@_timed("whatif")
def on_whatif(
    _map_clicks: Any,
    _removes: Any,
    _clear: Any,
    area: Any,
    category: Any,
    lang_value: Any,
    click: Any,
    mode: Any,
    session: Any,
    rev: Any,
) -> tuple[Any, ...]:
    st = _state()
    data, service = st.data, st.service
    lang = _lang(lang_value)
    rev = rev if isinstance(rev, int) else 0
    msg = ""
    changed = False
    try:
        area, category, *_ = data.check(area, category)
        trig = ctx.triggered_id
        value = ctx.triggered[0].get("value") if ctx.triggered else None
        if trig == ids.MAP and mode == "add" and isinstance(click, dict):
            if category == COMPOSITE:
                raise WhatIfError("whatif_composite", "composite")
            ll = click.get("latlng") or {}
            lat = ll.get("lat") if isinstance(ll, dict) else None
            lon = ll.get("lng") if isinstance(ll, dict) else None
            service.add(session, area, category, lon, lat)
            changed = True
        elif isinstance(trig, dict) and trig.get("type") == ids.WHATIF_REMOVE and value:
            changed = service.remove(session, area, category, trig.get("index"))
        elif trig == ids.WHATIF_CLEAR and value:
            service.clear(session, area, category)
            changed = True
        added = service.added(session, area, category)
    except WhatIfError as exc:
        msg = f"{t(exc.key, lang)}"
        try:
            added = service.added(session, area, category)
        except WhatIfError:
            added = []
    except LifeCircleError as exc:
        return no_update, no_update, _bad(lang, exc)
    items: list[Any] = (
        [html.Div(t("whatif_none", lang), className="lc-note")]
        if not added
        else [
            html.Div(
                className="lc-whatif-item",
                children=[
                    html.Span(f"#{a.id}  {a.lat:.5f}, {a.lon:.5f}"),
                    html.Button(
                        t("whatif_remove", lang),
                        n_clicks=0,
                        id={"type": ids.WHATIF_REMOVE, "index": a.id},
                        style={"fontSize": "11px"},
                    ),
                ],
            )
            for a in added
        ]
    )
    return (rev + 1 if changed else no_update), items, msg


# -- neighbourhood panel ---------------------------------------------------------------
@_callback(
    Output(ids.PANEL, "children"),
    Input(ids.CELLS, "clickData"),
    Input(ids.AREA, "value"),
    Input(ids.TIER, "value"),
    Input(ids.SCENARIO, "value"),
    Input(ids.PROFILE, "value"),
    Input(ids.LANG, "value"),
    Input(ids.WHATIF_REV, "data"),
    Input(ids.CATEGORY, "value"),
    State(ids.SESSION, "data"),
)
@_timed("panel")
def on_panel(
    click: Any,
    area: Any,
    tier: Any,
    scenario: Any,
    profile: Any,
    lang_value: Any,
    _rev: Any,
    category: Any,
    session: Any,
) -> Any:
    st = _state()
    data, service = st.data, st.service
    lang = _lang(lang_value)
    try:
        area, category, tier, scenario, profile = data.check(
            area, category, tier, scenario, profile
        )
    except LifeCircleError as exc:
        return html.Div(_bad(lang, exc), className="lc-msg")
    unit = None
    if isinstance(click, dict):
        props = click.get("properties") or {}
        unit = props.get("unit") if isinstance(props, dict) else None
    recon = _reconciliation(data, area, lang)
    if not isinstance(unit, str) or unit not in data.unit_ids(area):
        return [html.Div(t("panel_prompt", lang), className="lc-note"), *recon]
    return [
        *_unit_panel(data, service, session, area, unit, category, tier, scenario, profile, lang),
        *recon,
    ]


# -- export ---------------------------------------------------------------------------
@_callback(
    Output(ids.DOWNLOAD, "data"),
    Output(ids.EXPORT_MSG, "children"),
    Input(ids.EXPORT_BTN, "n_clicks"),
    State(ids.EXPORT_FORMAT, "value"),
    State(ids.EXPORT_PAPER, "value"),
    State(ids.AREA, "value"),
    State(ids.CATEGORY, "value"),
    State(ids.TIER, "value"),
    State(ids.SCENARIO, "value"),
    State(ids.PROFILE, "value"),
    State(ids.LANG, "value"),
    prevent_initial_call=True,
)
@_timed("export")
def on_export(
    n: Any,
    fmt: Any,
    paper: Any,
    area: Any,
    category: Any,
    tier: Any,
    scenario: Any,
    profile: Any,
    lang_value: Any,
) -> tuple[Any, Any]:
    st = _state()
    data, results = st.data, st.data.results
    lang = _lang(lang_value)
    if not n:
        return no_update, no_update
    # exports take a second or two of CPU: at most EXPORT_SLOTS at once, so that a burst
    # of clicks cannot starve the map callbacks
    if not st.export_slots.acquire(blocking=False):
        return no_update, html.Span(t("export_busy", lang), className="lc-msg")
    try:
        area, category, tier, scenario, profile = data.check(
            area, category, tier, scenario, profile
        )
        path = export(
            results,
            area,
            category,
            str(fmt),
            tier=tier,
            scenario=scenario,
            profile=profile,
            paper=str(paper),
        )
    except LifeCircleError as exc:
        return no_update, html.Span(_bad(lang, exc), className="lc-msg")
    finally:
        st.export_slots.release()
    return dcc.send_file(str(path)), html.Span(
        f"{t('exported', lang)}: {path.name}", id=ids.EXPORT_DONE
    )


def _td(text: str, cls: str, category: str) -> html.Td:
    """A table cell tagged with its category (``data-category``, used by the browser tests)."""
    attrs: dict[str, Any] = {"data-category": category}
    return html.Td(text, className=cls, **attrs)


def _unit_panel(
    data: DashboardData,
    service: WhatIfService,
    session: Any,
    area: str,
    unit: str,
    category: str,
    tier: int,
    scenario: str,
    profile: str,
    lang: str,
) -> list[Any]:
    rows = data.unit_table(area, unit, tier=tier, scenario=scenario, profile=profile)
    name = next(
        (
            f["properties"].get("name")
            for f in data.cell_features(area)
            if f["properties"]["unit"] == unit
        ),
        "",
    )
    pops = [r["population"] for r in rows if np.isfinite(r["population"])]
    head = [
        html.H4(f"{t('panel_unit', lang)} {unit}", id=ids.PANEL_UNIT, style={"margin": "4px 0"}),
        html.Div(
            f"{name} · {t('population', lang)} {_num(pops[0]) if pops else '—'}"
            f" · {tier} {t('minutes', lang)}",
            className="lc-note",
        ),
    ]
    header = html.Tr(
        [
            html.Th(t("category", lang)),
            html.Th(t("share", lang)),
            html.Th(t("covered", lang)),
            html.Th(t("in_gaps", lang)),
            html.Th(t("nearest", lang)),
        ]
    )
    body = []
    for r in rows:
        q = r["q"]
        cat = str(r["category"])
        qtxt = (
            "—" if q is None else " / ".join("∞" if not np.isfinite(v) else f"{v:,.0f}" for v in q)
        )
        label = (
            data.category_label(cat, lang)
            if cat != COMPOSITE
            else ("综合得分" if lang == "zh" else "Composite")
        )
        body.append(
            html.Tr(
                [
                    html.Td(label),
                    _td(_pct(r["share"]), "lc-share", cat),
                    html.Td(f"{_num(r['covered_population'])} / {_num(r['population'])}"),
                    _td(_num(r["in_gaps"]), "lc-gap-pop", cat),
                    html.Td(qtxt),
                ],
                style={"fontWeight": "bold"} if cat == category else None,
            )
        )
    out: list[Any] = [
        *head,
        html.Table([html.Thead(header), html.Tbody(body)], id=ids.PANEL_TABLE),
        html.Div(t("nearest_note", lang), className="lc-note"),
    ]
    try:
        ev = service.evaluate(session, area, category, tier, scenario, profile)
    except WhatIfError:
        ev = None
    if ev is not None and unit in ev.cells:
        i = ev.cells.index(unit)
        out.append(
            html.Div(
                f"{t('whatif', lang)} · {data.category_label(category, lang)}: "
                f"{_pct(ev.before[i])} → {_pct(ev.after[i])}",
                id=ids.PANEL_WHATIF,
                style={"color": "#7a0177"},
            )
        )
    return out


def _reconciliation(data: DashboardData, area: str, lang: str) -> list[Any]:
    recon = data.results.reconciliation
    title = html.H4(t("recon", lang), style={"margin": "10px 0 4px"})
    if recon.empty or "area" not in recon:
        return [title, html.Div(t("recon_none", lang), className="lc-note")]
    sel = recon[recon["area"].astype(str) == area]
    if sel.empty:
        return [title, html.Div(t("recon_none", lang), className="lc-note")]
    cols = [
        ("plan_existing", "recon_plan_existing"),
        ("plan_new", "recon_plan_new"),
        ("plan_upgrade", "recon_plan_upgrade"),
        ("osm_count", "recon_osm"),
        ("difference", "recon_diff"),
    ]
    cols = [c for c in cols if c[0] in sel]
    header = html.Tr([html.Th(t("category", lang)), *[html.Th(t(k, lang)) for _, k in cols]])
    body = []
    for r in sel.to_dict("records"):
        label = data.category_label(str(r.get("category")), lang)
        body.append(
            html.Tr(
                [html.Td(label), *[html.Td(_num(r.get(c))) for c, _ in cols]],
                title=str(r.get("note", "") or ""),
            )
        )
    return [title, html.Table([html.Thead(header), html.Tbody(body)], id=ids.RECON_TABLE)]
