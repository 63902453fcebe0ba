"""Straight-line × detour-factor estimates and their calibration (geo.estimate)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import settings
from geo._errors import LifeCircleError
from geo.io.geom import project_geom
from geo.network.estimate import (
    NO_NETWORK_NOTE,
    calibrate_detour,
    calibrate_nearest,
    detour_stats,
    estimate_access,
    facility_points,
    read_calibration,
    write_calibration,
)
from geo.network.network import WalkNetwork

OX, OY = 350_000.0, 3_450_000.0  # synthetic origin in EPSG:32651


def _u_network():
    """A U-shaped street: A(0,0) - B(0,300) - C(400,300) - D(400,0), no A-D link (metres from
    the synthetic origin).

    Pairs (crow, network): AB, CD (300, 300); BC (400, 400); AC, BD (500, 700); AD (400, 1000).
    """
    xy = np.array([[0.0, 0.0], [0.0, 300.0], [400.0, 300.0], [400.0, 0.0]]) + np.array([OX, OY])
    ll = [project_geom(shapely.Point(p), inverse=True) for p in xy]
    nodes = pd.DataFrame(
        {
            "node_id": [1, 2, 3, 4],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "lon": [p.x for p in ll],
            "lat": [p.y for p in ll],
        }
    )
    lines = [shapely.LineString([ll[k], ll[k + 1]]) for k in range(3)]
    edges = gpd.GeoDataFrame(
        {
            "u": [1, 2, 3],
            "v": [2, 3, 4],
            "length_m": [300.0, 400.0, 300.0],
            "highway": "footway",
            "name": "",
            "osm_id": [1, 2, 3],
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    return WalkNetwork("synthetic", nodes, edges)


def test_detour_factor_on_a_tiny_street_is_the_median_ratio():
    cal = calibrate_detour(_u_network(), n_sources=10)
    # ratios 1, 1, 1, 1.4, 1.4, 2.5 (each pair twice): median (1 + 1.4) / 2
    assert cal.factor == 1.2
    assert cal.n_pairs == 12


def test_detour_error_is_the_mean_absolute_error_of_factor_times_crow():
    cal = calibrate_detour(_u_network(), n_sources=10)
    # |1.2*crow - net|: 60, 80, 60, 100, 100, 520 -> 920 / 6
    assert cal.mae_m == pytest.approx(153.33, abs=0.01)


def test_fitted_ratio_is_the_least_squares_slope():
    cal = calibrate_detour(_u_network(), n_sources=10)
    # sum(net*crow) / sum(crow^2) = 1 440 000 / 1 000 000
    assert cal.fitted_ratio == 1.44


def test_pairs_outside_the_band_are_ignored():
    cal = detour_stats(np.array([130.0, 2000.0, 50.0]), np.array([100.0, 1600.0, 40.0]))
    assert (cal.factor, cal.n_pairs) == (1.3, 1)


def test_unreachable_pairs_are_ignored():
    cal = detour_stats(np.array([np.inf, 260.0]), np.array([200.0, 200.0]))
    assert (cal.factor, cal.n_pairs) == (1.3, 1)


def test_no_pairs_in_the_band_is_an_error():
    with pytest.raises(LifeCircleError, match="no node pairs"):
        detour_stats(np.array([10.0]), np.array([10.0]))


def test_calibration_round_trips_through_json(tmp_path):
    cal = calibrate_detour(_u_network(), n_sources=10)
    write_calibration(cal, tmp_path)
    back = read_calibration(tmp_path)
    assert back is not None
    assert (back.factor, back.mae_m, back.n_pairs) == (cal.factor, cal.mae_m, cal.n_pairs)


# -- estimated access -------------------------------------------------------------------------
UNITS = pd.DataFrame({"unit_id": ["u1", "u2"], "x": [0.0, 2000.0], "y": [0.0, 0.0]})
FACS = pd.DataFrame({"category": ["shop", "shop"], "x": [300.0, 0.0], "y": [400.0, -100.0]})


def test_nearest_is_straight_line_times_factor():
    acc = estimate_access(UNITS, FACS, {"shop": 700.0}, factor=1.2)
    shop = acc[acc["category"] == "shop"].set_index("unit_id")
    assert shop.loc["u1", "nearest_m"] == pytest.approx(120.0)  # 100 m * 1.2
    assert shop.loc["u2", "nearest_m"] == pytest.approx(1.2 * math.hypot(1700, 400))


def test_nearest_minutes_use_the_walking_speed():
    acc = estimate_access(UNITS, FACS, {"shop": 700.0}, factor=1.2, speed_kmh=3.0)
    assert acc.loc[0, "nearest_min"] == pytest.approx(120.0 / 50.0)


def test_n_within_counts_facilities_by_estimated_distance():
    acc = estimate_access(UNITS, FACS, {"shop": 700.0}, factor=1.2)
    # u1: 120 m and 600 m estimated -> both within 700 m; u2: none
    assert acc["n_within"].tolist() == [2, 0]


def test_category_without_facilities_is_unreachable():
    acc = estimate_access(UNITS, FACS, {"clinic": 1000.0}, factor=1.2)
    assert np.isinf(acc["nearest_m"]).all()
    assert acc["n_within"].tolist() == [0, 0]


def test_estimate_rows_are_labelled():
    acc = estimate_access(UNITS, FACS, {"shop": 700.0}, factor=1.2, note=NO_NETWORK_NOTE)
    assert set(acc["basis"]) == {"estimate"}
    assert set(acc["note"]) == {NO_NETWORK_NOTE}


def test_max_m_turns_far_facilities_into_inf():
    acc = estimate_access(UNITS, FACS, {"shop": 700.0}, factor=1.2, max_m=1000.0)
    assert np.isinf(acc.loc[1, "nearest_m"])


def test_facility_points_keep_existing_located_facilities_near_the_area():
    area = project_geom(shapely.box(350_000, 3_450_000, 351_000, 3_451_000), inverse=True)
    pts = [
        shapely.Point(350_500, 3_450_500),
        shapely.Point(350_500, 3_451_900),
        shapely.Point(350_500, 3_453_000),
        shapely.Point(350_600, 3_450_500),
        shapely.Point(350_700, 3_450_500),
    ]
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["in", "near", "far", "planned", "vague"],
            "category": "shop",
            "status": ["existing", "existing", "existing", "planned", "existing"],
            "precision": ["exact", "poi", "exact", "exact", "area"],
        },
        geometry=pts,
        crs=settings.PROJECTED_CRS,
    ).to_crs(4326)
    got = facility_points(fac, area, buffer_m=1000.0)
    assert got["facility_id"].tolist() == ["in", "near"]
    assert got.loc[0, "x"] == pytest.approx(350_500.0, abs=1e-6)


@pytest.mark.integration
def test_xinhualu_detour_factor_is_plausible(registry, xinhualu_net):
    cal = calibrate_detour(xinhualu_net, boundary=registry.boundary("xinhualu"))
    assert 1.1 < cal.factor < 1.6
    assert cal.n_pairs > 10_000


def test_nearest_calibration_includes_the_walk_to_the_street():
    # units 30 m off the A-B street of the U network; one shop 40 m off the C-D street
    units = pd.DataFrame(
        {"unit_id": ["a", "b"], "x": [OX - 30.0, OX - 30.0], "y": [OY + 100.0, OY + 200.0]}
    )
    shop = pd.DataFrame({"category": ["shop"], "x": [OX + 440.0], "y": [OY + 100.0]})
    cal = calibrate_nearest(_u_network(), units, shop)
    # a: 30 + (200 + 400 + 200) + 40 = 870 m over 470 m; b: 30 + (100 + 400 + 200) + 40 = 770 m
    # over hypot(470, 100); factor = median of the two ratios
    ratios = [870.0 / 470.0, 770.0 / math.hypot(470.0, 100.0)]
    assert cal.factor == pytest.approx(float(np.median(ratios)), abs=1e-4)
    assert cal.n_pairs == 2


def test_nearest_calibration_without_facilities_is_an_error():
    units = pd.DataFrame({"unit_id": ["a"], "x": [0.0], "y": [0.0]})
    with pytest.raises(LifeCircleError, match="no units or facilities"):
        calibrate_nearest(_u_network(), units, pd.DataFrame({"category": [], "x": [], "y": []}))
