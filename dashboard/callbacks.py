"""Dash callbacks. They only look results up (loaded once) or ask the what-if service.

Every input is validated: an unknown area/category/tier/scenario/profile, a malformed session
id or a click outside the area gives a visible message, never a server error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard import layers
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
from geo.reporting.results import COMPOSITE, OSM_CREDIT

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


def register(
    app: Dash,
    data: DashboardData,
    service: WhatIfService,
    streets_url: Callable[[str], str],
    version: str = "0",
) -> None:
    """Attach every callback to ``app`` (``version`` tags static layer URLs)."""
    results = data.results
    export_slots = threading.BoundedSemaphore(EXPORT_SLOTS)

    # -- language ------------------------------------------------------------------------
    label_ids = [
        "lab-area",
        "lab-category",
        "lab-tier",
        "lab-scenario",
        "lab-profile",
        "lab-lang",
        "lab-mode",
        "lab-export",
        "lab-format",
        "lab-paper",
        "export-btn",
        "title",
        "subtitle",
        "whatif-title",
        "whatif-help",
        "whatif-clear",
        "footer",
    ]
    label_keys = [
        "area",
        "category",
        "tier",
        "scenario",
        "profile",
        "language",
        "mode",
        "export",
        "format",
        "paper",
        "export_btn",
        "title",
        "subtitle",
        "whatif",
        "whatif_help",
        "whatif_clear",
        "credit",
    ]

    @app.callback(
        [Output(i, "children") for i in label_ids]
        + [
            Output("area", "options"),
            Output("category", "options"),
            Output("tier", "options"),
            Output("scenario", "options"),
            Output("profile", "options"),
            Output("mode", "options"),
            Output("tiles", "options"),
            Output("legend", "children"),
        ],
        Input("lang", "value"),
        prevent_initial_call=True,  # the page is laid out in Chinese already
    )
    @_timed("language")
    def on_language(lang_value: Any) -> list[Any]:
        lang = _lang(lang_value)
        texts: list[Any] = [t(k, lang) for k in label_keys]
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
    @app.callback(Output("tiles-layer", "children"), Input("tiles", "value"))
    def on_tiles(value: Any) -> list[Any]:
        import dash_leaflet as dl

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
    @app.callback(
        Output("streets", "url"),
        Output("boundaries", "data"),
        Output("map", "viewport"),
        Output("area-badge", "children"),
        Input("area", "value"),
        Input("lang", "value"),
    )
    @_timed("area")
    def on_area(area: Any, lang_value: Any) -> tuple[Any, ...]:
        lang = _lang(lang_value)
        try:
            data.check(area)
        except LifeCircleError as exc:
            return no_update, no_update, no_update, html.Span(_bad(lang, exc), className="lc-msg")
        info = results.areas[area]
        badge = html.Span(
            layers.basis_label(info.basis, info.completeness, lang),
            className=f"lc-badge lc-badge-{info.basis}",
            id="basis-badge",
        )
        viewport: Any = no_update
        if ctx.triggered_id != "lang":  # the first load and a new area fit the map
            viewport = {"bounds": data.bounds(area), "transition": "fitBounds"}
        return (streets_url(area), layers.boundaries_geojson(data, area, lang), viewport, badge)

    # -- main view ------------------------------------------------------------------------
    @app.callback(
        Output("cells", "url"),
        Output("cells", "data"),
        Output("facilities", "url"),
        Output("gaps", "url"),
        Output("whatif-layer", "data"),
        Output("summary", "children"),
        Output("message", "children"),
        Input("area", "value"),
        Input("category", "value"),
        Input("tier", "value"),
        Input("scenario", "value"),
        Input("profile", "value"),
        Input("lang", "value"),
        Input("whatif-rev", "data"),
        State("session", "data"),
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
        cells_url = layers.layer_url("cells", version, **params)
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
        fac_url = layers.layer_url("facilities", version, **params)
        gaps_url = layers.layer_url("gaps", version, **params)
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
            html.B(_pct(s["share"]), id="area-share"),
            f" ({t('covered', lang)} {_num(s['covered_population'])} / {_num(s['population'])})",
            html.Br(),
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
                    id="whatif-summary",
                    style={"color": "#7a0177"},
                ),
                html.Div(
                    t("whatif_engine", lang)
                    if evaluation.method == "network"
                    else f"{t('whatif_estimate', lang)} {evaluation.factor:.2f}",
                    className="lc-note",
                    id="whatif-method",
                ),
            ]
        return cells_url, cells_data, fac_url, gaps_url, wi, summary, "\n".join(msgs)

    # -- what-if ----------------------------------------------------------------------------
    @app.callback(
        Output("whatif-rev", "data"),
        Output("whatif-list", "children"),
        Output("whatif-msg", "children"),
        # n_clicks, not clickData: a second click on the same spot must add again
        Input("map", "n_clicks"),
        Input({"type": "whatif-remove", "index": ALL}, "n_clicks"),
        Input("whatif-clear", "n_clicks"),
        Input("area", "value"),
        Input("category", "value"),
        Input("lang", "value"),
        State("map", "clickData"),
        State("mode", "value"),
        State("session", "data"),
        State("whatif-rev", "data"),
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
        lang = _lang(lang_value)
        rev = rev if isinstance(rev, int) else 0
        msg = ""
        changed = False
        try:
            area, category, *_ = data.check(area, category)
            trig = ctx.triggered_id
            value = ctx.triggered[0].get("value") if ctx.triggered else None
            if trig == "map" and mode == "add" and isinstance(click, dict):
                if category == COMPOSITE:
                    raise WhatIfError("whatif_composite", "composite")
                ll = click.get("latlng") or {}
                lat = ll.get("lat") if isinstance(ll, dict) else None
                lon = ll.get("lng") if isinstance(ll, dict) else None
                service.add(session, area, category, lon, lat)
                changed = True
            elif isinstance(trig, dict) and trig.get("type") == "whatif-remove" and value:
                changed = service.remove(session, area, category, trig.get("index"))
            elif trig == "whatif-clear" and value:
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
                            id={"type": "whatif-remove", "index": a.id},
                            style={"fontSize": "11px"},
                        ),
                    ],
                )
                for a in added
            ]
        )
        return (rev + 1 if changed else no_update), items, msg

    # -- neighbourhood panel ---------------------------------------------------------------
    @app.callback(
        Output("panel", "children"),
        Input("cells", "clickData"),
        Input("area", "value"),
        Input("tier", "value"),
        Input("scenario", "value"),
        Input("profile", "value"),
        Input("lang", "value"),
        Input("whatif-rev", "data"),
        Input("category", "value"),
        State("session", "data"),
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
            *_unit_panel(
                data, service, session, area, unit, category, tier, scenario, profile, lang
            ),
            *recon,
        ]

    # -- export ---------------------------------------------------------------------------
    @app.callback(
        Output("download", "data"),
        Output("export-msg", "children"),
        Input("export-btn", "n_clicks"),
        State("export-format", "value"),
        State("export-paper", "value"),
        State("area", "value"),
        State("category", "value"),
        State("tier", "value"),
        State("scenario", "value"),
        State("profile", "value"),
        State("lang", "value"),
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
        lang = _lang(lang_value)
        if not n:
            return no_update, no_update
        # exports take a second or two of CPU: at most EXPORT_SLOTS at once, so that a burst
        # of clicks cannot starve the map callbacks
        if not export_slots.acquire(blocking=False):
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
            export_slots.release()
        return dcc.send_file(str(path)), html.Span(
            f"{t('exported', lang)}: {path.name}", id="export-done"
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
        html.H4(f"{t('panel_unit', lang)} {unit}", id="panel-unit", style={"margin": "4px 0"}),
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
        html.Table([html.Thead(header), html.Tbody(body)], id="panel-table"),
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
                id="panel-whatif",
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
    return [title, html.Table([html.Thead(header), html.Tbody(body)], id="recon-table")]
