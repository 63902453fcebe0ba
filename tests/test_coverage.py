"""Coverage shares, composite score, reconciliation join and gap polygons (geo.coverage)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import settings
from geo._errors import LifeCircleError
from geo.io.tables import ALL, COMPOSITE
from geo.planning.context import CategorySpec, category_specs, tier_threshold_m
from geo.planning.coverage import (
    coverage_table,
    gap_polygons,
    join_reconciliation,
    write_coverage,
    write_gaps,
)

CATS = {
    "shop": CategorySpec("shop", 5, 300.0, "商店", "Shop"),
    "school": CategorySpec("school", 15, 1000.0, "学校", "School"),
}
DEMAND = pd.DataFrame(
    {
        "unit_id": ["u1", "u2", "u3", "u4"],
        "area": "t",
        "population": [100, 50, 30, 20],
        "neighbourhood": ["A", "A", "B", "B"],
    }
)
ACCESS = pd.DataFrame(
    {
        "unit_id": ["u1", "u2", "u3", "u4", "u1", "u2", "u3"],
        "category": ["shop"] * 4 + ["school"] * 3,  # u4 has no school row: not covered
        "nearest_m": [200.0, 400.0, 600.0, np.inf, 900.0, 1100.0, 500.0],
    }
)


def _row(table, unit, category, tier, profile="default"):
    sel = (table["unit"] == unit) & (table["category"] == category) & (table["profile"] == profile)
    sel &= table["tier"].isna() if tier is None else table["tier"] == tier
    rows = table[sel]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.fixture(scope="module")
def table():
    return coverage_table(DEMAND, ACCESS, CATS, basis="network", completeness=0.91)


def test_tier_thresholds_follow_walking_speed():
    assert [tier_threshold_m(t, 4.0) for t in (5, 10, 15)] == [333.0, 667.0, 1000.0]
    assert [tier_threshold_m(t, 3.0) for t in (5, 10, 15)] == [250.0, 500.0, 750.0]


def test_standard_tier_uses_the_taxonomy_threshold(table):
    r = _row(table, ALL, "shop", 5)
    assert (r["threshold_m"], r["is_standard_tier"], r["threshold_source"]) == (
        300.0,
        True,
        "taxonomy",
    )
    assert (r["population"], r["covered_population"], r["share"]) == (200.0, 100.0, 0.5)


def test_other_tiers_use_the_tier_distance(table):
    r = _row(table, ALL, "shop", 10)
    assert (r["threshold_m"], r["is_standard_tier"]) == (667.0, False)
    assert r["covered_population"] == 180.0


def test_neighbourhood_rows_split_the_area(table):
    a = _row(table, "A", "shop", 5)
    b = _row(table, "B", "shop", 5)
    assert (a["population"], a["covered_population"]) == (150.0, 100.0)
    assert (b["population"], b["covered_population"], b["share"]) == (50.0, 0.0, 0.0)


def test_missing_access_rows_count_as_not_covered(table):
    assert _row(table, ALL, "school", 15)["covered_population"] == 130.0


def test_elderly_profile_scales_thresholds_to_3_kmh(table):
    std = _row(table, ALL, "shop", 5, "elderly")
    assert (std["threshold_m"], std["covered_population"]) == (225.0, 100.0)
    t10 = _row(table, ALL, "shop", 10, "elderly")
    assert (t10["threshold_m"], t10["covered_population"]) == (500.0, 150.0)


def test_composite_is_the_population_weighted_share_of_categories(table):
    r = _row(table, ALL, COMPOSITE, None)
    # u1 reaches both (100), u2 none, u3 school only (30 * 0.5), u4 none
    assert r["covered_population"] == 115.0
    assert r["share"] == 0.575
    assert bool(r["is_standard_tier"]) is True


def test_composite_per_tier_uses_that_tiers_thresholds(table):
    r = _row(table, ALL, COMPOSITE, 10)
    # shop <= 667: u1, u2, u3; school <= 667: u3 -> 100*.5 + 50*.5 + 30*1
    assert r["covered_population"] == 105.0


def test_rows_carry_basis_completeness_scenario_and_labels(table):
    assert set(table["basis"]) == {"network"}
    assert set(table["completeness"]) == {0.91}
    assert set(table["scenario"]) == {"baseline"}
    assert _row(table, ALL, "shop", 5)["category_zh"] == "商店"


def test_row_count_is_units_by_categories_by_tiers_by_profiles(table):
    # (ALL, A, B) x [(2 categories + composite) x 3 tiers + standard composite] x 2 profiles
    assert len(table) == 3 * (3 * 3 + 1) * 2


def test_basis_none_leaves_coverage_empty():
    t = coverage_table(DEMAND, ACCESS.iloc[:0], CATS, basis="none", completeness=0.0)
    assert t["covered_population"].isna().all()
    assert t["share"].isna().all()
    assert _row(t, ALL, "shop", 5)["population"] == 200.0


def test_unknown_basis_is_rejected():
    with pytest.raises(LifeCircleError, match="basis must be"):
        coverage_table(DEMAND, ACCESS, CATS, basis="crowfly")


def test_duplicate_access_rows_are_rejected():
    dup = pd.concat([ACCESS, ACCESS.iloc[:1]])
    with pytest.raises(LifeCircleError, match="two rows for unit 'u1'"):
        coverage_table(DEMAND, dup, CATS)


def test_threshold_beyond_the_access_search_is_noted():
    t = coverage_table(DEMAND, ACCESS, CATS, search_m={"shop": 600.0})
    assert "lower bound" in _row(t, ALL, "shop", 10)["note"]
    assert "lower bound" not in _row(t, ALL, "shop", 5)["note"]


def test_neighbourhood_polygons_reassign_units():
    d = DEMAND.assign(x=[5.0, 5.0, 15.0, 15.0], y=5.0).drop(columns="neighbourhood")
    hoods = gpd.GeoDataFrame(
        {"neighbourhood": ["west", "east"], "area": "t"},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs=settings.PROJECTED_CRS,
    )
    t = coverage_table(d, ACCESS, CATS, neighbourhoods=hoods)
    assert _row(t, "west", "shop", 5)["population"] == 150.0


# -- taxonomy adapter -------------------------------------------------------------------------
def test_specs_read_taxonomy_objects():
    tax = SimpleNamespace(
        categories={
            "market": SimpleNamespace(
                key="market", tier=10, threshold_m=500.0, label_zh="菜场", label_en="Market"
            )
        }
    )
    assert category_specs(tax) == {"market": CategorySpec("market", 10, 500.0, "菜场", "Market")}


def test_specs_infer_a_missing_tier_from_the_threshold():
    specs = category_specs([{"id": "park", "threshold_m": 500.0}])
    assert specs["park"].tier == 10


def test_specs_infer_a_missing_threshold_from_the_tier():
    specs = category_specs([{"id": "clinic", "tier": "15min"}])
    assert specs["clinic"].threshold_m == 1000.0


# -- reconciliation ---------------------------------------------------------------------------
def test_reconciliation_counts_join_the_area_rows_only(table):
    rec = pd.DataFrame(
        {
            "area": ["t"],
            "category": ["shop"],
            "plan_existing": [5],
            "plan_new": [1],
            "osm_count": [3],
        }
    )
    t = join_reconciliation(table, rec)
    r = _row(t, ALL, "shop", 5)
    assert (r["plan_existing"], r["osm_count"], r["plan_minus_osm"]) == (5.0, 3.0, 2.0)
    assert math.isnan(_row(t, "A", "shop", 5)["plan_existing"])
    assert math.isnan(_row(t, ALL, "school", 15)["plan_existing"])


def test_reconciliation_note_joins_the_area_rows(table):
    rec = pd.DataFrame(
        {"area": ["t"], "category": ["shop"], "osm_count": [3], "note": ["OSM: 3 inside"]}
    )
    t = join_reconciliation(table, rec)
    assert _row(t, ALL, "shop", 5)["reconciliation_note"] == "OSM: 3 inside"
    assert _row(t, "A", "shop", 5)["reconciliation_note"] == ""


def test_reconciliation_csv_with_a_bom_is_read(tmp_path):
    from geo.planning.coverage import read_reconciliation

    (tmp_path / "inventory_reconciliation.csv").write_text(
        "area,category,plan_existing,osm_count\nt,shop,5,3\n", encoding="utf-8-sig"
    )
    rec = read_reconciliation(tmp_path)
    assert rec is not None
    assert list(rec.columns) == ["area", "category", "plan_existing", "osm_count"]


def test_without_reconciliation_the_table_is_unchanged(table):
    assert join_reconciliation(table, None) is table


# -- gaps -------------------------------------------------------------------------------------
X0, Y0 = 350_000.0, 3_450_000.0


def _cell(i, j):
    return shapely.box(X0 + 100 * i, Y0 + 100 * j, X0 + 100 * (i + 1), Y0 + 100 * (j + 1))


def _grid_demand():
    geoms = [_cell(0, 0), _cell(1, 0), _cell(2, 0), _cell(5, 5), _cell(8, 8), _cell(9, 9)]
    return gpd.GeoDataFrame(
        {
            "unit_id": [f"g{k}" for k in range(6)],
            "area": "t",
            "unit_type": "grid",
            "population": [10, 20, 30, 100, 40, 0],
        },
        geometry=geoms,
        crs=settings.PROJECTED_CRS,
    ).to_crs(4326)


def _far_access(ids, near_ids=()):
    return pd.DataFrame(
        {
            "unit_id": ids,
            "category": "shop",
            "nearest_m": [100.0 if i in near_ids else 900.0 for i in ids],
        }
    )


def test_adjacent_uncovered_cells_dissolve_and_are_ranked_by_population():
    d = _grid_demand()
    gaps = gap_polygons(
        d, _far_access(d["unit_id"].tolist(), near_ids=("g4",)), {"shop": CATS["shop"]}
    )
    assert gaps["population"].tolist() == [100.0, 60.0]
    assert gaps["rank"].tolist() == [1, 2]
    assert gaps["area_m2"].tolist() == pytest.approx([10_000.0, 30_000.0], rel=1e-6)
    assert gaps["n_units"].tolist() == [1, 3]
    assert gaps["gap_id"].tolist() == ["t-shop-001", "t-shop-002"]
    assert gaps.crs.to_epsg() == 4326


def test_nearby_buildings_merge_through_the_buffer():
    b = [
        shapely.box(X0, Y0, X0 + 20, Y0 + 20),
        shapely.box(X0 + 50, Y0, X0 + 70, Y0 + 20),
        shapely.box(X0 + 300, Y0, X0 + 320, Y0 + 20),
    ]
    d = gpd.GeoDataFrame(
        {
            "unit_id": ["b1", "b2", "b3"],
            "area": "t",
            "unit_type": "building",
            "population": [5, 7, 11],
        },
        geometry=b,
        crs=settings.PROJECTED_CRS,
    )
    gaps = gap_polygons(d, _far_access(["b1", "b2", "b3"]), {"shop": CATS["shop"]})
    assert sorted(gaps["population"].tolist()) == [11.0, 12.0]


def test_no_gaps_when_coverage_is_unknown():
    d = _grid_demand()
    assert gap_polygons(
        d, _far_access(d["unit_id"].tolist()), {"shop": CATS["shop"]}, basis="none"
    ).empty


# -- files ------------------------------------------------------------------------------------
def test_coverage_csv_keeps_other_areas(tmp_path, table):
    path = tmp_path / "coverage.csv"
    write_coverage(table.assign(area="other"), path)
    write_coverage(table, path)
    write_coverage(table, path)
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back.groupby("area").size().to_dict() == {"other": len(table), "t": len(table)}


def test_gaps_gpkg_has_layer_gaps_and_crs(tmp_path):
    d = _grid_demand()
    gaps = gap_polygons(d, _far_access(d["unit_id"].tolist()), {"shop": CATS["shop"]})
    path = write_gaps(gaps, tmp_path / "gaps.gpkg", ["t"])
    back = gpd.read_file(path, layer="gaps")
    assert back.crs.to_epsg() == 4326
    assert len(back) == len(gaps)


# -- integration: the command and the analyst script on the real areas -----------------------
@pytest.fixture(scope="module")
def coverage_run(registry, tmp_path_factory):
    """`lifecircle coverage` for xinhualu (network) and changbaixincun (no network) with a
    synthetic access table and one synthetic market facility."""
    from click.testing import CliRunner

    from geo.cli import main
    from geo.demand.population import make_demand, read_demand
    from geo.io.geom import project_geom

    out = tmp_path_factory.mktemp("coverage_out")
    areas = [registry.get("xinhualu"), registry.get("changbaixincun")]
    make_demand(registry, areas, out)
    units = read_demand(out, "xinhualu")
    (out / "access").mkdir()
    pd.DataFrame(
        {
            "unit_id": units["unit_id"],
            "category": "market",
            "nearest_m": 100.0,
            "nearest_min": 1.5,
            "n_within": 1,
        }
    ).to_parquet(out / "access" / "xinhualu.parquet")
    centre = project_geom(registry.boundary("changbaixincun").representative_point())
    xin = project_geom(registry.boundary("xinhualu").representative_point())
    # xinhualu's market and health facilities make those categories 'ok' (data_status); the
    # synthetic access table decides their coverage; other categories have no facility data
    gpd.GeoDataFrame(
        {
            "facility_id": ["synthetic-1", "synthetic-2", "synthetic-3"],
            "area": ["changbaixincun", "xinhualu", "xinhualu"],
            "name": ["synthetic market", "synthetic market", "synthetic clinic"],
            "category": ["market", "market", "health"],
            "source": "osm",
            "status": "existing",
            "precision": "exact",
        },
        geometry=[centre, xin, xin],
        crs=settings.PROJECTED_CRS,
    ).to_crs(4326).to_file(out / "facilities.gpkg", layer="facilities", driver="GPKG")
    res = CliRunner().invoke(
        main,
        [
            "coverage",
            "--out",
            str(out),
            "--area",
            "xinhualu",
            "--area",
            "changbaixincun",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def _area_row(table, area, category):
    sel = (
        (table["area"] == area)
        & (table["unit"] == ALL)
        & (table["category"] == category)
        & table["is_standard_tier"]
        & (table["profile"] == "default")
    )
    return table[sel].iloc[0]


@pytest.mark.integration
def test_cli_coverage_reports_network_basis_for_xinhualu(coverage_run):
    table = pd.read_csv(coverage_run / "coverage.csv", encoding="utf-8-sig")
    r = _area_row(table, "xinhualu", "market")
    assert (r["basis"], r["population"], r["share"]) == ("network", 73230.0, 1.0)
    assert _area_row(table, "xinhualu", "health")["share"] == 0.0


@pytest.mark.integration
def test_cli_coverage_category_without_facility_data_is_not_zero(coverage_run):
    table = pd.read_csv(coverage_run / "coverage.csv", encoding="utf-8-sig")
    r = _area_row(table, "xinhualu", "school")
    assert r["data_status"] == "no_facility_data"
    assert math.isnan(r["share"])
    comp = _area_row(table, "xinhualu", COMPOSITE)
    assert comp["n_categories"] == 2  # market and health
    assert comp["share"] == pytest.approx(0.5)
    gaps = gpd.read_file(coverage_run / "gaps.gpkg", layer="gaps")
    assert "school" not in set(gaps[gaps["area"] == "xinhualu"]["category"])
    assert "data_status" in (coverage_run / "coverage_README.txt").read_text(encoding="utf-8")


@pytest.mark.integration
def test_cli_coverage_labels_changbaixincun_as_an_estimate(coverage_run):
    table = pd.read_csv(coverage_run / "coverage.csv", encoding="utf-8-sig")
    r = _area_row(table, "changbaixincun", "market")
    assert (r["basis"], r["completeness"], r["population"]) == ("estimate", 0.0, 70195.0)
    assert r["note"].startswith("no network data — straight-line × detour factor")
    assert 0.0 < r["share"] < 1.0


@pytest.mark.integration
def test_cli_coverage_writes_the_detour_calibration(coverage_run):
    import json

    cal = json.loads((coverage_run / "detour_calibration.json").read_text(encoding="utf-8"))
    assert cal["area"] == "xinhualu"
    assert 1.1 < cal["factor"] < 2.0  # fitted on this fixture's two co-located facilities


@pytest.mark.integration
def test_cli_coverage_gaps_exclude_covered_categories(coverage_run):
    gaps = gpd.read_file(coverage_run / "gaps.gpkg", layer="gaps")
    assert gaps.crs.to_epsg() == 4326
    xin = gaps[gaps["area"] == "xinhualu"]
    assert "market" not in set(xin["category"])
    assert xin[xin["category"] == "health"]["population"].sum() == 73230.0


@pytest.mark.integration
def test_cli_coverage_without_access_table_fails_with_one_line(registry, coverage_run):
    from click.testing import CliRunner

    from geo.cli import main

    (coverage_run / "access" / "xinhualu.parquet").rename(coverage_run / "moved.parquet")
    try:
        res = CliRunner().invoke(
            main, ["coverage", "--out", str(coverage_run), "--area", "xinhualu", "--no-progress"]
        )
    finally:
        (coverage_run / "moved.parquet").rename(coverage_run / "access" / "xinhualu.parquet")
    assert res.exit_code == 2
    assert "run `lifecircle access --area xinhualu` first" in res.output


@pytest.mark.integration
def test_gap_analysis_script_writes_layers_with_crs(coverage_run):
    import importlib.util

    import pyogrio

    spec = importlib.util.spec_from_file_location(
        "gap_analysis", settings.PROJECT_ROOT / "scripts" / "gap_analysis.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (
        mod.main(["--area", "changbaixincun", "--category", "market", "--out", str(coverage_run)])
        == 0
    )
    gpkg = coverage_run / "analysis" / "changbaixincun_market_baseline.gpkg"
    assert sorted(name for name, _ in pyogrio.list_layers(gpkg)) == [
        "gaps",
        "neighbourhoods",
        "units",
    ]
    assert pyogrio.read_info(gpkg, layer="gaps")["crs"] == "EPSG:4326"
    sheets = pd.read_excel(gpkg.with_suffix(".xlsx"), sheet_name=None)
    assert list(sheets) == ["coverage", "gaps", "units", "about"]


def test_write_coverage_sets_an_unreadable_old_file_aside(tmp_path):
    path = tmp_path / "coverage.csv"
    path.write_bytes(b"\x00\xff not a csv \x00")
    rows = pd.DataFrame({"area": ["a"], "scenario": ["baseline"], "share": [0.5]})
    with pytest.warns(UserWarning, match="unreadable"):
        write_coverage(rows, path)
    kept = list(tmp_path.glob("coverage.unreadable-*.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"\x00\xff not a csv \x00"
    assert pd.read_csv(path, encoding="utf-8-sig")["share"].tolist() == [0.5]
