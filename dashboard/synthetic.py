"""A tiny SYNTHETIC results folder for tests and demos (no real data; clearly fake areas).

Three fake 1 km x 1 km subdistricts side by side near (121.40 E, 31.20 N):

- ``synthetic_a`` 合成甲街道: a complete 100 m street grid (basis ``network``), four
  500 m neighbourhood cells, 100 demand units of 100 m;
- ``synthetic_b`` 合成乙街道: streets on its western half only (basis ``estimate``, 65 %);
- ``synthetic_c`` 合成丙街道: no street data (basis ``none``).

Two categories (``health_station`` 社区卫生服务站, ``meal_service`` 社区食堂). Coverage is
the Manhattan (grid-street) distance from each demand unit's centre to the nearest facility,
so every figure is exact and easy to check by hand. Everything is written like the real
pipeline writes it (geo.io.tables contracts), plus a registry, boundary file and OSM XML grid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from numpy.typing import NDArray
from pyproj import Transformer

from geo import settings
from geo.reporting.results import read_registry

LON0, LAT0 = 121.40, 31.20
SIDE_M = 1000.0
STEP_M = 100.0
AREAS = ("synthetic_a", "synthetic_b", "synthetic_c")
NAMES = {
    "synthetic_a": ("合成甲街道", "Synthetic A Subdistrict"),
    "synthetic_b": ("合成乙街道", "Synthetic B Subdistrict"),
    "synthetic_c": ("合成丙街道", "Synthetic C Subdistrict"),
}
CATEGORIES: tuple[dict[str, Any], ...] = (
    {
        "key": "health_station",
        "label_zh": "社区卫生服务站",
        "label_en": "Community health station",
        "tier": 15,
        "threshold_m": 1000.0,
    },
    {
        "key": "meal_service",
        "label_zh": "社区食堂",
        "label_en": "Community canteen",
        "tier": 10,
        "threshold_m": 666.67,
    },
)
#: Facilities: (area, category, source, status, local x, local y, name).
FACILITIES = (
    ("synthetic_a", "health_station", "osm", "existing", 150.0, 150.0, "合成卫生站一"),
    ("synthetic_a", "health_station", "plan", "existing", 150.0, 450.0, "合成卫生站二"),
    ("synthetic_a", "health_station", "plan", "planned", 850.0, 150.0, "新建卫生站"),
    ("synthetic_a", "health_station", "recommended", "proposed", 850.0, 850.0, ""),
    ("synthetic_a", "meal_service", "osm", "existing", 500.0, 500.0, "合成食堂<b>"),
    ("synthetic_b", "health_station", "osm", "existing", 250.0, 500.0, "乙卫生站"),
    ("synthetic_c", "meal_service", "osm", "existing", 500.0, 500.0, "丙食堂"),
)
SCENARIO_SOURCES = {
    "baseline": {("osm", "existing"), ("plan", "existing")},
    "plan": {("osm", "existing"), ("plan", "existing"), ("plan", "planned")},
    "plan+recommended": {
        ("osm", "existing"),
        ("plan", "existing"),
        ("plan", "planned"),
        ("recommended", "proposed"),
    },
}
PLAN_SENTENCE = "在合成路新建社区卫生服务站1处，方便居民就近就医。"
PLAN_DOC = "plans/synthetic_plan.txt"

_TO_WGS = Transformer.from_crs(settings.PROJECTED_CRS, settings.STORAGE_CRS, always_xy=True)
_TO_UTM = Transformer.from_crs(settings.STORAGE_CRS, settings.PROJECTED_CRS, always_xy=True)
X0, Y0 = _TO_UTM.transform(LON0, LAT0)


def origin(area: str) -> tuple[float, float]:
    """South-west corner of a synthetic area in EPSG:32651 metres.

    Areas lie 2 km apart, beyond ``settings.CLIP_BUFFER_M``: no facility of one counts for
    another (the synthetic access tables use each area's own facilities).
    """
    return X0 + AREAS.index(area) * (SIDE_M + 2 * settings.CLIP_BUFFER_M), Y0


def to_wgs(area: str, lx: float, ly: float) -> tuple[float, float]:
    """Local metres inside ``area`` -> (lon, lat)."""
    ox, oy = origin(area)
    lon, lat = _TO_WGS.transform(ox + lx, oy + ly)
    return float(lon), float(lat)


def _proj_box(area: str, x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    ox, oy = origin(area)
    return shapely.box(ox + x0, oy + y0, ox + x1, oy + y1)


def _to_wgs_geom(geom: Any) -> Any:
    return shapely.transform(geom, lambda c: np.column_stack(_TO_WGS.transform(c[:, 0], c[:, 1])))


def cells(area: str) -> list[tuple[str, shapely.Polygon]]:
    """Neighbourhood cells (projected): four 500 m squares in A, two halves in B, one in C."""
    if area == "synthetic_a":
        boxes = [(0, 0, 500, 500), (500, 0, 1000, 500), (0, 500, 500, 1000), (500, 500, 1000, 1000)]
    elif area == "synthetic_b":
        boxes = [(0, 0, 500, 1000), (500, 0, 1000, 1000)]
    else:
        boxes = [(0, 0, 1000, 1000)]
    return [(f"{area}-n{i + 1}", _proj_box(area, *b)) for i, b in enumerate(boxes)]


def demand(area: str) -> pd.DataFrame:
    """Demand units: 100 m squares; population 10 + (i mod 3) (exact integers)."""
    rows = []
    n = int(SIDE_M // STEP_M)
    for j in range(n):
        for i in range(n):
            k = j * n + i
            rows.append(
                {
                    "unit_id": f"{area}-u{k:03d}",
                    "lx": (i + 0.5) * STEP_M,
                    "ly": (j + 0.5) * STEP_M,
                    "population": 10 + (k % 3),
                }
            )
    return pd.DataFrame(rows)


def _cell_of(area: str, lx: float, ly: float) -> str:
    ox, oy = origin(area)
    p = shapely.Point(ox + lx, oy + ly)
    for uid, poly in cells(area):
        if poly.contains(p):
            return uid
    raise ValueError("unit outside every cell")


def nearest_m(area: str, category: str, scenario: str, units: pd.DataFrame) -> np.ndarray:
    """Manhattan distance (m) from each unit to the nearest facility of the scenario."""
    pts = [
        (x, y)
        for a, c, s, t, x, y, _ in FACILITIES
        if a == area and c == category and (s, t) in SCENARIO_SOURCES[scenario]
    ]
    if not pts:
        return np.full(len(units), np.inf)
    fx = np.array([p[0] for p in pts])
    fy = np.array([p[1] for p in pts])
    d = np.abs(units["lx"].to_numpy()[:, None] - fx) + np.abs(units["ly"].to_numpy()[:, None] - fy)
    nearest: NDArray[np.float64] = d.min(axis=1)
    return nearest


def threshold_m(tier: int, profile: str) -> float:
    """Return walking distance (m) of a tier at a profile's speed."""
    return tier * settings.WALK_SPEEDS_KMH[profile] * 1000.0 / 60.0


BASIS = {"synthetic_a": "network", "synthetic_b": "estimate", "synthetic_c": "none"}
COMPLETENESS = {"synthetic_a": 0.92, "synthetic_b": 0.65, "synthetic_c": 0.0}


def coverage_table() -> pd.DataFrame:
    """Return the synthetic ``coverage.csv`` (areas x cells+ALL x categories+composite x ...)."""
    rows = []
    for area in AREAS:
        units = demand(area)
        units["cell"] = [
            _cell_of(area, x, y) for x, y in zip(units["lx"], units["ly"], strict=True)
        ]
        basis = BASIS[area]
        for scenario in SCENARIO_SOURCES:
            for profile in ("default", "elderly"):
                for tier in (5, 10, 15):
                    thr = threshold_m(tier, profile)
                    reach = {}
                    for cat in CATEGORIES:
                        d = nearest_m(area, cat["key"], scenario, units)
                        reach[cat["key"]] = d <= thr
                    reach["composite"] = np.mean([reach[c["key"]] for c in CATEGORIES], axis=0)
                    for key, covered in reach.items():
                        standard = any(c["key"] == key and c["tier"] == tier for c in CATEGORIES)
                        groups = [*sorted(units["cell"].unique()), "ALL"]
                        for unit in groups:
                            m = (
                                np.ones(len(units), bool)
                                if unit == "ALL"
                                else (units["cell"] == unit).to_numpy()
                            )
                            pop = float(units["population"][m].sum())
                            cov = float((units["population"][m] * covered[m]).sum())
                            share = round(cov / pop, 4) if basis != "none" else np.nan
                            rows.append(
                                {
                                    "area": area,
                                    "unit": unit,
                                    "category": key,
                                    "tier": tier,
                                    "threshold_m": round(thr, 2),
                                    "population": pop,
                                    "covered_population": cov if basis != "none" else np.nan,
                                    "share": share,
                                    "basis": basis,
                                    "completeness": COMPLETENESS[area],
                                    "profile": profile,
                                    "scenario": scenario,
                                    "is_standard_tier": standard,
                                }
                            )
    return pd.DataFrame(rows)


def _osm_xml(area: str) -> str:
    """Return a street grid as OSM XML: rows residential, columns footway (B: western half only)."""
    n = int(SIDE_M // STEP_M) + 1
    max_i = n if area == "synthetic_a" else n // 2 + 1
    base = (AREAS.index(area) + 1) * 100000
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="lifecircle synthetic">',
    ]
    nid = {}
    for j in range(n):
        for i in range(max_i):
            k = base + j * n + i + 1
            nid[i, j] = k
            lon, lat = to_wgs(area, i * STEP_M, j * STEP_M)
            lines.append(
                f'  <node id="{k}" version="1" timestamp="2024-01-01T00:00:00Z" '
                f'lat="{lat:.7f}" lon="{lon:.7f}"/>'
            )
    wid = base
    for j in range(n):
        wid += 1
        refs = "".join(f'<nd ref="{nid[i, j]}"/>' for i in range(max_i))
        lines.append(
            f'  <way id="{wid}" version="1" timestamp="2024-01-01T00:00:00Z">{refs}'
            f'<tag k="highway" v="residential"/><tag k="name" v="合成横路{j}"/></way>'
        )
    for i in range(max_i):
        wid += 1
        refs = "".join(f'<nd ref="{nid[i, j]}"/>' for j in range(n))
        lines.append(
            f'  <way id="{wid}" version="1" timestamp="2024-01-01T00:00:00Z">{refs}'
            f'<tag k="highway" v="footway"/></way>'
        )
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


def write_synthetic(root: str | Path) -> dict[str, Path]:
    """Write a synthetic data folder, registry and results folder under ``root``.

    Returns
    -------
    dict
        ``data`` (data root), ``areas_file`` (registry YAML) and ``out`` (results folder).
    """
    root = Path(root)
    data, out = root / "data", root / "out"
    (data / "boundaries").mkdir(parents=True, exist_ok=True)
    (data / "osm" / "synthetic").mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demand").mkdir(exist_ok=True)
    (out / "access").mkdir(exist_ok=True)

    bounds = gpd.GeoDataFrame(
        {
            "osm_relation_id_source": [str(900001 + i) for i in range(len(AREAS))],
            "osm_name": [NAMES[a][0] for a in AREAS],
        },
        geometry=[_to_wgs_geom(_proj_box(a, 0, 0, SIDE_M, SIDE_M)) for a in AREAS],
        crs=settings.STORAGE_CRS,
    )
    bounds.to_file(data / "boundaries" / "synthetic_boundaries.geojson", driver="GeoJSON")
    entries = []
    for i, a in enumerate(AREAS):
        net = [] if a == "synthetic_c" else [f"osm/synthetic/{a}_grid.osm"]
        if net:
            (data / net[0]).write_text(_osm_xml(a), encoding="utf-8")
        entries.append(
            {
                "id": a,
                "name_zh": NAMES[a][0],
                "name_en": NAMES[a][1],
                "district": "合成区",
                "osm_relation": 900001 + i,
                "census_code_2010": None,
                "network": net,
                "features": [],
                "data_date": "2024-01-01 (synthetic)",
                "plans": [],
            }
        )
    registry = {
        "defaults": {
            "boundary": {
                "file": "boundaries/synthetic_boundaries.geojson",
                "key": "osm_relation_id_source",
            }
        },
        "areas": entries,
    }
    areas_file = data / "areas.yaml"
    areas_file.write_text(
        yaml.safe_dump(registry, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )

    status = [
        {
            "area": a,
            "name_zh": NAMES[a][0],
            "name_en": NAMES[a][1],
            "nodes": 0,
            "edges": 0,
            "completeness": COMPLETENESS[a],
            "largest_component_share": 1.0 if a != "synthetic_c" else 0.0,
            "basis": BASIS[a],
            "note": "" if BASIS[a] == "network" else "incomplete network / 路网数据不完整",
            "sources": [],
            "data_timestamps": ["2024-01-01T00:00:00Z"],
        }
        for a in AREAS
    ]
    (out / "network_status.json").write_text(
        json.dumps(status, ensure_ascii=False, indent=1), encoding="utf-8"
    )

    hood_rows = [(a, uid, _to_wgs_geom(poly)) for a in AREAS for uid, poly in cells(a)]
    gpd.GeoDataFrame(
        {"unit": [r[1] for r in hood_rows], "area": [r[0] for r in hood_rows]},
        geometry=[r[2] for r in hood_rows],
        crs=settings.STORAGE_CRS,
    ).to_file(out / "neighbourhoods.gpkg", layer="neighbourhoods")
    for a in AREAS:
        u = demand(a)
        geoms = [
            _to_wgs_geom(_proj_box(a, x - 50, y - 50, x + 50, y + 50))
            for x, y in zip(u["lx"], u["ly"], strict=True)
        ]
        gpd.GeoDataFrame(
            {
                "unit_id": u["unit_id"],
                "area": a,
                "population": u["population"],
                "pop_source": "synthetic",
            },
            geometry=geoms,
            crs=settings.STORAGE_CRS,
        ).to_file(out / "demand" / f"{a}.gpkg", layer="demand")
        acc = []
        for cat in CATEGORIES:
            d = nearest_m(a, cat["key"], "baseline", u)
            acc.append(
                pd.DataFrame(
                    {
                        "unit_id": u["unit_id"],
                        "category": cat["key"],
                        "nearest_m": d,
                        "nearest_min": d / (4000 / 60),
                        "n_within": (d <= cat["threshold_m"]).astype(int),
                    }
                )
            )
        # named as the pipeline names them (geo.planning.coverage.access_path)
        name = f"{a}.parquet" if BASIS[a] == "network" else f"{a}.estimate.parquet"
        pd.concat(acc).to_parquet(out / "access" / name, index=False)

    fac_rows = []
    for k, (a, c, s, t, x, y, name) in enumerate(FACILITIES):
        lon, lat = to_wgs(a, x, y)
        fac_rows.append(
            {
                "facility_id": f"syn-{k}",
                "area": a,
                "name": name,
                "category": c,
                "source": s,
                "status": t,
                "precision": "street" if s == "plan" else "exact",
                "confidence": 0.7 if s == "plan" else 1.0,
                "osm_id": f"node/{k + 1}" if s == "osm" else "",
                "mention_doc": PLAN_DOC if s == "plan" else "",
                "mention_start": 10 if s == "plan" else -1,
                "sentence": PLAN_SENTENCE if s == "plan" else "",
                "geometry": shapely.Point(lon, lat),
            }
        )
    gpd.GeoDataFrame(fac_rows, geometry="geometry", crs=settings.STORAGE_CRS).to_file(
        out / "facilities.gpkg", layer="facilities"
    )

    cov = coverage_table()
    cov.to_csv(out / "coverage.csv", index=False)

    gap_rows = []
    u = demand("synthetic_a")
    for cat in CATEGORIES:
        d = nearest_m("synthetic_a", cat["key"], "baseline", u)
        miss = d > cat["threshold_m"]
        if miss.any():
            geom = shapely.union_all(
                [
                    _proj_box("synthetic_a", x - 50, y - 50, x + 50, y + 50)
                    for x, y in zip(u["lx"][miss], u["ly"][miss], strict=True)
                ]
            )
            gap_rows.append(
                {
                    "area": "synthetic_a",
                    "category": cat["key"],
                    "population": float(u["population"][miss].sum()),
                    "area_m2": float(geom.area),
                    "rank": 1,
                    "geometry": _to_wgs_geom(geom),
                }
            )
    gpd.GeoDataFrame(gap_rows, geometry="geometry", crs=settings.STORAGE_CRS).to_file(
        out / "gaps.gpkg", layer="gaps"
    )
    lon, lat = to_wgs("synthetic_a", 850.0, 850.0)
    gpd.GeoDataFrame(
        {
            "area": ["synthetic_a"],
            "category": ["health_station"],
            "rank": [1],
            "gain_population": [120.0],
        },
        geometry=[shapely.Point(lon, lat)],
        crs=settings.STORAGE_CRS,
    ).to_file(out / "sites.gpkg", layer="sites")
    pd.DataFrame(
        [
            {
                "area": "synthetic_a",
                "category": c["key"],
                "label_zh": c["label_zh"],
                "label_en": c["label_en"],
                "plan_existing": pe,
                "plan_new": pn,
                "plan_upgrade": 0,
                "osm_count": oc,
                "difference": pe - oc,
                "note": "synthetic",
            }
            for c, pe, pn, oc in ((CATEGORIES[0], 2, 1, 1), (CATEGORIES[1], 1, 0, 1))
        ]
    ).to_csv(out / "inventory_reconciliation.csv", index=False)
    pd.DataFrame(
        [
            {
                "doc": PLAN_DOC,
                "area": "synthetic_a",
                "kind": "generic",
                "name": "社区卫生服务站",
                "category": "health_station",
                "action": "new",
                "quantity": 1,
                "place_hint": "合成路",
                "in_area": "yes",
                "start": 10,
                "end": 30,
                "sentence": PLAN_SENTENCE,
            }
        ]
    ).to_csv(out / "plan_mentions.csv", index=False)
    allrows = cov[(cov["unit"] == "ALL") & (cov["profile"] == "default")]
    base = allrows[allrows["scenario"] == "baseline"].set_index(["area", "category", "tier"])
    deltas = allrows.join(base["share"].rename("baseline_share"), on=["area", "category", "tier"])
    deltas = deltas.assign(delta=deltas["share"] - deltas["baseline_share"])
    deltas[["area", "category", "tier", "scenario", "share", "baseline_share", "delta"]].to_csv(
        out / "scenario_deltas.csv", index=False
    )
    return {"data": data, "areas_file": areas_file, "out": out}


def synthetic_registry(paths: dict[str, Path]) -> Any:
    """Return the registry of a folder written by :func:`write_synthetic`."""
    return read_registry(paths["areas_file"], data_dir=paths["data"])


def synthetic_taxonomy() -> list[dict[str, Any]]:
    """Return the two synthetic categories as taxonomy records."""
    return [dict(c) for c in CATEGORIES]
