"""Scenarios: which facilities count, coverage per scenario and the deltas."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo._errors import LifeCircleError
from geo.io.tables import SCENARIOS, facility_scenario
from geo.planning import context, scenarios, sites
from geo.planning.context import AreaContext, scenario_facilities
from geo.planning.scenarios import deltas_table
from tests._sites_synth import (
    TAXONOMY,
    X0,
    Y0,
    Area,
    Registry,
    box,
    demand_units,
    facilities_table,
    line_network,
    mentions_table,
    to_lonlat,
)


@pytest.fixture
def synth_out(tmp_path):
    """Results folder of the synthetic street area: demand, facilities, plan mentions."""
    out = tmp_path / "out"
    (out / "demand").mkdir(parents=True)
    demand_units().to_file(out / "demand" / "synth.gpkg", layer="demand", driver="GPKG")
    facilities_table(
        [
            ("meal_service", "osm", "existing", "exact", 1000.0),  # covers the unit at 960 m
            ("meal_service", "plan", "planned", "exact", 0.0),  # placed: covers the unit at 40
            ("meal_service", "plan", "planned", "area", 640.0),  # not placed: ignored
        ]
    ).to_file(out / "facilities.gpkg", layer="facilities", driver="GPKG")
    mentions_table([("synth", "generic", "meal_service", "new", 1, "yes", "社区食堂")]).to_csv(
        out / "plan_mentions.csv", index=False, encoding="utf-8-sig"
    )
    return out


# ---------------------------------------------------------------------------------------------
# definitions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "status", "expected"),
    [
        ("osm", "existing", "baseline"),
        ("gazetteer", "existing", "baseline"),
        ("plan", "existing", "baseline"),
        ("plan", "planned", "plan"),
        ("plan", "proposed", "plan"),
        ("recommended", "proposed", "plan+recommended"),
        ("plan", "closed", None),
    ],
)
def test_facility_scenario(source, status, expected):
    assert facility_scenario(source, status) == expected


def test_scenario_facilities_grow_from_baseline_to_plan_to_recommended():
    fac = facilities_table(
        [
            ("meal_service", "osm", "existing", "exact", 100.0),
            ("meal_service", "plan", "planned", "street", 200.0),
            ("meal_service", "plan", "planned", "area", 300.0),  # unplaced
            ("sports", "recommended", "proposed", "exact", 400.0),
        ]
    )
    lon, lat = to_lonlat([X0 + 500.0, X0 + 600.0], [Y0, Y0])
    site_rows = gpd.GeoDataFrame(
        {"area": ["synth", "other"], "category": ["meal_service"] * 2, "rank": [1, 1]},
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    got = {
        s: scenario_facilities(fac, s, sites=site_rows, area_id="synth")["facility_id"].tolist()
        for s in SCENARIOS
    }
    assert got == {
        "baseline": ["f0"],
        "plan": ["f0", "f1"],
        "plan+recommended": ["f0", "f1", "f3", "site-synth-meal_service-1"],
    }


def test_scenario_facilities_are_projected_points():
    fac = facilities_table([("meal_service", "osm", "existing", "exact", 250.0)])
    got = scenario_facilities(fac, "baseline")
    assert got["x"].iloc[0] == pytest.approx(X0 + 250.0, abs=1e-6)
    assert got["y"].iloc[0] == pytest.approx(Y0, abs=1e-6)


def test_scenario_facilities_outside_the_buffer_are_dropped():
    fac = facilities_table(
        [
            ("meal_service", "osm", "existing", "exact", 500.0),
            ("meal_service", "osm", "existing", "exact", 2500.0),
        ]
    )
    area = box(X0, Y0 - 10, X0 + 1000, Y0 + 10)
    got = scenario_facilities(fac, "baseline", boundary=area, buffer_m=1000.0)
    assert got["facility_id"].tolist() == ["f0"]


def test_unknown_scenario_raises():
    with pytest.raises(LifeCircleError, match="unknown scenario 'future'"):
        scenario_facilities(None, "future")


# ---------------------------------------------------------------------------------------------
# coverage and deltas
# ---------------------------------------------------------------------------------------------
def estimate_setup(factor: float = 1.0) -> AreaContext:
    return AreaContext("synth", demand_units(), "estimate", 0.0, "estimate", factor=factor)


def test_estimate_access_uses_the_detour_factor():
    fac = pd.DataFrame({"category": ["meal_service"], "x": [X0 + 640.0], "y": [Y0]})
    acc = estimate_setup(1.5).access(fac, {"meal_service": 50.0})
    near = acc.set_index("unit_id")["nearest_m"]
    assert near["u2"] == pytest.approx(1.5 * 5.0)
    assert near["u0"] == pytest.approx(1.5 * math.hypot(600.0, 5.0))


def test_scenario_coverage_counts_people_within_threshold():
    from geo.planning.context import category_specs

    specs = category_specs(TAXONOMY)
    fac = {
        "baseline": pd.DataFrame({"category": ["meal_service"], "x": [X0 + 1000.0], "y": [Y0]}),
        "plan": pd.DataFrame(
            {"category": ["meal_service"] * 2, "x": [X0 + 1000.0, X0], "y": [Y0, Y0]}
        ),
    }
    _, cover = scenarios.scenario_coverage(estimate_setup(), fac, specs)
    got = {}
    for s, c in cover.items():
        row = c[(c["unit"] == "ALL") & c["is_standard_tier"] & (c["profile"] == "default")
                & (c["category"] == "meal_service")]  # fmt: skip
        got[s] = float(row["covered_population"].iloc[0])
    # threshold 50 m: the unit at 960 m (40 people) is 40.3 m from 1000; the unit at 40 m
    # (10 people) is 40.3 m from 0
    assert got == {"baseline": 40.0, "plan": 50.0}


def test_deltas_table_against_baseline():
    cov = pd.DataFrame(
        {
            "area": ["a"] * 3,
            "unit": ["ALL"] * 3,
            "category": ["meal_service"] * 3,
            "tier": [5] * 3,
            "threshold_m": [300.0] * 3,
            "population": [100.0] * 3,
            "covered_population": [40.0, 50.0, 95.0],
            "share": [0.4, 0.5, 0.95],
            "basis": ["network"] * 3,
            "profile": ["default"] * 3,
            "scenario": ["plan+recommended", "plan", "baseline"][::-1],
            "is_standard_tier": [True] * 3,
            "category_zh": ["社区助餐"] * 3,
            "category_en": ["Meal"] * 3,
            "note": [""] * 3,
        }
    )
    got = deltas_table(cov)
    assert got["scenario"].tolist() == ["baseline", "plan", "plan+recommended"]
    assert got["delta_vs_baseline"].tolist() == [0.0, 10.0, 55.0]
    assert got["delta_share"].tolist() == pytest.approx([0.0, 0.1, 0.55])
    assert got["scenario_zh"].tolist() == ["现状", "规划", "规划+推荐选址"]


# ---------------------------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------------------------
def test_run_scenarios_after_sites_reports_each_scenario(synth_out):
    sites.run_sites(Registry(), [Area()], synth_out, nets={"synth": line_network()},
                    taxonomy=TAXONOMY)  # fmt: skip
    deltas = scenarios.run_scenarios(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    meal = deltas[deltas["category"] == "meal_service"]
    # baseline: 40 (unit at 960); plan adds the placed facility at 0 (+10); the one
    # recommended site then covers the unit at 640 (+35)
    assert meal["covered_population"].tolist() == [40.0, 50.0, 85.0]
    assert meal["delta_vs_baseline"].tolist() == [0.0, 10.0, 45.0]
    assert meal["n_facilities"].tolist() == [1.0, 2.0, 3.0]
    assert meal["basis"].unique().tolist() == ["network"]
    written = pd.read_csv(synth_out / "scenario_deltas.csv", encoding="utf-8-sig")
    assert len(written) == len(deltas) == 6  # meal_service and composite × 3 scenarios
    assert (synth_out / "scenarios" / "plan+recommended" / "access" / "synth.parquet").exists()
    cov = pd.read_csv(synth_out / "coverage.csv", encoding="utf-8-sig")
    assert sorted(cov["scenario"].unique()) == ["plan", "plan+recommended"]


def test_run_scenarios_without_sites_equals_plan(synth_out):
    deltas = scenarios.run_scenarios(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    meal = deltas[deltas["category"] == "meal_service"].set_index("scenario")
    assert meal.loc["plan+recommended", "covered_population"] == 50.0


def test_run_scenarios_without_facilities_file_raises(synth_out):
    (synth_out / "facilities.gpkg").unlink()
    with pytest.raises(LifeCircleError, match="run `lifecircle facilities build` first"):
        scenarios.run_scenarios(Registry(), [Area()], synth_out, nets={}, taxonomy=TAXONOMY)


def test_write_deltas_keeps_other_areas(tmp_path):
    a = pd.DataFrame({"area": ["a"], "category": ["x"], "scenario": ["baseline"]})
    b = pd.DataFrame({"area": ["b"], "category": ["x"], "scenario": ["baseline"]})
    scenarios.write_deltas(a, tmp_path)
    scenarios.write_deltas(b, tmp_path)
    scenarios.write_deltas(b, tmp_path)
    got = pd.read_csv(tmp_path / "scenario_deltas.csv", encoding="utf-8-sig")
    assert got["area"].tolist() == ["a", "b"]


def test_demand_xy_fills_representative_points():
    d = demand_units().drop(columns=["x", "y"])
    got = context.demand_xy(d)
    assert np.allclose(got["x"].to_numpy(), X0 + np.array([40.0, 240.0, 640.0, 960.0]), atol=1e-3)


def test_cli_scenarios_without_facilities_exits_2(tmp_path):
    from click.testing import CliRunner

    from geo.cli import main

    res = CliRunner().invoke(main, ["scenarios", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 2
    assert "run `lifecircle facilities build` first" in res.output
