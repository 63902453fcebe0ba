"""Neighbourhood cells: fixed hexagon lattice, clipping, slivers, 居委 polygons."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo import settings
from geo._errors import LifeCircleError
from geo.demand.neighbourhoods import (
    SLIVER_SHARE,
    assign_neighbourhood,
    hex_centres,
    hex_neighbourhoods,
    hexagon_area,
    hexagons,
    read_neighbourhoods,
    user_neighbourhoods,
    write_neighbourhoods,
)
from geo.io.geom import project_geom

X0, Y0 = 350_000.0, 3_450_000.0


def _area_ll(w=1000.0, h=800.0, dx=0.0):
    return project_geom(shapely.box(X0 + dx, Y0, X0 + dx + w, Y0 + h), inverse=True)


def test_hexagon_area_of_400_m_across_flats():
    assert hexagon_area(400.0) == pytest.approx(math.sqrt(3) / 2 * 160_000.0)


def test_built_hexagon_has_the_nominal_area_and_width():
    cell = hexagons(np.array([[0.0, 0.0]]), 400.0)[0]
    assert cell.area == pytest.approx(hexagon_area(400.0))
    x0, y0, x1, y1 = cell.bounds
    assert y1 - y0 == pytest.approx(400.0)  # across flats, flat-topped
    assert x1 - x0 == pytest.approx(800.0 / math.sqrt(3))


def test_lattice_tiles_without_overlap():
    c = hex_centres((0.0, 0.0, 2000.0, 2000.0), 400.0)
    cells = hexagons(c, 400.0)
    union = shapely.union_all(cells)
    assert union.area == pytest.approx(sum(g.area for g in cells), rel=1e-9)


def test_clipped_neighbourhoods_cover_the_area_exactly():
    hoods = hex_neighbourhoods("t", _area_ll())
    assert hoods["area_m2"].sum() == pytest.approx(800_000.0, rel=1e-6)


def test_ids_follow_reading_order_and_area_prefix():
    hoods = hex_neighbourhoods("t", _area_ll()).to_crs(settings.PROJECTED_CRS)
    assert hoods["neighbourhood"].iloc[0] == "t-h001"
    assert hoods["neighbourhood"].is_unique
    c = hoods.geometry.centroid
    # the first cell lies in the northern half, the last in the southern half
    assert c.y.iloc[0] > Y0 + 400 > c.y.iloc[-1]


def test_no_sliver_below_the_share_remains():
    hoods = hex_neighbourhoods("t", _area_ll())
    assert hoods["area_m2"].min() >= SLIVER_SHARE * hexagon_area(400.0)


def test_lattice_is_fixed_so_a_cell_inside_two_areas_is_identical():
    a = hex_neighbourhoods("a", _area_ll(3000, 3000)).to_crs(settings.PROJECTED_CRS)
    b = hex_neighbourhoods("b", _area_ll(3000, 3000, dx=137.0)).to_crs(settings.PROJECTED_CRS)
    full = hexagon_area(400.0)
    ga = [g for g in a.geometry if abs(g.area - full) < 1e-3]
    gb = [g for g in b.geometry if abs(g.area - full) < 1e-3]
    ca = {(round(g.centroid.x, 3), round(g.centroid.y, 3)) for g in ga}
    cb = {(round(g.centroid.x, 3), round(g.centroid.y, 3)) for g in gb}
    assert len(ca & cb) >= 20


def test_non_positive_width_is_rejected():
    with pytest.raises(LifeCircleError, match="positive"):
        hex_neighbourhoods("t", _area_ll(), 0.0)


def _user_file(tmp_path):
    polys = [
        shapely.box(X0, Y0, X0 + 500, Y0 + 800),
        shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 800),
        shapely.box(X0 + 5000, Y0, X0 + 5500, Y0 + 800),
    ]  # far away: no area
    gdf = gpd.GeoDataFrame(
        {"code": ["J01", "J02", "J99"], "name": ["甲居委", "乙居委", "远"]},
        geometry=polys,
        crs=settings.PROJECTED_CRS,
    ).to_crs(4326)
    path = tmp_path / "synthetic_juwei.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_user_polygons_replace_hexagons_with_their_ids(tmp_path):
    hoods = user_neighbourhoods(_user_file(tmp_path), {"t": _area_ll()}, id_column="code")
    assert hoods["neighbourhood"].tolist() == ["t-J01", "t-J02"]
    assert hoods["name"].tolist() == ["甲居委", "乙居委"]
    assert hoods["area_m2"].tolist() == pytest.approx([400_000.0, 400_000.0], rel=1e-6)


def test_user_polygons_without_the_named_column_fail(tmp_path):
    with pytest.raises(LifeCircleError, match="no column 'jw_id'"):
        user_neighbourhoods(_user_file(tmp_path), {"t": _area_ll()}, id_column="jw_id")


def test_points_are_assigned_to_their_cell_and_outside_points_to_the_nearest():
    gdf = gpd.GeoDataFrame(
        {"neighbourhood": ["a", "b"], "area": "t"},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs=settings.PROJECTED_CRS,
    )
    ids = assign_neighbourhood(np.array([5.0, 15.0, 30.0]), np.array([5.0, 5.0, 5.0]), gdf)
    assert ids.tolist() == ["a", "b", "b"]


def test_writing_keeps_other_areas_in_the_file(tmp_path):
    path = tmp_path / "neighbourhoods.gpkg"
    write_neighbourhoods(hex_neighbourhoods("a", _area_ll()), path)
    write_neighbourhoods(hex_neighbourhoods("b", _area_ll()), path)
    write_neighbourhoods(hex_neighbourhoods("a", _area_ll(500, 500)), path)
    back = read_neighbourhoods(path)
    assert sorted(back["area"].unique()) == ["a", "b"]
    assert back.crs.to_epsg() == 4326
    assert len(back[back["area"] == "a"]) == len(hex_neighbourhoods("a", _area_ll(500, 500)))
