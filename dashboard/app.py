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
import json
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dash
from dash.exceptions import DependencyException
from flask import Flask, Response, abort, request
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

    server: Flask = app.server  # Dash types it Any; the Flask app, typed for its decorators

    @server.route(f"{STREETS_ROUTE}<area>.geojson")
    def streets(area: str) -> Response:
        # only known area ids: the URL never names a file
        if area not in data.results.areas:
            abort(404)
        resp = Response(data.streets_json(area), mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    version = secrets.token_hex(4)  # a new start may have new results: new layer URLs

    @server.route("/lifecircle/layer/<kind>.geojson")
    def layer(kind: str) -> Response:
        # parameters are validated against the loaded results; nothing names a file
        try:
            body = layers.layer_json(data, kind, dict(request.args))
        except LifeCircleError as exc:
            return Response(str(exc), status=404, mimetype="text/plain")
        resp = Response(body, mimetype="application/geo+json")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    @server.before_request
    def _busy() -> None:
        data.busy.acquire()

    @server.teardown_request
    def _idle(_exc: BaseException | None) -> None:
        data.busy.release()

    harden(app, Path(out_dir) / "exports")  # after _busy: teardown always has an acquire

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


# -- server hardening -------------------------------------------------------------------------
#: Largest request body (bytes): a callback body is a few kB; larger ones get 413.
MAX_BODY_BYTES: int = 2 * 1024 * 1024

#: Dashboard exports are deleted after this many seconds (they are sent to the browser at once)
#: and the oldest go first when the folder holds more than EXPORTS_MAX_BYTES.
EXPORTS_MAX_AGE_S: float = 24 * 3600.0
EXPORTS_MAX_BYTES: int = 256 * 1024 * 1024
_PRUNE_EVERY_S = 30.0

#: waitress: open connections accepted (idle ones are cheap: an event loop, no thread each),
#: and seconds an idle connection is kept. With 200 idle sockets held, real clients still get
#: connections and a worker thread; a hung client is dropped after CHANNEL_TIMEOUT_S.
CONNECTION_LIMIT: int = 1000
CHANNEL_TIMEOUT_S: int = 20

UPDATE_ROUTE = "/_dash-update-component"


def harden(app: dash.Dash, exports_dir: Path) -> None:
    """Body limit (413), malformed callback bodies (400), unknown bundles (404), export pruning."""
    server: Flask = app.server  # Dash types it Any; the Flask app, typed for its decorators
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    last_prune = [0.0]

    @server.before_request
    def _check_callback_body() -> None:
        if request.path != UPDATE_ROUTE or request.method != "POST":
            return
        if (request.content_length or 0) > MAX_BODY_BYTES:
            abort(413)
        problem = callback_body_problem(app, request.get_data(cache=True))
        if problem:
            abort(Response(f"bad callback request: {problem}", 400, mimetype="text/plain"))

    @server.errorhandler(DependencyException)
    def _unknown_bundle(_exc: Exception) -> Response:
        return Response("not found", status=404, mimetype="text/plain")

    @server.after_request
    def _prune(resp: Response) -> Response:
        now = time.monotonic()
        if request.path == UPDATE_ROUTE and now - last_prune[0] > _PRUNE_EVERY_S:
            last_prune[0] = now
            prune_exports(exports_dir)
        return resp

    prune_exports(exports_dir)


def callback_body_problem(app: dash.Dash, body: bytes) -> str:
    """Return what is wrong with a ``_dash-update-component`` body ('' when it is well formed).

    Checks the shape Dash's renderer sends: an object naming a registered callback ``output``,
    with ``inputs`` (and ``state``) lists of ``{id, property}`` matching that callback.
    """
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(doc, dict):
        return "expected a JSON object"
    output = doc.get("output")
    if not isinstance(output, str):
        return "unknown output"
    spec = app.callback_map.get(output)
    if spec is None:
        return "unknown output"
    outputs = doc.get("outputs")
    want_out = spec.get("output")
    n_out = len(want_out) if isinstance(want_out, list | tuple) else 1
    if output.startswith(".."):  # several outputs: a list, one {id, property} each
        if not isinstance(outputs, list) or len(outputs) != n_out:
            return "outputs do not match the callback"
        items = outputs
    else:
        if not isinstance(outputs, dict | list):
            return "outputs missing"
        items = outputs if isinstance(outputs, list) else [outputs]
    flat = [x for o in items for x in (o if isinstance(o, list) else [o])]
    if not all(isinstance(o, dict) and "id" in o and "property" in o for o in flat):
        return "outputs item malformed"
    if not isinstance(doc.get("changedPropIds", []), list):
        return "changedPropIds is not a list"
    for key in ("inputs", "state"):
        got = doc.get(key, [])
        want = spec.get(key) or []
        if not isinstance(got, list) or len(got) != len(want):
            return f"{key} do not match the callback"
        for g, w in zip(got, want, strict=True):
            if isinstance(g, list):  # pattern-matching (ALL) inputs: a list of items
                if not all(isinstance(x, dict) and "id" in x and "property" in x for x in g):
                    return f"{key} item malformed"
                continue
            if not isinstance(g, dict) or g.get("property") != w.get("property"):
                return f"{key} do not match the callback"
            if isinstance(w.get("id"), str) and g.get("id") != w["id"]:
                return f"{key} do not match the callback"
    return ""


def prune_exports(
    folder: Path, *, max_age_s: float = EXPORTS_MAX_AGE_S, max_bytes: int = EXPORTS_MAX_BYTES
) -> list[Path]:
    """Delete exports older than ``max_age_s``, then the oldest until under ``max_bytes``.

    Only plain files directly in ``folder`` are touched; returns the removed paths.
    """
    if not folder.is_dir():
        return []
    now = time.time()
    files = []
    for p in folder.iterdir():
        try:
            st = p.stat()
        except OSError:
            continue
        if p.is_file():
            files.append((st.st_mtime, st.st_size, p))
    files.sort()
    removed = []
    total = sum(size for _, size, _ in files)
    for mtime, size, p in files:
        if now - mtime > max_age_s or total > max_bytes:
            try:
                p.unlink()
            except OSError:
                continue
            total -= size
            removed.append(p)
    return removed


def serve(app: dash.Dash, host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> None:
    """Serve ``app`` with waitress (multi-threaded), blocking until interrupted.

    Bodies above :data:`MAX_BODY_BYTES` are refused by waitress itself (413) before they are
    read into memory; poll() instead of select() so that more than 1024 sockets work.
    """
    log.info("serving on http://%s:%d", host, port)
    waitress_serve(app.server, host=host, port=port, **server_options(threads))


def server_options(threads: int = 8) -> dict[str, Any]:
    """Return the waitress settings: body/header and connection limits, idle timeout, poll()."""
    return {
        "threads": threads,
        "ident": "lifecircle",
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": 5,
        "max_request_body_size": MAX_BODY_BYTES,
        "max_request_header_size": 64 * 1024,
        "asyncore_use_poll": True,
        "backlog": 1024,
    }


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
