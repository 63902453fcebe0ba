"""City view (dashboard.city) on a small table built here: rows chosen, ranking, map marks."""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
import shapely

from dashboard.city import feature_collection, ranking, select_rows
from dashboard.layers import HATCH
from geo.reporting.results import share_colour

NAN = math.nan


def _table() -> pd.DataFrame:
    """Three areas: n (network, 80 %), e (estimate, 50 %), p (no population)."""
    rows = []
    for area, basis, status, std, t15 in (
        ("n", "network", "ok", 0.8, 0.9),
        ("e", "estimate", "estimate", 0.5, 0.6),
        ("p", "network", "no_population", NAN, NAN),
    ):
        for tier, is_std, share in ((NAN, True, std), (15.0, False, t15)):
            rows.append(
                {
                    "area": area,
                    "name_zh": f"{area}街道",
                    "district": "合成区",
                    "category": "composite",
                    "tier": tier,
                    "is_standard_tier": is_std,
                    "share": share,
                    "basis": basis,
                    "area_status": status,
                    "data_status": "ok",
                }
            )
    return pd.DataFrame(rows)


def _polygons() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "area": ["n", "e", "p"],
            "name_zh": ["n街道", "e街道", "p街道"],
            "district": ["合成区"] * 3,
        },
        geometry=[shapely.box(121.4 + k / 100, 31.2, 121.405 + k / 100, 31.205) for k in range(3)],
        crs="EPSG:4326",
    )


def test_rows_at_the_standard_threshold_or_a_tier():
    t = _table()
    assert select_rows(t, "composite", "std")["share"].tolist()[:2] == [0.8, 0.5]
    assert select_rows(t, "composite", "15")["share"].tolist()[:2] == [0.9, 0.6]


def test_ranking_puts_unknown_last_unranked():
    r = ranking(_table(), "composite", "std")
    assert r["area"].tolist() == ["n", "e", "p"]
    assert r["rank"].tolist()[:2] == [1.0, 2.0] and math.isnan(r["rank"].iloc[2])


def test_map_marks_estimate_dotted_and_unknown_hatched():
    feats = {
        f["id"]: f["properties"]
        for f in feature_collection(_polygons(), _table(), "composite", "std")["features"]
    }
    assert feats["n"]["style"]["fillColor"] == share_colour(0.8)
    assert "dashArray" not in feats["n"]["style"]
    assert feats["e"]["style"]["dashArray"] == "2 4"  # the estimate symbol of the subdistrict view
    assert feats["p"]["style"]["fillColor"] == HATCH
    assert feats["p"]["tooltip"] == "p街道 (合成区) — · 无人口数据 / no population"
    assert feats["n"]["cls"] == "lc-city-area lc-city-n"
