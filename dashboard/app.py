"""The Dash app factory and a threaded server (waitress).

``create_app(out_dir)`` reads the results once (:class:`dashboard.data.DashboardData`),
compiles the what-if engines, and returns a ``dash.Dash`` whose callbacks only look things
up. All JavaScript and CSS (Dash, dash-leaflet with Leaflet inlined, our assets) are served
by the app itself: no CDN, so the dashboard works offline.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dash
from flask import Response, abort, request
from waitress import serve as waitress_serve

from dashboard import layers
from dashboard.callbacks import register
from dashboard.data import DashboardData
from dashboard.layout import make_layout
from dashboard.synthetic import synthetic_taxonomy
from dashboard.whatif import WhatIfService
from geo._errors import LifeCircleError
from geo.reporting.results import PROFILES, SCENARIOS, TIERS, read_registry

ASSETS = Path(__file__).resolve().parent / "assets"
STREETS_ROUTE = "/lifecircle/streets/"

log = logging.getLogger("lifecircle.dashboard")


def create_app(
    out_dir: str | Path,
    *,
    registry: Any = None,
    taxonomy: Any = None,
    preload: bool = True,
    max_sessions: int = 128,
    areas: Sequence[str] | None = None,
) -> dash.Dash:
    """Build the dashboard for the results in ``out_dir``.

    Parameters
    ----------
    out_dir
        Results folder (``out/``); missing files give a visible notice, not an error.
    registry
        Study-area registry (names, boundaries, cached networks); default the project's.
    taxonomy
        Category records; default ``geo.taxonomy.load_taxonomy()``.
    preload
        Build every area's layers and what-if engine at start (callbacks then never wait).
    max_sessions
        What-if sessions kept in memory (least recently used dropped).
    areas
        Only these area ids (default: every area in the results).

    Returns
    -------
    dash.Dash
        The app; ``app.server`` is the Flask WSGI app. ``app.lifecircle`` holds the data and
        the what-if service.
    """
    data = DashboardData.load(
        out_dir, registry=registry, taxonomy=taxonomy, preload=preload, areas=areas
    )
    service = WhatIfService(data, max_sessions=max_sessions)
    warmer = None
    if preload:
        service.preload()
        warm(data)
        # the other settings are built in the background while the app already serves;
        # the warmer steps aside whenever a request is being handled
        warmer = threading.Thread(
            target=warm, args=(data,), kwargs={"full": True}, daemon=True, name="lifecircle-warm"
        )
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="15分钟社区生活圈 · life circle",
        serve_locally=True,
        suppress_callback_exceptions=False,
        update_title=None,  # type: ignore[arg-type]
    )
    app.config.include_assets_files = True
    versions = (
        {a: hashlib.sha1(data.streets_json(a)).hexdigest()[:10] for a in data.results.areas}
        if preload
        else {}
    )

    def streets_url(area: str) -> str:
        v = versions.get(area) or hashlib.sha1(data.streets_json(area)).hexdigest()[:10]
        return f"{STREETS_ROUTE}{area}.geojson?v={v}"

    @app.server.route(f"{STREETS_ROUTE}<area>.geojson")
    def streets(area: str) -> Response:
        # only known area ids: the URL never names a file
        if area not in data.results.areas:
            abort(404)
        resp = Response(data.streets_json(area), mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    version = secrets.token_hex(4)  # a new start may have new results: new layer URLs

    @app.server.route("/lifecircle/layer/<kind>.geojson")
    def layer(kind: str) -> Response:
        # parameters are validated against the loaded results; nothing names a file
        try:
            body = layers.layer_json(data, kind, dict(request.args))
        except LifeCircleError as exc:
            return Response(str(exc), status=404, mimetype="text/plain")
        resp = Response(body, mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    @app.server.before_request
    def _busy() -> None:
        data.busy.acquire()

    @app.server.teardown_request
    def _idle(_exc: BaseException | None) -> None:
        data.busy.release()

    app.layout = make_layout(data, streets_url=streets_url)
    register(app, data, service, streets_url, version)
    app.lifecircle = {"data": data, "whatif": service, "warmer": warmer}  # type: ignore[attr-defined]
    if warmer is not None:
        warmer.start()
    return app


def warm(data: DashboardData, *, full: bool = False, budget_s: float = 60.0) -> int:
    """Build static layers ahead of requests, then freeze the heap; returns layers built.

    ``full=False``: the default setting (15 min, baseline, default pace, 中文) of every area
    and category. ``full=True``: every tier, scenario, profile and language too, within
    ``budget_s`` seconds (run in a background thread by :func:`create_app`). Afterwards a
    click is a dictionary lookup, and ``gc.freeze()`` keeps the garbage collector from
    rescanning the large, long-lived result structures during requests (otherwise seen as
    100-200 ms pauses).
    """
    settings_ = [(15, "baseline", "default", "zh")]
    if full:
        settings_ = [
            (t, s, p, lang)
            for lang in ("zh", "en")
            for s in SCENARIOS
            for p in PROFILES
            for t in TIERS
        ]
    deadline = time.monotonic() + budget_s
    n = 0
    for tier, scen, prof, lang in settings_:
        for area in data.results.areas:
            for cat in data.results.category_keys():
                for kind in layers.LAYER_PARAMS:
                    if time.monotonic() > deadline:
                        break
                    while full and data.busy.active and time.monotonic() < deadline:
                        time.sleep(0.02)  # let requests have the interpreter
                    layers.layer_json(
                        data,
                        kind,
                        {
                            "area": area,
                            "category": cat,
                            "tier": tier,
                            "scenario": scen,
                            "profile": prof,
                            "lang": lang,
                        },
                    )
                    n += 1
    gc.collect()
    gc.freeze()
    return n


def serve(app: dash.Dash, host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> None:
    """Serve ``app`` with waitress (multi-threaded), blocking until interrupted."""
    log.info("serving on http://%s:%d", host, port)
    waitress_serve(
        app.server,
        host=host,
        port=port,
        threads=threads,
        ident="lifecircle",
        connection_limit=200,
        channel_timeout=60,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m dashboard.app``: serve ``--out`` (optionally with another registry)."""
    ap = argparse.ArgumentParser(description="Serve the lifecircle dashboard (waitress).")
    ap.add_argument("--out", type=Path, required=True, help="Results folder.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8050)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument(
        "--areas-file",
        type=Path,
        default=None,
        help="Study-area registry YAML (default: data/osm/areas.yaml).",
    )
    ap.add_argument("--data-dir", type=Path, default=None, help="Data folder for the registry.")
    ap.add_argument(
        "--synthetic-taxonomy",
        action="store_true",
        help="Use the synthetic categories (dashboard.synthetic).",
    )
    args = ap.parse_args(argv)
    registry = None
    if args.areas_file is not None:
        registry = read_registry(args.areas_file, data_dir=args.data_dir)
    taxonomy = None
    if args.synthetic_taxonomy:
        taxonomy = synthetic_taxonomy()
    app = create_app(args.out, registry=registry, taxonomy=taxonomy)
    print(f"serving http://{args.host}:{args.port}/", flush=True)
    serve(app, host=args.host, port=args.port, threads=args.threads)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
