#!/usr/bin/env python
"""Load test: N concurrent clients on loopback through the dashboard's main callbacks.

Starts the dashboard in a separate process (waitress, ``--threads`` workers) on the results in
``--out`` (or targets ``--url``), then runs ``--clients`` simulated browser sessions for
``--duration`` seconds (bounded: at most 300 s). Each client has its own session and loops over
the main callbacks, as ``POST /_dash-update-component``:

- map view (area, category, tier, scenario, profile): 50 %
- neighbourhood panel (a cell click): 20 %
- area switch: 10 %
- what-if: add a facility in a cell, view, remove it: 15 %
- language switch: 5 %

It reports requests, errors, p50/p95/p99/max latency overall and per callback, and checks that
the app is still up afterwards. Only the server process this script started is stopped.

Usage:
    python scripts/load_dashboard.py [--out out] [--clients 50] [--duration 60] [--json]
    python scripts/load_dashboard.py --synthetic    # tiny synthetic results (no real data)
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.client import DashClient, added_ids, cell_points  # noqa: E402

MAX_DURATION_S = 300.0
SCENARIOS = ("baseline", "plan", "plan+recommended")
PROFILES = ("default", "elderly")
TIERS = (5, 10, 15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(out: Path, threads: int, extra: list[str]) -> tuple[subprocess.Popen, str]:
    """Start ``python -m dashboard.app`` and wait until it answers; returns (process, url)."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "dashboard.app",
        "--out",
        str(out),
        "--port",
        str(port),
        "--threads",
        str(threads),
        *extra,
    ]
    # the server's log goes to a file: a pipe nobody reads would fill up and stall it
    log = Path(tempfile.mkdtemp(prefix="lifecircle-load-")) / "dashboard.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            err = log.read_text(encoding="utf-8", errors="replace")
            raise SystemExit(f"dashboard exited during start:\n{err[-2000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("dashboard did not start within 120 s")


def discover(url: str) -> dict[str, Any]:
    """Areas, categories and a cell (unit, lon, lat) per area, as a browser would see them."""
    layout = requests.get(f"{url}_dash-layout", timeout=30).json()
    found: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("id") in ("area", "category") and "options" in props:
                found[props["id"]] = [o["value"] for o in props["options"]]
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(layout)
    c = DashClient(url)
    c.new_session()
    cells = {}
    for area in found.get("area", []):
        view = c.view(area, found["category"][0])[1]
        cells[area] = cell_points(c.fetch_layers(view)[1].get("cells", {}))
    return {"areas": found.get("area", []), "categories": found.get("category", []), "cells": cells}


class Recorder:
    """Thread-safe latency and error records."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lat: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.samples: list[str] = []

    def ok(self, name: str, dt: float) -> None:
        with self.lock:
            self.lat.setdefault(name, []).append(dt)

    def fail(self, name: str, exc: Exception) -> None:
        with self.lock:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.samples) < 5:
                self.samples.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")


def client_loop(url: str, info: dict[str, Any], deadline: float, rec: Recorder, seed: int) -> None:
    """One simulated user until ``deadline``."""
    rnd = random.Random(seed)
    c = DashClient(url, parse=False)  # outputs checked, not decoded: the client stays light
    try:
        c.new_session()
    except Exception as exc:
        rec.fail("layout", exc)
        return
    areas = [a for a in info["areas"] if info["cells"].get(a)]
    cats = [k for k in info["categories"] if k != "composite"] or info["categories"]
    while time.time() < deadline:
        area = rnd.choice(areas)
        cat = rnd.choice(cats)
        tier, scen, prof = rnd.choice(TIERS), rnd.choice(SCENARIOS), rnd.choice(PROFILES)
        unit, lon, lat = rnd.choice(info["cells"][area])
        r = rnd.random()
        try:
            if r < 0.50:
                dt, resp = c.view(area, cat, tier, scen, prof)
                rec.ok("view", dt)
                if resp:  # the browser then GETs the layers it has not cached yet
                    rec.ok("layers_get", c.fetch_layers(resp, parse=False)[0])
            elif r < 0.70:
                rec.ok("panel", c.panel(area, unit, cat, tier, scen, prof)[0])
            elif r < 0.80:
                rec.ok("area", c.area(area)[0])
            elif r < 0.95:
                dt, resp = c.whatif_add(area, cat, lon, lat)
                rec.ok("whatif_add", dt)
                ids = added_ids(resp)
                dt, _ = c.view(area, cat, tier, scen, prof)
                rec.ok("view_whatif", dt)
                if ids:
                    rec.ok("whatif_remove", c.whatif_remove(area, cat, ids[-1])[0])
            else:
                rec.ok("language", c.language(rnd.choice(("zh", "en")))[0])
        except Exception as exc:
            rec.fail("request", exc)


def run(url: str, clients: int, duration: float, server_pid: int | None = None) -> dict[str, Any]:
    """Drive ``clients`` users for ``duration`` seconds against ``url``."""
    import psutil

    info = discover(url)
    me = psutil.Process()
    server = psutil.Process(server_pid) if server_pid else None
    cpu0 = (sum(me.cpu_times()[:2]), sum(server.cpu_times()[:2]) if server else 0.0)
    rec = Recorder()
    deadline = time.time() + duration
    threads = [
        threading.Thread(target=client_loop, args=(url, info, deadline, rec, i), daemon=True)
        for i in range(clients)
    ]
    t0 = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=duration + 60)
    elapsed = time.time() - t0
    cpu = (
        sum(me.cpu_times()[:2]) - cpu0[0],
        (sum(server.cpu_times()[:2]) - cpu0[1]) if server else float("nan"),
    )
    alive = False
    try:
        alive = requests.get(url, timeout=10).status_code == 200
    except requests.RequestException:
        alive = False

    def stats(v: list[float]) -> dict[str, float]:
        s = sorted(v)

        def q(p: float) -> float:
            return round(1e3 * s[min(len(s) - 1, int(p * len(s)))], 1)

        return {
            "n": len(s),
            "p50_ms": round(1e3 * statistics.median(s), 1),
            "p95_ms": q(0.95),
            "p99_ms": q(0.99),
            "max_ms": round(1e3 * s[-1], 1),
        }

    every = [x for v in rec.lat.values() for x in v]
    return {
        "url": url,
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "areas": info["areas"],
        "categories": len(info["categories"]),
        "requests": len(every),
        "errors": sum(rec.errors.values()),
        "error_samples": rec.samples,
        "requests_per_s": round(len(every) / elapsed, 1) if elapsed > 0 else 0.0,
        "overall": stats(every) if every else {},
        "callbacks": {k: stats(v) for k, v in sorted(rec.lat.items())},
        "app_up_after": alive,
        "cpu_cores": psutil.cpu_count(),
        "client_cpu_s": round(cpu[0], 1),
        "server_cpu_s": None if server is None else round(cpu[1], 1),
    }


# -- abuse mode: idle sockets and huge bodies ---------------------------------------------------
def _big_body(host: str, port: int, size: int, chunked: bool) -> dict[str, Any]:
    """POST a ``size``-byte body (declared or chunked); returns status, bytes sent, seconds."""
    head = (
        f"POST /_dash-update-component HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n")
        + "\r\n"
    ).encode()
    block = b" " * (1 << 20)
    sent = 0
    status = ""
    t0 = time.perf_counter()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        try:
            while sent < size:
                n = min(len(block), size - sent)
                data = (f"{n:x}\r\n".encode() + block[:n] + b"\r\n") if chunked else block[:n]
                try:
                    sock.sendall(data)
                except BlockingIOError:
                    time.sleep(0.01)
                except OSError:
                    break  # the server closed the connection: it refused the body
                sent += n
                try:
                    got = sock.recv(4096)
                    if got:
                        status = got.split(b"\r\n", 1)[0].decode(errors="replace")
                        break
                    break
                except BlockingIOError:
                    pass
        finally:
            sock.setblocking(True)
            sock.settimeout(10)
            if not status:
                try:
                    got = sock.recv(4096)
                    status = got.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
                except OSError as exc:
                    status = f"closed ({type(exc).__name__})"
    return {
        "mode": "chunked" if chunked else "content-length",
        "body_mb": round(size / 2**20),
        "status": status,
        "sent_mb": round(sent / 2**20, 1),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def abuse(url: str, idle: int, hold_s: float, body_mb: int, server_pid: int | None) -> dict:
    """Hold ``idle`` idle connections while a legitimate client works; then send huge bodies.

    Half of the idle sockets send nothing, half a partial request header (slowloris). The
    legitimate client opens a new connection per request (GET / and a map-view callback) every
    0.5 s for ``hold_s`` seconds; its latencies and failures are reported.
    """
    import psutil

    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    info = discover(url)
    server = psutil.Process(server_pid) if server_pid else None
    rss0 = server.memory_info().rss / 2**20 if server else None
    socks = []
    for i in range(idle):
        s = socket.create_connection((host, port), timeout=10)
        if i % 2:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
        socks.append(s)
    lat: list[float] = []
    failures: list[str] = []
    deadline = time.time() + hold_s
    area, cat = info["areas"][0], info["categories"][0]
    while time.time() < deadline:
        t0 = time.perf_counter()
        try:
            requests.get(url, timeout=10).raise_for_status()
            c = DashClient(url)
            c.new_session()
            c.view(area, cat)
            lat.append(time.perf_counter() - t0)
        except Exception as exc:  # a benchmark records every failure kind
            failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
        time.sleep(0.5)
    still_open = 0
    for s in socks:
        try:
            s.setblocking(False)
            still_open += 0 if s.recv(1) == b"" else 1  # b"": the server closed it
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        finally:
            s.close()
    bodies = [_big_body(host, port, body_mb * 2**20, chunked) for chunked in (False, True)]
    rss1 = server.memory_info().rss / 2**20 if server else None
    alive = requests.get(url, timeout=10).status_code == 200
    s_lat = sorted(lat)
    return {
        "url": url,
        "idle_connections": idle,
        "hold_s": hold_s,
        "legit_requests": len(lat),
        "legit_failures": len(failures),
        "failure_samples": failures[:3],
        "legit_p50_ms": round(1e3 * statistics.median(s_lat), 1) if s_lat else None,
        "legit_max_ms": round(1e3 * s_lat[-1], 1) if s_lat else None,
        "idle_still_open_at_end": still_open,
        "big_bodies": bodies,
        "server_rss_mb_before": None if rss0 is None else round(rss0, 1),
        "server_rss_mb_after": None if rss1 is None else round(rss1, 1),
        "app_up_after": alive,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out", help="Results folder.")
    ap.add_argument("--url", default=None, help="Target a running dashboard instead.")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0, help="Seconds (max 300).")
    ap.add_argument("--threads", type=int, default=8, help="Server worker threads.")
    ap.add_argument("--synthetic", action="store_true", help="Tiny synthetic results.")
    ap.add_argument("--json", action="store_true", help="Print one JSON object.")
    ap.add_argument(
        "--abuse",
        action="store_true",
        help="Instead of the load mix: hold --idle idle connections while one legitimate "
        "client works for --hold seconds, then send --body-mb MB bodies (expect 413).",
    )
    ap.add_argument("--idle", type=int, default=200, help="Idle connections (--abuse).")
    ap.add_argument("--hold", type=float, default=30.0, help="Seconds to hold them (--abuse).")
    ap.add_argument("--body-mb", type=int, default=200, help="Body size in MB (--abuse).")
    args = ap.parse_args(argv)
    duration = min(max(args.duration, 1.0), MAX_DURATION_S)
    clients = min(max(args.clients, 1), 500)
    proc = None
    rss = None
    if args.url:
        url = args.url if args.url.endswith("/") else args.url + "/"
    else:
        extra: list[str] = []
        out = args.out
        if args.synthetic:
            from dashboard.synthetic import write_synthetic

            paths = write_synthetic(tempfile.mkdtemp(prefix="lifecircle-synthetic-"))
            out = paths["out"]
            extra = [
                "--areas-file",
                str(paths["areas_file"]),
                "--data-dir",
                str(paths["data"]),
                "--synthetic-taxonomy",
            ]
        elif not (out / "coverage.csv").exists():
            print(
                f"no results in {out}: run `lifecircle run` (or use --synthetic)", file=sys.stderr
            )
            return 2
        proc, url = start_server(out, args.threads, extra)
    if args.abuse:
        try:
            res = abuse(
                url,
                min(max(args.idle, 0), 2000),
                min(max(args.hold, 1.0), MAX_DURATION_S),
                min(max(args.body_mb, 1), 1024),
                proc.pid if proc is not None else None,
            )
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if args.json:
            print(json.dumps(res, ensure_ascii=False, indent=1))
        else:
            print(
                f"{res['idle_connections']} idle connections held {res['hold_s']:.0f} s: "
                f"legitimate client {res['legit_requests']} requests, "
                f"{res['legit_failures']} failed, p50 {res['legit_p50_ms']} ms, "
                f"max {res['legit_max_ms']} ms; idle still open at the end: "
                f"{res['idle_still_open_at_end']}"
            )
            for b in res["big_bodies"]:
                print(
                    f"{b['body_mb']} MB body ({b['mode']}): {b['status']!r} after "
                    f"{b['sent_mb']} MB sent, {b['seconds']} s"
                )
            print(
                f"server RSS {res['server_rss_mb_before']} -> {res['server_rss_mb_after']} MB; "
                f"app up after: {'yes' if res['app_up_after'] else 'NO'}"
            )
        ok = res["app_up_after"] and res["legit_failures"] == 0
        return 0 if ok else 1
    try:
        res = run(url, clients, duration, proc.pid if proc is not None else None)
        if proc is not None:
            res["server_alive_after"] = proc.poll() is None
            try:
                import psutil

                rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            except Exception:
                rss = None
            res["server_rss_mb"] = None if rss is None else round(rss, 1)
            res["server_threads"] = args.threads
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return 0 if res["app_up_after"] else 1
    print(
        f"{res['clients']} clients x {res['duration_s']} s on {res['url']} "
        f"({len(res['areas'])} areas, {res['categories']} categories)"
    )
    print(f"requests {res['requests']}  ({res['requests_per_s']}/s)  errors {res['errors']}")
    o = res["overall"]
    if o:
        print(
            f"overall latency: p50 {o['p50_ms']} ms  p95 {o['p95_ms']} ms  "
            f"p99 {o['p99_ms']} ms  max {o['max_ms']} ms"
        )
    print(f"{'callback':<16}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, s in res["callbacks"].items():
        print(
            f"{name:<16}{s['n']:>7}{s['p50_ms']:>9}{s['p95_ms']:>9}{s['p99_ms']:>9}{s['max_ms']:>9}"
        )
    for line in res["error_samples"]:
        print(f"  error: {line}")
    if "server_rss_mb" in res:
        print(f"server RSS after: {res['server_rss_mb']} MB; threads: {res['server_threads']}")
    print(
        f"CPU over the run ({res['cpu_cores']} cores shared): clients {res['client_cpu_s']} s,"
        f" server {res['server_cpu_s']} s"
    )
    print(f"app up after the run: {'yes' if res['app_up_after'] else 'NO'}")
    return 0 if res["app_up_after"] else 1


if __name__ == "__main__":
    sys.exit(main())
