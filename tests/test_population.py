"""Demand units and population: grid, buildings, census shares, raster sums (geo.population)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import settings
from geo._errors import LifeCircleError
from geo.demand.population import (
    PopulationTotal,
    census_weights,
    demand_units,
    distribute_raster,
    distribute_total,
    largest_remainder,
    parse_levels,
    parse_population_totals,
    raster_cell_population,
    residential_buildings,
    residential_grid,
)
from geo.io.geom import project_geom
from geo.io.osm import OsmData, OsmWay

# a synthetic 300 m x 200 m area aligned to the 100 m grid, far from any real data
X0, Y0 = 350_000.0, 3_450_000.0


def _square(x0, y0, x1, y1):
    return shapely.box(x0, y0, x1, y1)


def _area():
    return _square(X0, Y0, X0 + 300, Y0 + 200)


def _way(way_id, poly_proj, **tags):
    """A closed OSM way (lon/lat) from a projected polygon."""
    ll = project_geom(poly_proj, inverse=True)
    return OsmWay(way_id, tags, np.asarray(ll.exterior.coords))


# -- grid -------------------------------------------------------------------------------------
def test_grid_cells_cover_the_area_exactly():
    grid = residential_grid(_area())
    assert len(grid) == 6
    assert grid["land_m2"].sum() == pytest.approx(60_000.0, abs=1e-6)


def test_grid_minus_water_removes_the_water_area():
    water = _square(X0, Y0, X0 + 100, Y0 + 50)  # half of the south-west cell
    grid = residential_grid(_area(), [water])
    land = grid.set_index("cell")["land_m2"]
    assert land[f"g{int(X0 // 100)}_{int(Y0 // 100)}"] == pytest.approx(5_000.0)
    assert grid["land_m2"].sum() == pytest.approx(55_000.0)


def test_grid_cell_fully_in_a_park_has_no_land():
    park = _square(X0 + 200, Y0 + 100, X0 + 300, Y0 + 200)
    grid = residential_grid(_area(), [park])
    assert (grid["land_m2"] == 0).sum() == 1


def test_grid_is_anchored_at_the_crs_origin():
    grid = residential_grid(_square(X0 + 30, Y0 + 30, X0 + 130, Y0 + 80))
    assert sorted(grid["cell"]) == [
        f"g{int(X0 // 100)}_{int(Y0 // 100)}",
        f"g{int(X0 // 100) + 1}_{int(Y0 // 100)}",
    ]


# -- buildings --------------------------------------------------------------------------------
def test_parse_levels_reads_the_first_number():
    assert [parse_levels(v) for v in ("6", "5.5", "6;7", "", "abc", "-1")] == [
        6.0,
        5.5,
        6.0,
        None,
        None,
        None,
    ]


def _boundary_ll():
    return project_geom(_area(), inverse=True)


def test_apartments_count_and_generic_buildings_need_residential_landuse():
    b1 = _square(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)  # 400 m²
    b2 = _square(X0 + 150, Y0 + 10, X0 + 170, Y0 + 30)
    b3 = _square(X0 + 250, Y0 + 150, X0 + 270, Y0 + 170)
    lu = _square(X0 + 140, Y0, X0 + 200, Y0 + 60)
    osm = OsmData(
        ways=[
            _way(1, b1, building="apartments", **{"building:levels": "10"}),
            _way(2, b2, building="yes"),  # inside landuse=residential: a home
            _way(3, b3, building="yes"),  # outside: not counted
            _way(4, lu, landuse="residential"),
        ]
    )
    b = residential_buildings(osm, _boundary_ll())
    assert sorted(b["osm_id"]) == [1, 2]
    row = b.set_index("osm_id").loc[1]
    assert (row["levels"], row["levels_source"]) == (10.0, "tag")
    assert row["floor_area_m2"] == pytest.approx(4000.0, rel=1e-6)
    assert b.set_index("osm_id").loc[2, "levels"] == 6.0  # default for building=yes


def test_buildings_outside_the_area_are_dropped():
    out = _square(X0 - 100, Y0 + 10, X0 - 80, Y0 + 30)
    osm = OsmData(ways=[_way(9, out, building="house")])
    assert residential_buildings(osm, _boundary_ll()).empty


# -- mixing rule ------------------------------------------------------------------------------
def _mixed_units():
    grid = residential_grid(_area())
    b1 = _square(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    b2 = _square(X0 + 50, Y0 + 50, X0 + 70, Y0 + 70)
    osm = OsmData(
        ways=[
            _way(1, b1, building="apartments", **{"building:levels": "3"}),
            _way(2, b2, building="apartments", **{"building:levels": "1"}),
        ]
    )
    b = residential_buildings(osm, _boundary_ll())
    return demand_units("t", grid, b)


def test_cell_with_buildings_is_represented_by_them_and_others_by_grid():
    units = _mixed_units()
    assert units["unit_type"].value_counts().to_dict() == {"grid": 5, "building": 2}
    assert set(units.loc[units["unit_type"] == "building", "unit_id"]) == {"t-w1", "t-w2"}


def test_census_weights_split_land_then_floor_area():
    units = _mixed_units()
    w = pd.Series(census_weights(units), index=units["unit_id"])
    # the covered cell weighs its 10 000 m² of land, 3:1 by floor area (1200 vs 400 m²)
    assert w["t-w1"] == pytest.approx(7500.0, rel=1e-6)
    assert w["t-w2"] == pytest.approx(2500.0, rel=1e-6)
    assert w.drop(["t-w1", "t-w2"]).tolist() == pytest.approx([10_000.0] * 5)


def _two_covered_cells():
    grid = residential_grid(_area())
    b1 = _square(X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)  # cell (0, 0): 400 m² x 3 levels
    b2 = _square(X0 + 110, Y0 + 10, X0 + 130, Y0 + 30)  # cell (1, 0): 400 m² x 1 level
    osm = OsmData(
        ways=[
            _way(1, b1, building="apartments", **{"building:levels": "3"}),
            _way(2, b2, building="apartments", **{"building:levels": "1"}),
        ]
    )
    return demand_units("t", grid, residential_buildings(osm, _boundary_ll()))


def test_cell_rule_keeps_each_cells_land_weight_in_that_cell():
    units = _two_covered_cells()
    w = pd.Series(census_weights(units, "cell"), index=units["unit_id"])
    assert (w["t-w1"], w["t-w2"]) == pytest.approx((10_000.0, 10_000.0))


def test_pool_rule_shares_covered_land_by_floor_area_across_cells():
    units = _two_covered_cells()
    w = pd.Series(census_weights(units, "pool"), index=units["unit_id"])
    assert (w["t-w1"], w["t-w2"]) == pytest.approx((15_000.0, 5_000.0))


def test_unknown_building_rule_is_rejected():
    with pytest.raises(LifeCircleError, match="building rule"):
        census_weights(_two_covered_cells(), "nearest")


def test_census_total_is_preserved_exactly():
    units = distribute_total(_mixed_units(), PopulationTotal(1001, "census2010"))
    assert int(units["population"].sum()) == 1001
    pop = units.set_index("unit_id")["population"]
    # 1001 * 7500/60000 = 125.125 -> 125; each grid cell 166.83 -> 166 or 167
    assert pop["t-w1"] == 125
    assert pop["t-w2"] == 41
    assert sorted(pop.drop(["t-w1", "t-w2"]).tolist()) == [167] * 5


def test_pop_source_records_the_method():
    units = distribute_total(_mixed_units(), PopulationTotal(10, "user"))
    assert set(units.loc[units["unit_type"] == "building", "pop_source"]) == {"user:floor_area"}
    assert set(units.loc[units["unit_type"] == "grid", "pop_source"]) == {"user:uniform_grid"}


# -- largest remainder ------------------------------------------------------------------------
def test_largest_remainder_sums_exactly_and_breaks_ties_by_order():
    assert largest_remainder(np.array([1.0, 1.0, 1.0]), 10).tolist() == [4, 3, 3]


def test_largest_remainder_gives_leftovers_to_largest_fractions():
    assert largest_remainder(np.array([0.45, 0.35, 0.20]), 7).tolist() == [3, 3, 1]


def test_largest_remainder_rejects_all_zero_weights():
    with pytest.raises(LifeCircleError, match="all weights are zero"):
        largest_remainder(np.zeros(3), 5)


# -- user totals ------------------------------------------------------------------------------
def test_population_total_option_parses_area_equals_n():
    totals = parse_population_totals(["xinhualu=85000"])
    assert totals["xinhualu"] == PopulationTotal(85000, "user")


def test_population_total_rejects_non_numbers():
    with pytest.raises(LifeCircleError, match="not a number"):
        parse_population_totals(["xinhualu=lots"])


def test_population_csv_reads_area_and_population(tmp_path):
    p = tmp_path / "totals.csv"
    p.write_text("area,population,label\nxinhualu,85000,est2024\n", encoding="utf-8")
    assert parse_population_totals([], p) == {"xinhualu": PopulationTotal(85000, "est2024")}


# -- raster -----------------------------------------------------------------------------------
def _write_tif(path, data, transform, crs):
    import rasterio

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype="float64",
        crs=crs,
        transform=transform,
        nodata=-1.0,
    ) as dst:
        dst.write(data, 1)


def test_raster_sum_per_cell_on_an_aligned_utm_raster(tmp_path):
    from affine import Affine

    data = np.array([[100.0, 200.0, 300.0], [400.0, -1.0, 25.0]])  # north row first; -1 nodata
    tif = tmp_path / "synthetic_pop.tif"
    _write_tif(tif, data, Affine(100, 0.0, X0, 0.0, -100, Y0 + 200), settings.PROJECTED_CRS)
    cells = raster_cell_population(tif, _area())
    c0, r0 = int(X0 // 100), int(Y0 // 100)
    assert cells[f"g{c0}_{r0 + 1}"] == 100.0
    assert cells[f"g{c0 + 2}_{r0 + 1}"] == 300.0
    assert cells[f"g{c0}_{r0}"] == 400.0
    assert cells[f"g{c0 + 1}_{r0}"] == 0.0
    assert cells[f"g{c0 + 2}_{r0}"] == 25.0
    assert cells.sum() == 1025.0


def test_raster_in_wgs84_is_reprojected_keeping_the_total(tmp_path):
    from affine import Affine

    ll = project_geom(_area(), inverse=True)
    lon0, lat0, _lon1, lat1 = ll.bounds
    # 0.01° pixels of 1000 people each around the area
    data = np.full((3, 3), 1000.0)
    tif = tmp_path / "synthetic_pop_ll.tif"
    _write_tif(tif, data, Affine(0.01, 0.0, lon0 - 0.01, 0.0, -0.01, lat1 + 0.01), "EPSG:4326")
    cells = raster_cell_population(tif, _area())
    # density 1000 per ~1.06 km² pixel over the 0.06 km² area
    pix_m2 = shapely.area(project_geom(shapely.box(lon0, lat0, lon0 + 0.01, lat0 + 0.01)))
    assert cells.sum() == pytest.approx(1000.0 * 60_000.0 / pix_m2, rel=1e-3)


def test_raster_people_in_parks_move_to_the_units_and_the_total_is_kept(tmp_path):
    from affine import Affine

    data = np.full((2, 3), 100.0)
    tif = tmp_path / "synthetic_pop.tif"
    _write_tif(tif, data, Affine(100, 0.0, X0, 0.0, -100, Y0 + 200), settings.PROJECTED_CRS)
    park = _square(X0 + 200, Y0 + 100, X0 + 300, Y0 + 200)
    units = demand_units(
        "t", residential_grid(_area(), [park]), residential_buildings(OsmData(), _boundary_ll())
    )
    out = distribute_raster(units, raster_cell_population(tif, _area()), "raster:x.tif")
    assert len(out) == 5
    assert out["population"].tolist() == [120.0] * 5
    assert set(out["pop_source"]) == {"raster:x.tif"}


def test_raster_without_overlap_is_an_error(tmp_path):
    from affine import Affine

    tif = tmp_path / "synthetic_far.tif"
    _write_tif(tif, np.ones((2, 2)), Affine(10, 0.0, 0, 0.0, -10, 100), settings.PROJECTED_CRS)
    with pytest.raises(LifeCircleError, match="does not overlap"):
        raster_cell_population(tif, _area())


# -- integration ------------------------------------------------------------------------------
@pytest.mark.integration
def test_xinhualu_demand_totals_the_2010_census(registry, tmp_path):
    from geo.demand.population import build_demand, read_demand, write_demand

    res = build_demand(registry, "xinhualu")
    write_demand(res.units, tmp_path, "xinhualu")
    units = read_demand(tmp_path, "xinhualu")
    assert int(units["population"].sum()) == 73230
    assert units.crs.to_epsg() == 4326
    assert units["unit_id"].is_unique
    assert set(units["pop_source"]) <= {"census2010:floor_area", "census2010:uniform_grid"}


@pytest.mark.integration
def test_cli_demand_with_a_user_total_writes_units_and_neighbourhoods(registry, tmp_path):
    from click.testing import CliRunner

    from geo.cli import main
    from geo.demand.neighbourhoods import read_neighbourhoods
    from geo.demand.population import read_demand

    res = CliRunner().invoke(
        main,
        [
            "demand",
            "--out",
            str(tmp_path),
            "--area",
            "xinhualu",
            "--population-total",
            "xinhualu=85000",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    units = read_demand(tmp_path, "xinhualu")
    assert int(units["population"].sum()) == 85000
    hoods = read_neighbourhoods(tmp_path / "neighbourhoods.gpkg")
    assert set(units["neighbourhood"]) <= set(hoods["neighbourhood"])


@pytest.mark.integration
def test_cli_demand_from_a_raster_labels_the_source(registry, tmp_path):
    from affine import Affine
    from click.testing import CliRunner

    from geo.cli import main
    from geo.demand.population import read_demand

    lon0, lat0, lon1, lat1 = registry.boundary("xinhualu").bounds
    tif = tmp_path / "synthetic_worldpop.tif"
    n = 40
    step = max(lon1 - lon0, lat1 - lat0) / (n - 4)
    _write_tif(
        tif,
        np.full((n, n), 50.0),
        Affine(step, 0.0, lon0 - 2 * step, 0.0, -step, lat1 + 2 * step),
        "EPSG:4326",
    )
    res = CliRunner().invoke(
        main,
        [
            "demand",
            "--out",
            str(tmp_path),
            "--area",
            "xinhualu",
            "--raster",
            str(tif),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    units = read_demand(tmp_path, "xinhualu")
    assert set(units["pop_source"]) == {"raster:synthetic_worldpop.tif"}
    # 50 people per pixel over the 2.196 km² area
    pix_m2 = shapely.area(project_geom(shapely.box(lon0, lat0, lon0 + step, lat0 + step)))
    area_m2 = shapely.area(project_geom(registry.boundary("xinhualu")))
    assert units["population"].sum() == pytest.approx(50.0 * area_m2 / pix_m2, rel=5e-3)
