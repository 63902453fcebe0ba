"""Benchmark importing and geocoding a facility list of synthetic addresses (not a test).

The addresses are SYNTHETIC: random house numbers, lanes (弄/支弄), crossings and road-only
entries on the named roads of one area's OSM data (default 新华路街道, from the mirror), plus
unknown roads and unreadable text. They are written to a CSV in a temporary folder, then read
(:func:`geo.facilities.lists.read_list`), classified and placed
(:func:`geo.facilities.lists.place_list`) as ``lifecircle facilities import`` does. The target
is 10,000 rows in under 10 s (the area's address index is built once, timed separately).

    .venv/bin/python scripts/bench_geocode.py [--area xinhualu] [--rows 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from geo.facilities.lists import area_info, place_list, read_list
from geo.facilities.taxonomy import load_taxonomy
from geo.io.areas import load_registry

TYPES = ("社区食堂", "长者照护之家", "社区卫生服务站", "睦邻中心", "托育点", "文化活动室")


def synthetic_addresses(roads: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` synthetic addresses on ``roads``: numbers, lanes, crossings, road-only, noise."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(6, size=n, p=[0.45, 0.2, 0.1, 0.1, 0.1, 0.05])
    out = []
    for k in kinds:
        r = roads[int(rng.integers(len(roads)))]
        num = int(rng.integers(1, 1500))
        if k == 0:
            out.append(f"上海市长宁区{r}{num}号")
        elif k == 1:
            out.append(f"{r}{num}弄{int(rng.integers(1, 60))}号{int(rng.integers(1, 6))}楼")
        elif k == 2:
            out.append(f"{r}{num}弄{int(rng.integers(1, 9))}支弄{int(rng.integers(1, 30))}号")
        elif k == 3:
            other = roads[int(rng.integers(len(roads)))]
            out.append(f"{r}与{other}交叉口")
        elif k == 4:
            out.append(f"{r}")
        else:
            out.append(f"合成不存在路{num}号" if rng.random() < 0.5 else "三楼东侧")
    return out


def main() -> None:
    """Write the synthetic list, import it, print the timings and the placements."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--area", default="xinhualu")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    registry = load_registry()
    tax = load_taxonomy()
    t0 = time.perf_counter()
    info = area_info(registry, args.area)
    t_index = time.perf_counter() - t0
    if info.index is None:
        raise SystemExit(f"area {args.area} has no named roads to place addresses on")
    roads = sorted(info.index.roads)
    addresses = synthetic_addresses(roads, args.rows, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    frame = pd.DataFrame(
        {
            "名称": [f"合成设施{i}" for i in range(args.rows)],
            "类型": rng.choice(TYPES, size=args.rows),
            "地址": addresses,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_list.csv"
        frame.to_csv(path, index=False, encoding="gb18030")
        t1 = time.perf_counter()
        flist = read_list(path)
        placed = place_list(flist, [info], tax, area=args.area)
        t_import = time.perf_counter() - t1
    counts = placed.rows["precision"].value_counts()
    print(f"area {args.area}: {len(roads)} named roads; address index built in {t_index:.2f} s")
    print(
        f"imported + geocoded {args.rows:,} synthetic rows in {t_import:.2f} s "
        f"({args.rows / t_import:,.0f} rows/s; target < 10 s for 10,000)"
    )
    for p, n in counts.items():
        print(f"  {p:<14}{n:>7}")


if __name__ == "__main__":
    main()
