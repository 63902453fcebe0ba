"""Stress benchmark: time and peak memory of the network stage on huge or pathological OSM files.

Synthetic data only (named ``synthetic-*``): a square study area near Shanghai with a 50 m street
grid written as OSM XML in two shapes:

- ``tiled``: every grid segment once, in short ways (a large but ordinary extract);
- ``overlapping``: every grid line covered many times over by ways spanning random, overlapping
  stretches of it (duplicate ways, as in a file merged from several downloads).

Each case runs ``lifecircle data status`` in a child process and reports its wall time, its peak
RSS and whether it finished, or was refused with a message (the memory guard).

    .venv/bin/python scripts/bench_stress.py                       # 6.6 MB overlapping + tiled
    .venv/bin/python scripts/bench_stress.py --case overlapping --mb 150
    .venv/bin/python scripts/bench_stress.py --case tiled --mb 150 --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent

#: Synthetic area: a 2 km square (lon/lat) south-west of 新华路; not a real subdistrict.
LON0, LAT0 = 121.40, 31.19
SIDE_DEG = 0.02
STEP_DEG = 0.0005  # ~50 m


def _registry(folder: Path) -> Path:
    ring = [
        [LON0, LAT0],
        [LON0 + SIDE_DEG, LAT0],
        [LON0 + SIDE_DEG, LAT0 + SIDE_DEG],
        [LON0, LAT0 + SIDE_DEG],
        [LON0, LAT0],
    ]
    (folder / "boundaries").mkdir(parents=True, exist_ok=True)
    (folder / "boundaries" / "synthetic-boundary.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"osm_relation_id_source": "1"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    reg = {
        "defaults": {
            "boundary": {
                "file": "boundaries/synthetic-boundary.geojson",
                "key": "osm_relation_id_source",
            }
        },
        "areas": [
            {
                "id": "synthetic",
                "name_zh": "合成街道",
                "name_en": "Synthetic",
                "district": "合成区",
                "osm_relation": 1,
                "network": ["osm/synthetic/synthetic-stress.osm"],
            }
        ],
    }
    path = folder / "areas.yaml"
    path.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    return path


def write_osm(path: Path, case: str, target_mb: float, seed: int = 0) -> int:
    """Write a synthetic OSM XML file of about ``target_mb`` MB; returns the number of ways."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = round(SIDE_DEG / STEP_DEG) + 1
    target = target_mb * 1e6
    nways = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<osm version="0.6" generator="synthetic">\n')
        if case == "tiled":
            # tiles of the grid side by side (shifted east), each segment once
            tiles_x = 1
            ids = 0
            while True:
                size = fh.tell()
                if size >= target:
                    break
                dx = (tiles_x - 1) * SIDE_DEG
                base = ids
                for j in range(n):
                    for i in range(n):
                        ids += 1
                        fh.write(
                            f' <node id="{ids}" version="1" lat="{LAT0 + j * STEP_DEG:.7f}" '
                            f'lon="{LON0 + dx + i * STEP_DEG:.7f}"/>\n'
                        )
                wid = 10_000_000 + nways
                for j in range(n):
                    for i in range(n):
                        me = base + j * n + i + 1
                        for other in (
                            (me + 1) if i + 1 < n else None,
                            (me + n) if j + 1 < n else None,
                        ):
                            if other is None:
                                continue
                            wid += 1
                            nways += 1
                            fh.write(
                                f' <way id="{wid}" version="1"><nd ref="{me}"/><nd ref="{other}"/>'
                                '<tag k="highway" v="residential"/></way>\n'
                            )
                tiles_x += 1
        else:
            for j in range(n):
                for i in range(n):
                    fh.write(
                        f' <node id="{j * n + i + 1}" version="1" lat="{LAT0 + j * STEP_DEG:.7f}" '
                        f'lon="{LON0 + i * STEP_DEG:.7f}"/>\n'
                    )
            wid = 10_000_000
            while fh.tell() < target:
                horizontal = rng.random() < 0.5
                line = int(rng.integers(0, n))
                a, b = sorted(rng.integers(0, n, 2))
                if b - a < 2:
                    continue
                if horizontal:
                    refs = [line * n + k + 1 for k in range(a, b + 1)]
                else:
                    refs = [k * n + line + 1 for k in range(a, b + 1)]
                wid += 1
                nways += 1
                nds = "".join(f'<nd ref="{r}"/>' for r in refs)
                fh.write(
                    f' <way id="{wid}" version="1">{nds}<tag k="highway" v="footway"/></way>\n'
                )
        fh.write("</osm>\n")
    return nways


def run_case(case: str, mb: float, limit_mb: float | None, timeout_s: float) -> dict:
    """Generate the case, run ``lifecircle data status`` on it, measure time and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="synthetic-stress-") as tmp:
        folder = Path(tmp)
        areas = _registry(folder / "data")
        osm = folder / "data" / "osm" / "synthetic" / "synthetic-stress.osm"
        t0 = time.perf_counter()
        nways = write_osm(osm, case, mb)
        gen_s = time.perf_counter() - t0
        env = {**os.environ, "LIFECIRCLE_AREAS": str(areas), "PYTHONPATH": str(ROOT)}
        if limit_mb is not None:
            env["LIFECIRCLE_MEMORY_LIMIT_MB"] = str(limit_mb)
        code = (
            "import resource, sys\n"
            "from geo.cli import main\n"
            "try:\n"
            "    main()\n"
            "finally:\n"
            "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
            "    print(f'PEAK_RSS_KB={r.ru_maxrss}', file=sys.stderr)\n"
            "    print(f'CPU_S={r.ru_utime + r.ru_stime}', file=sys.stderr)\n"
        )
        cmd = [
            sys.executable,
            "-c",
            code,
            "data",
            "status",
            "--json",
            "--no-progress",
            "--data-dir",
            str(folder / "data"),
            "--out",
            str(folder / "out"),
        ]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
            )
            rc: int | str = proc.returncode
            stderr = proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc = "timeout"
            stderr = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else ""
        wall = time.perf_counter() - t0
        peak_kb = 0
        cpu_s = float("nan")
        for line in stderr.splitlines():
            if line.startswith("CPU_S="):
                cpu_s = float(line.split("=", 1)[1])
            if line.startswith("PEAK_RSS_KB="):
                peak_kb = int(line.split("=", 1)[1])
        if peak_kb == 0:  # killed before it could report: the largest child so far
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
        outcome = "finished" if rc == 0 else ("refused" if rc == 2 and errors else f"failed {rc}")
        return {
            "case": f"synthetic-{case}",
            "file_mb": round(osm.stat().st_size / 1e6, 1),
            "ways": nways,
            "generate_s": round(gen_s, 1),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu_s, 2),
            "peak_rss_mb": round(peak_kb / 1024, 0),
            "outcome": outcome,
            "message": errors[0] if errors else "",
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["overlapping", "tiled", "all"], default="all")
    ap.add_argument("--mb", type=float, nargs="*", default=None, help="File sizes (MB).")
    ap.add_argument("--limit-mb", type=float, default=None, help="Memory guard limit (MB).")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cases = ["overlapping", "tiled"] if args.case == "all" else [args.case]
    rows = []
    for case in cases:
        for mb in args.mb or [6.6]:
            row = run_case(case, mb, args.limit_mb, args.timeout)
            rows.append(row)
            if not args.json:
                print(
                    f"{row['case']:<24}{row['file_mb']:>8.1f} MB {row['ways']:>9} ways "
                    f"{row['wall_s']:>7.2f} s wall {row['cpu_s']:>7.2f} s cpu "
                    f"{row['peak_rss_mb']:>7.0f} MB peak  {row['outcome']}"
                    + (f"  {row['message']}" if row["message"] else ""),
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
