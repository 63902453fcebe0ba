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
from urllib.parse import parse_qs

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
from geo.reporting.fmt import num, pct
from geo.reporting.report import write_report
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


def _data_status_note(
    results: Any, area: str, category: str, scenario: str, profile: str, lang: str
) -> list[Any]:
    """Grey "无设施数据" / "no facility data" and the sources searched (no data is not 0 %)."""
    status, searched = data_status(results, area, category, scenario=scenario, profile=profile)
    if status == "ok":
        return []
    return [
        html.Div(
            [
                html.B(data_status_label(status, lang)),
                f" · {t('searched', lang)}: " if searched else "",
                html.Span(searched, className="lc-diagnostic") if searched else "",
            ],
            id=ids.AREA_DATA_STATUS,
            className="lc-nodata",
            style={"background": "#e6e6e6", "color": "#555", "padding": "2px 4px"},
        )
    ]


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


def callback_outputs(name: str) -> list[tuple[str, str]]:
    """Return ``[(component id, property)]`` of the outputs of callback ``name``, in order.

    What a client must ask for (``dashboard.client``, the tests); ``name`` e.g. ``on_view``.
    """
    for deps, _kwargs, fn in _CALLBACKS:
        if fn.__name__ == name:
            flat: list[Any] = []
            for d in deps:
                flat += d if isinstance(d, list) else [d]
            return [
                (str(o.component_id), str(o.component_property))
                for o in flat
                if isinstance(o, Output)
            ]
    raise ValueError(f"no callback named {name!r}")


def _state() -> AppState:
    """Return the state of the app serving the current request."""
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
    (ids.MISSING_LABEL, "missing"),
    (ids.REPORT_BTN, "report_btn"),
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
    """Relabel the page and its options in the chosen language."""
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
    """Show the online OSM tiles under the map when switched on (off by default)."""
    if isinstance(value, list) and "on" in value:
        return [
            dl.TileLayer(
                url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                attribution=OSM_CREDIT,
                opacity=0.6,
            )
        ]
    return []


# -- URL: ?area=...&category=... ------------------------------------------------------------
@_callback(
    Output(ids.AREA, "value"),
    Output(ids.CATEGORY, "value"),
    Output(ids.URL_MSG, "children"),
    Input(ids.URL, "search"),
    State(ids.LANG, "value"),
)
@_timed("url")
def on_url(search: Any, lang_value: Any) -> tuple[Any, ...]:
    """Open the area and category a link names; unknown ones get a visible message."""
    data = _state().data
    lang = _lang(lang_value)
    query = parse_qs(str(search or "").lstrip("?"))
    area: str | None = next(iter(query.get("area", [])), None)
    category: str | None = next(iter(query.get("category", [])), None)
    msgs: list[str] = []
    out_area: Any = no_update
    out_cat: Any = no_update
    if area is not None:
        try:
            data.check(area)
            out_area = area
        except LifeCircleError as exc:
            msgs.append(_bad(lang, exc))
    if category is not None:
        try:
            data.check(next(iter(data.results.areas), ""), category)
            out_cat = category
        except LifeCircleError as exc:
            msgs.append(_bad(lang, exc))
    return out_area, out_cat, html.Span("; ".join(msgs), className="lc-msg") if msgs else ""


# -- area: streets, outlines, viewport, badge ---------------------------------------------
@_callback(
    Output(ids.STREETS, "url"),
    Output(ids.STREET_LABELS, "data"),
    Output(ids.BOUNDARIES, "data"),
    Output(ids.MAP, "viewport"),
    Output(ids.AREA_BADGE, "children"),
    Input(ids.AREA, "value"),
    Input(ids.LANG, "value"),
)
@_timed("area")
def on_area(area: Any, lang_value: Any) -> tuple[Any, ...]:
    """Streets, street names, outlines, viewport and the area's one data badge."""
    st = _state()
    data, results = st.data, st.data.results
    lang = _lang(lang_value)
    try:
        data.check(area)
    except LifeCircleError as exc:
        msg = html.Span(_bad(lang, exc), className="lc-msg")
        return no_update, no_update, no_update, no_update, msg
    info = results.areas[area]
    basis = results.coverage_basis(area)
    badge = html.Span(
        layers.basis_label(basis, info.completeness, lang),
        className=f"lc-badge lc-badge-{basis}",
        id=ids.BASIS_BADGE,
    )
    viewport: Any = no_update
    if ctx.triggered_id != ids.LANG:  # the first load and a new area fit the map
        viewport = {"bounds": data.bounds(area), "transition": "fitBounds"}
    return (
        st.streets_url(area),
        layers.street_labels_geojson(data, area),
        layers.boundaries_geojson(data, area, lang),
        viewport,
        badge,
    )


# -- map click mode: gap outlines let clicks through while adding ---------------------------
@_callback(Output(ids.MAPWRAP, "className"), Input(ids.MODE, "value"))
def on_mode(mode: Any) -> str:
    """In add mode the gap outlines take no clicks (CSS), so every click adds a facility."""
    return "lc-mapwrap lc-mode-add" if mode == "add" else "lc-mapwrap"


# -- main view ------------------------------------------------------------------------
@_callback(
    Output(ids.CELLS, "url"),
    Output(ids.CELLS, "data"),
    Output(ids.FACILITIES, "url"),
    Output(ids.GAPS, "url"),
    Output(ids.GAPS, "data"),
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
    """Cells, facilities, gaps and the summary of the chosen view (what-if included)."""
    st = _state()
    data, service, results = st.data, st.service, st.data.results
    lang = _lang(lang_value)
    empty = {"type": "FeatureCollection", "features": []}
    try:
        area, category, tier, scenario, profile = data.check(
            area, category, tier, scenario, profile
        )
    except LifeCircleError as exc:
        msg = html.Span(_bad(lang, exc), className="lc-msg", id=ids.BAD_INPUT)
        return None, empty, None, None, empty, empty, "", msg
    msgs: list[str] = []
    evaluation = None
    added: list[Any] = []
    try:
        added = service.added(session, area, category)
        evaluation = service.evaluate(session, area, category, tier, scenario, profile)
    except WhatIfError as exc:
        msgs.append(f"{t(exc.key, lang)} ({exc})")
    # static layers go by URL (served from memory, cached by the browser); only what depends
    # on the session's simulated facilities is sent as data
    params = {
        "area": area,
        "category": category,
        "tier": tier,
        "scenario": scenario,
        "profile": profile,
        "lang": lang,
    }
    cells_url = layers.layer_url("cells", st.version, **params)
    gaps_url: str | None = layers.layer_url("gaps", st.version, **params)
    cells_data = None
    gaps_data = None
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
        gaps_data = layers.gaps_geojson(
            data,
            area,
            category,
            tier=tier,
            scenario=scenario,
            profile=profile,
            lang=lang,
            nearest_m=evaluation.nearest_m,
        )
        gaps_url = None
    fac_url = layers.layer_url("facilities", st.version, **params)
    wi = layers.whatif_geojson(added, lang)
    cats, fallback = data.coverage(area, tier, scenario, profile)
    rec = cats.get(category, {}).get("ALL")
    info = results.areas[area]
    if fallback:
        msgs.append(t("fallback", lang))
    label = (
        data.category_label(category, lang) if category != COMPOSITE else t("composite_label", lang)
    )
    estimate = "≈ " if results.coverage_basis(area) == "estimate" and rec else ""
    date = results.data_date(area)
    summary: list[Any] = [
        html.B(f"{info.label(lang)} · {label}"),
        html.Br(),
        f"{t('area_share', lang)} {t('share', lang)}: ",
        html.B(estimate + pct(rec.share if rec else None), id=ids.AREA_SHARE),
        f" ({t('covered', lang)} {num(rec.covered if rec else None)}"
        f" / {num(rec.population if rec else None)})",
        html.Br(),
        *_data_status_note(results, area, category, scenario, profile, lang),
        html.Span(
            f"{t('speed', lang)} {settings.WALK_SPEEDS_KMH[profile]:g} km/h · "
            f"{t('data_date', lang)} {date if date[:1].isdigit() else t('unknown', lang)}",
            className="lc-note",
        ),
    ]
    if rec is not None and np.isfinite(rec.threshold_m) and category != COMPOSITE:
        summary += [
            html.Br(),
            html.Span(_threshold_text(rec.threshold_m, lang), className="lc-note"),
        ]
    if evaluation is not None:
        delta = (evaluation.area_after - evaluation.area_before) * 100
        summary += [
            html.Br(),
            html.Span(
                f"{t('whatif', lang)} ({evaluation.n_added}): "
                f"{pct(evaluation.area_before)} → {pct(evaluation.area_after)} "
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
    return cells_url, cells_data, fac_url, gaps_url, gaps_data, wi, summary, "\n".join(msgs)


def _threshold_text(metres: float, lang: str) -> str:
    return f"{t('threshold', lang)}: {metres:,.0f} m"


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
    """Add (map click in add mode), remove or clear simulated facilities."""
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
                    html.Span(
                        _whatif_label(a, lang), title=f"{a.lat:.5f}, {a.lon:.5f}", className="lc-wi"
                    ),
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
    Output(ids.SELECTED, "data"),
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
) -> tuple[Any, Any]:
    """Show the clicked neighbourhood: a plain sentence, its table and the plan-vs-map table."""
    st = _state()
    data, service = st.data, st.service
    lang = _lang(lang_value)
    empty = {"type": "FeatureCollection", "features": []}
    try:
        area, category, tier, scenario, profile = data.check(
            area, category, tier, scenario, profile
        )
    except LifeCircleError as exc:
        return html.Div(_bad(lang, exc), className="lc-msg"), empty
    unit = None
    if isinstance(click, dict):
        props = click.get("properties") or {}
        unit = props.get("unit") if isinstance(props, dict) else None
    recon = _reconciliation(data, area, lang)
    if not isinstance(unit, str) or unit not in data.unit_ids(area):
        return [html.Div(t("panel_prompt", lang), className="lc-note"), *recon], empty
    panel = _unit_panel(data, service, session, area, unit, category, tier, scenario, profile, lang)
    return [*panel, *recon], layers.selected_geojson(data, area, unit)


# -- export and report ---------------------------------------------------------------------
@_callback(
    Output(ids.DOWNLOAD, "data"),
    Output(ids.EXPORT_MSG, "children"),
    Input(ids.EXPORT_BTN, "n_clicks"),
    Input(ids.REPORT_BTN, "n_clicks"),
    State(ids.EXPORT_FORMAT, "value"),
    State(ids.EXPORT_PAPER, "value"),
    State(ids.AREA, "value"),
    State(ids.CATEGORY, "value"),
    State(ids.TIER, "value"),
    State(ids.SCENARIO, "value"),
    State(ids.PROFILE, "value"),
    State(ids.LANG, "value"),
    State(ids.SESSION, "data"),
    prevent_initial_call=True,
)
@_timed("export")
def on_export(
    n: Any,
    n_report: Any,
    fmt: Any,
    paper: Any,
    area: Any,
    category: Any,
    tier: Any,
    scenario: Any,
    profile: Any,
    lang_value: Any,
    session: Any,
) -> tuple[Any, Any]:
    """Export exactly what is on screen (simulated facilities included), or the report."""
    st = _state()
    data, service, results = st.data, st.service, st.data.results
    lang = _lang(lang_value)
    report = ctx.triggered_id == ids.REPORT_BTN
    if not (n_report if report else n):
        return no_update, no_update
    # exports take a second or two of CPU: at most EXPORT_SLOTS at once, so that a burst
    # of clicks cannot starve the map callbacks
    if not st.export_slots.acquire(blocking=False):
        return no_update, html.Span(t("export_busy", lang), className="lc-msg")
    note = ""
    try:
        area, category, tier, scenario, profile = data.check(
            area, category, tier, scenario, profile
        )
        if report:
            path = write_report(results, area)
        else:
            overlay = None
            try:
                ev = service.evaluate(session, area, category, tier, scenario, profile)
            except WhatIfError:
                ev = None
            if ev is not None:
                overlay = ev.overlay()
                note = " " + t("whatif_in_export", lang)
            path = export(
                results,
                area,
                category,
                str(fmt),
                tier=tier,
                scenario=scenario,
                profile=profile,
                paper=str(paper),
                whatif=overlay,
            )
    except LifeCircleError as exc:
        return no_update, html.Span(_bad(lang, exc), className="lc-msg", id=ids.EXPORT_ERROR)
    except Exception as exc:  # a failed export says why in the page, never a silent 500
        log.exception("export failed")
        text = f"{t('export_failed', lang)}: {type(exc).__name__}: {exc}"
        return no_update, html.Span(text, className="lc-msg", id=ids.EXPORT_ERROR)
    finally:
        st.export_slots.release()
    done = t("report_done", lang) if report else t("exported", lang)
    # dash.dcc re-exports send_file implicitly and leaves it unannotated
    download = dcc.send_file(str(path))  # type: ignore[attr-defined,no-untyped-call]
    return download, html.Span(f"{done}: {path.name}{note}", id=ids.EXPORT_DONE)


def _nearest_text(
    results: Any,
    area: str,
    category: str,
    q: tuple[float, float, float] | None,
    scenario: str,
    profile: str,
    lang: str,
) -> str:
    """Return the panel's median distance; a category without facility data says so instead."""
    if category == COMPOSITE:
        return "—"
    status = data_status(results, area, category, scenario=scenario, profile=profile)[0]
    if status != "ok":
        return data_status_label(status, lang)
    return "—" if q is None else _distance(q[1], lang)


def _whatif_label(a: Any, lang: str) -> list[Any]:
    """``番禺路附近 #1`` with the street name (data) in an ``lc-name`` span."""
    if not a.street:
        return [f"#{a.id}"]
    if lang == "en":
        return ["near ", html.Span(a.street, className="lc-name"), f" #{a.id}"]
    return [html.Span(a.street, className="lc-name"), f"附近 #{a.id}"]


def _td(text: str, cls: str, category: str, title: str | None = None) -> html.Td:
    """Return a table cell tagged with its category (``data-category``, for the browser tests)."""
    attrs: dict[str, Any] = {"data-category": category}
    return html.Td(text, className=cls, title=title, **attrs)


def _distance(metres: float | None, lang: str) -> str:
    """``857 m`` / ``1.1 km``; beyond the access search bound: say so."""
    if metres is None:
        return "—"
    if not np.isfinite(metres):
        return t("beyond", lang)
    return f"{metres:,.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def _sentence(
    data: DashboardData,
    area: str,
    unit: str,
    category: str,
    rows: list[dict[str, Any]],
    median_m: float | None,
    threshold_m: float,
    scenario: str,
    lang: str,
) -> list[Any]:
    """Return one plain sentence of what is missing in a neighbourhood.

    Names from the data are in ``lc-name`` spans.
    """
    if category == COMPOSITE:
        low = [
            data.category_label(str(r["category"]), lang)
            for r in rows
            if r["category"] != COMPOSITE and np.isfinite(r["share"]) and r["share"] < 0.5
        ]
        if not low:
            return [t("sentence_all_ok", lang)]
        sep = "、" if lang == "zh" else ", "
        return [t("sentence_composite", lang).format(n=len(low), cats=sep.join(low))]
    row = next((r for r in rows if r["category"] == category), None)
    if row is None:
        return []
    text = t("sentence", lang).format(
        cat=data.category_label(category, lang),
        cov=num(row["covered_population"]),
        pop=num(row["population"]),
        thr=f"{threshold_m:,.0f} m",
    )
    out: list[Any] = [text]
    if median_m is not None:
        out.append(t("sentence_nearest", lang).format(d=_distance(median_m, lang)))
        street = data.facility_street(area, unit, category, scenario)
        if street and np.isfinite(median_m):
            before, _, after = t("sentence_street", lang).partition("{street}")
            out += [before, html.Span(street, className="lc-name"), after]
    out.append("。" if lang == "zh" else ".")
    return out


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
    results = data.results
    rows = data.unit_table(area, unit, tier=tier, scenario=scenario, profile=profile)
    try:
        ev = service.evaluate(session, area, category, tier, scenario, profile)
    except WhatIfError:
        ev = None
    sim_q: dict[str, tuple[float, float, float]] = {}
    if ev is not None and ev.nearest_m is not None:
        sim_q = data.cell_quartiles(area, ev.nearest_m)
    name = results.neighbourhood_names(area).get(unit, unit)
    pops = [r["population"] for r in rows if np.isfinite(r["population"])]
    estimate = results.coverage_basis(area) == "estimate"
    head = [
        html.H4(name, id=ids.PANEL_UNIT, style={"margin": "4px 0"}),
        html.Div(
            (f"{unit} · " if name != unit else "")
            + f"{t('population', lang)} {num(pops[0]) if pops else '—'}"
            f" · {tier} {t('minutes', lang)}",
            className="lc-note",
        ),
    ]
    chosen = next((r for r in rows if r["category"] == category), None)
    median = None
    if chosen is not None:
        q = sim_q.get(unit) if sim_q else chosen["q"]
        median = q[1] if q is not None else None
    thr = results.threshold(area, category, tier, profile) if category != COMPOSITE else np.nan
    sentence = _sentence(data, area, unit, category, rows, median, thr, scenario, lang)
    header = html.Tr(
        [
            html.Th(t("category", lang)),
            html.Th(t("share", lang)),
            html.Th(f"{t('covered', lang)} / {t('population', lang)}"),
            html.Th(t("nearest", lang)),
        ]
    )
    body = []
    for r in rows:
        cat = str(r["category"])
        q = sim_q.get(unit) if (sim_q and cat == category) else r["q"]
        share = r["share"]
        if ev is not None and cat == category and unit in ev.cells:
            share = float(ev.after[ev.cells.index(unit)])
        label = data.category_label(cat, lang) if cat != COMPOSITE else t("composite_label", lang)
        span = None if q is None else f"p25 {_distance(q[0], lang)} – p75 {_distance(q[2], lang)}"
        body.append(
            html.Tr(
                [
                    html.Td(label),
                    _td(
                        ("≈ " if estimate and np.isfinite(share) else "") + pct(share),
                        "lc-share",
                        cat,
                    ),
                    html.Td(f"{num(r['covered_population'])} / {num(r['population'])}"),
                    _td(
                        _nearest_text(results, area, cat, q, scenario, profile, lang),
                        "lc-nearest",
                        cat,
                        span,
                    ),
                ],
                style={"fontWeight": "bold"} if cat == category else None,
            )
        )
    out: list[Any] = [
        *head,
        html.P(sentence, id=ids.PANEL_SENTENCE, className="lc-sentence"),
        html.Table([html.Thead(header), html.Tbody(body)], id=ids.PANEL_TABLE),
        html.Div(t("nearest_note", lang), className="lc-note"),
        html.Details(
            [html.Summary(t("what_is", lang)), html.Div(t("composite_help", lang))],
            className="lc-note",
            id=ids.COMPOSITE_HELP,
        ),
    ]
    if ev is not None and unit in ev.cells:
        i = ev.cells.index(unit)
        out.append(
            html.Div(
                f"{t('whatif', lang)} · {data.category_label(category, lang)}: "
                f"{pct(ev.before[i])} → {pct(ev.after[i])}",
                id=ids.PANEL_WHATIF,
                style={"color": "#7a0177"},
            )
        )
    return out


def _reconciliation(data: DashboardData, area: str, lang: str) -> list[Any]:
    recon = data.results.reconciliation
    title = html.H4(t("recon", lang), style={"margin": "10px 0 4px"})
    explain = html.Details(
        [html.Summary(t("what_is", lang)), html.Div(t("recon_help", lang))],
        className="lc-note",
        id=ids.RECON_HELP,
    )
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
        body.append(html.Tr([html.Td(label), *[html.Td(num(r.get(c))) for c, _ in cols]]))
    return [title, html.Table([html.Thead(header), html.Tbody(body)], id=ids.RECON_TABLE), explain]
