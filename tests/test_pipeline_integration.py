"""Integration: `lifecircle run` on the mirror data writes every output, honestly labelled."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

pytestmark = pytest.mark.integration

CENSUS_2010 = {
    "wujiaochang": 149090,
    "xinhualu": 73230,
    "changbaixincun": 70195,
    "weifangxincun": 100548,
}


def test_every_stage_writes_its_output(pipeline_out):
    for name in [
        "network_status.json",
        "plan_mentions.csv",
        "facilities.gpkg",
        "inventory_reconciliation.csv",
        "geocode_report.csv",
        "neighbourhoods.gpkg",
        "coverage.csv",
        "gaps.gpkg",
        "sites.gpkg",
        "scenario_deltas.csv",
        "access/xinhualu.parquet",
        "detour_calibration.json",
    ]:
        assert (pipeline_out / name).exists(), name


def test_population_totals_match_the_census(pipeline_out):
    for area, total in CENSUS_2010.items():
        demand = gpd.read_file(pipeline_out / "demand" / f"{area}.gpkg", layer="demand")
        assert demand["population"].sum() == total


def test_coverage_basis_shows_network_completeness(pipeline_out):
    cov = pd.read_csv(pipeline_out / "coverage.csv", encoding="utf-8-sig")
    basis = cov.groupby("area")["basis"].unique().to_dict()
    assert {a: sorted(v) for a, v in basis.items()} == {
        "changbaixincun": ["estimate"],
        "weifangxincun": ["estimate"],
        "wujiaochang": ["estimate"],
        "xinhualu": ["network"],
    }
    assert set(cov["scenario"]) == {"baseline", "plan", "plan+recommended"}
    area_rows = cov[(cov["unit"] == "ALL") & (cov["scenario"] == "baseline")]
    assert (area_rows["share"].dropna().between(0, 1)).all()


def test_out_of_area_mentions_never_get_a_geometry(pipeline_out):
    mentions = pd.read_csv(pipeline_out / "plan_mentions.csv", encoding="utf-8-sig")
    outside = mentions[mentions["in_area"] == "no"]
    assert len(outside) >= 2
    fac = gpd.read_file(pipeline_out / "facilities.gpkg", layer="facilities")
    plan = fac[fac["source"] == "plan"]
    starts = set(zip(outside["doc"], outside["start"], strict=True))
    placed_outside = plan[
        [(d, s) in starts for d, s in zip(plan["mention_doc"], plan["mention_start"], strict=True)]
    ]
    assert placed_outside.geometry.isna().all() or placed_outside.empty


def test_geopackages_have_named_layers_in_wgs84(pipeline_out):
    for name, layer in [
        ("facilities.gpkg", "facilities"),
        ("gaps.gpkg", "gaps"),
        ("sites.gpkg", "sites"),
        ("neighbourhoods.gpkg", None),
    ]:
        layers = [row[0] for row in pyogrio.list_layers(pipeline_out / name)]
        if layer:
            assert layer in layers
        gdf = gpd.read_file(pipeline_out / name, layer=layer or layers[0])
        assert gdf.crs.to_epsg() == 4326
