#!/usr/bin/env python
"""Measure the dashboard: first page load and each main callback, on the results in out/.

Targets: first load <= 2 s (issue 7); callback p95 < 100 ms, and a what-if with its gap
recomputation (the add click plus the view update that redraws cells and gaps) < 300 ms
(issue 13). This is a measurement, not a test: it prints a table (or ``--json``) and exits 0
either way.

The app is served by waitress in this process (8 threads); requests go over loopback, so the
figures include Dash's request handling and JSON encoding. The first load is measured twice:
over HTTP (page, scripts, layout, dependencies, then the initial callbacks, all cold) and, when
Debian chromium + chromedriver are installed, in headless Chromium until the map cells and the
area figure are drawn.

Usage:
    python scripts/bench_dashboard.py [--out out] [--repeat 5] [--json]
    python scripts/bench_dashboard.py --synthetic      # tiny synthetic results (no real data)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.app import create_app  # noqa: E402
from dashboard.client import DashClient, cell_points  # noqa: E402


def _serve(app: Any) -> tuple[str, Any]:
    from waitress.server import create_server

    server = create_server(app.server, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}/", server


def browser_first_load(url: str) -> float | None:
    """Seconds from navigation to drawn cells + area figure in headless Chromium (or None)."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1500,950",
    ):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        t0 = time.perf_counter()
        drv.get(url)
        WebDriverWait(drv, 60, poll_frequency=0.02).until(
            lambda d: (
                d.find_elements("css selector", "path.lc-cell")
                and d.find_elements("css selector", "#area-share")
            )
        )
        return time.perf_counter() - t0
    finally:
        drv.quit()


def run(out: Path, repeat: int, registry: Any = None, taxonomy: Any = None) -> dict[str, Any]:
    """Time app start, first load and every main callback; returns the figures."""
    t0 = time.perf_counter()
    app = create_app(out, registry=registry, taxonomy=taxonomy)
    start_s = time.perf_counter() - t0
    data = app.lifecircle["data"]
    areas = list(data.results.areas)
    cats = list(data.results.category_keys())
    url, server = _serve(app)
    timings: dict[str, list[float]] = {}

    def rec(name: str, dt: float) -> None:
        timings.setdefault(name, []).append(dt)

    try:
        cold = DashClient(url)
        http_load = cold.load_page()
        # the callbacks a fresh page fires, cold (nothing memoised yet for this area)
        t1 = time.perf_counter()
        cold.language()
        cold.area(areas[0])
        cold.view(areas[0], cats[0])
        http_initial = time.perf_counter() - t1
        browser_load = browser_first_load(url)
        warmer = app.lifecircle.get("warmer")
        t_w = time.perf_counter()
        if warmer is not None:
            warmer.join(timeout=120)
        warm_s = time.perf_counter() - t_w
        browser_load_warm = browser_first_load(url)

        c = DashClient(url)
        c.new_session()
        for _ in range(repeat):
            rec("language", c.language("en")[0])
            rec("language", c.language("zh")[0])
            for area in areas:
                rec("area", c.area(area)[0])
                for cat in cats:
                    for scenario, tier, profile in (
                        ("baseline", 15, "default"),
                        ("plan", 10, "elderly"),
                    ):
                        dt, resp = c.view(area, cat, tier, scenario, profile)
                        rec("view", dt)
                        rec("layers_get", c.fetch_layers(resp, cached=False)[0])
                view = c.view(area, cats[0])[1]
                pts = cell_points(c.fetch_layers(view, cached=False)[1].get("cells", {}))
                if not pts:
                    continue
                unit, lon, lat = pts[len(pts) // 2]
                rec("panel", c.panel(area, unit, cats[0])[0])
                cat = next((k for k in cats if k != "composite"), cats[0])
                dt_add, _ = c.whatif_add(area, cat, lon, lat)
                rec("whatif_add", dt_add)
                dt, _ = c.view(area, cat)
                rec("view_after_whatif", dt)
                rec("whatif_with_gaps", dt_add + dt)
                rec("panel_after_whatif", c.panel(area, unit, cat)[0])
                added = [a.id for a in app.lifecircle["whatif"].added(c.session_id, area, cat)]
                if added:
                    rec("whatif_remove", c.whatif_remove(area, cat, added[-1])[0])
                    rec("view_after_remove", c.view(area, cat)[0])
        export_s = c.export(areas[0], cats[0], "png")[0]
    finally:
        server.close()

    def stats(v: list[float]) -> dict[str, float]:
        s = sorted(v)
        return {
            "n": len(s),
            "p50_ms": round(1e3 * statistics.median(s), 1),
            "p95_ms": round(1e3 * s[min(len(s) - 1, int(0.95 * len(s)))], 1),
            "max_ms": round(1e3 * s[-1], 1),
        }

    cbs = {k: stats(v) for k, v in timings.items()}
    worst = max(v["max_ms"] for v in cbs.values())
    # the what-if click and the view it redraws (cells and gaps) are the what-if target's
    whatif_parts = ("whatif_with_gaps", "view_after_whatif")
    callbacks_p95 = max(v["p95_ms"] for k, v in cbs.items() if k not in whatif_parts)
    whatif_p95 = cbs.get("whatif_with_gaps", {}).get("p95_ms", float("nan"))
    return {
        "out": str(out),
        "areas": areas,
        "categories": len(cats),
        "app_start_s": round(start_s, 2),
        "first_load_http_s": round(http_load + http_initial, 3),
        "first_load_browser_s": None if browser_load is None else round(browser_load, 3),
        "first_load_browser_after_warmup_s": (
            None if browser_load_warm is None else round(browser_load_warm, 3)
        ),
        "background_warmup_wait_s": round(warm_s, 1),
        "callbacks": cbs,
        "worst_callback_ms": worst,
        "export_png_s": round(export_s, 2),
        "callback_p95_ms": callbacks_p95,
        "whatif_with_gaps_p95_ms": whatif_p95,
        "targets": {"first_load_s": 2.0, "callback_p95_ms": 100.0, "whatif_with_gaps_ms": 300.0},
        "meets_targets": bool(
            (browser_load if browser_load is not None else http_load + http_initial) <= 2.0
            and callbacks_p95 < 100.0
            and whatif_p95 < 300.0
        ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out", help="Results folder.")
    ap.add_argument("--repeat", type=int, default=3, help="Rounds over every area/category.")
    ap.add_argument(
        "--synthetic",
        action="store_true",
        help="Use a tiny synthetic results folder instead of --out.",
    )
    ap.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = ap.parse_args(argv)
    if args.synthetic:
        from dashboard.synthetic import synthetic_registry, synthetic_taxonomy, write_synthetic

        tmp = tempfile.mkdtemp(prefix="lifecircle-synthetic-")
        paths = write_synthetic(tmp)
        res = run(paths["out"], args.repeat, synthetic_registry(paths), synthetic_taxonomy())
    else:
        if not (args.out / "coverage.csv").exists():
            print(
                f"no results in {args.out}: run `lifecircle run` (or use --synthetic)",
                file=sys.stderr,
            )
            return 2
        res = run(args.out, args.repeat)
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return 0
    print(
        f"results: {res['out']}  areas: {', '.join(res['areas'])}  categories: {res['categories']}"
    )
    print(f"app start (read out/, build layers, compile engines): {res['app_start_s']:.2f} s")
    print(
        f"first load over HTTP (page+assets+layout+initial callbacks): "
        f"{res['first_load_http_s']:.3f} s"
    )
    if res["first_load_browser_s"] is not None:
        print(
            f"first load in headless Chromium (until cells drawn), right after start: "
            f"{res['first_load_browser_s']:.3f} s; after the background warm-up "
            f"(+{res['background_warmup_wait_s']} s): "
            f"{res['first_load_browser_after_warmup_s']:.3f} s"
        )
    print(f"{'callback':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, s in res["callbacks"].items():
        print(f"{name:<22}{s['n']:>6}{s['p50_ms']:>10.1f}{s['p95_ms']:>10.1f}{s['max_ms']:>10.1f}")
    print(f"export PNG (not a map callback): {res['export_png_s']:.2f} s")
    print(
        f"callback p95 (worst callback): {res['callback_p95_ms']:.1f} ms; what-if with gap "
        f"recomputation p95: {res['whatif_with_gaps_p95_ms']:.1f} ms"
    )
    print(
        f"targets (first load <= 2 s, callback p95 < 100 ms, what-if + gaps < 300 ms): "
        f"{'met' if res['meets_targets'] else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
