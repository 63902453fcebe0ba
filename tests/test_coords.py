"""WGS-84 / GCJ-02 / BD-09 conversions and coordinate sanity checks (geo.coords).

Published test vectors come from three widely used open-source implementations:

- eviltransform (github.com/googollee/eviltransform, ``python/test.py``): WGS-84 -> GCJ-02 for
  Shanghai, Shenzhen and Beijing, checked there to 6 decimals, and the exact inverse to < 0.5 m.
- coordtransform (github.com/wandergis/coordtransform, ``test/app.js``): the conversions of
  (116.404, 39.915), printed to full double precision.
- gcoord (github.com/hujiulong/gcoord, ``test/unit/crs/*.spec.ts``): the conversions of
  (123, 45), checked there with ``toBeCloseTo(..., 5)`` (|error| < 5e-6 degree).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo._errors import LifeCircleError
from geo.facilities.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_coordinates,
    detect_wrong_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")

# eviltransform python/test.py: (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres on the WGS-84 ellipsoid."""
    _, _, d = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(d)


def shanghai_points(n: int = 1000, seed: int = 20240501) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random points over central Shanghai (121.2-121.8 E, 30.9-31.5 N)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(121.2, 121.8, n), rng.uniform(30.9, 31.5, n)


# --- published vectors ---------------------------------------------------------------------
@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_eviltransform(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert float(lon) == pytest.approx(glon, abs=1e-9)
    assert float(lat) == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_gcj02_to_wgs84_matches_eviltransform_within_1e7_degree(wlat, wlon, glat, glon):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert abs(float(lon) - wlon) < 1e-7
    assert abs(float(lat) - wlat) < 1e-7


def test_wgs84_to_gcj02_matches_coordtransform():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-12)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_to_bd09_matches_coordtransform():
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-12)
    assert float(lat) == pytest.approx(39.92133699351021, abs=1e-12)


def test_bd09_to_gcj02_within_5cm_of_coordtransform_one_step_formula():
    # coordtransform prints the one-step formula (116.39762729119315, 39.90865673957631);
    # the iterative inverse differs from it by about 4 cm.
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert metres(lon, lat, 116.39762729119315, 39.90865673957631) < 0.05


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (wgs84_to_gcj02, (123.00607541, 45.00197815)),
        (wgs84_to_bd09, (123.0124491, 45.0083293)),
        (gcj02_to_wgs84, (122.99395597, 44.99804071)),
        (gcj02_to_bd09, (123.00636499, 45.00636899)),
        (bd09_to_gcj02, (122.99363304, 44.99365430)),
        (bd09_to_wgs84, (122.98762210, 44.99171540)),
    ],
)
def test_gcoord_vectors_at_123_45(func, expected):
    lon, lat = func(123.0, 45.0)
    assert abs(float(lon) - expected[0]) < 5e-6
    assert abs(float(lat) - expected[1]) < 5e-6


# --- outside China -------------------------------------------------------------------------
def test_outside_china_gcj02_equals_wgs84():
    lon, lat = wgs84_to_gcj02([183.0, -0.1278], [45.0, 51.5074])
    assert lon.tolist() == [183.0, -0.1278]
    assert lat.tolist() == [45.0, 51.5074]


def test_outside_china_inverse_is_identity():
    lon, lat = bd09_to_wgs84(2.3522, 48.8566)
    assert (float(lon), float(lat)) == (2.3522, 48.8566)


def test_out_of_china_flags_only_points_outside_the_rectangle():
    assert out_of_china([121.47, 72.0, 121.47], [31.23, 31.23, 56.0]).tolist() == [
        False,
        True,
        True,
    ]


# --- round trips at 1,000 random points in Shanghai ----------------------------------------
def test_gcj02_round_trip_1000_points_under_half_a_millimetre():
    lon, lat = shanghai_points()
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, *back).max() < 5e-4


def test_bd09_round_trip_1000_points_under_half_a_millimetre():
    lon, lat = shanghai_points()
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres(lon, lat, *back).max() < 5e-4


def test_wgs84_bd09_round_trip_1000_points_under_half_a_millimetre():
    lon, lat = shanghai_points()
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(lon, lat, *back).max() < 5e-4


def test_inverse_forward_residual_below_1e8_degree():
    lon, lat = shanghai_points(seed=7)
    fx, fy = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.abs(fx - lon).max() < 1e-8
    assert np.abs(fy - lat).max() < 1e-8


def test_gcj02_offset_in_shanghai_is_hundreds_of_metres():
    lon, lat = shanghai_points()
    d = metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 400 < d.min() < d.max() < 700


def test_conversion_keeps_array_shape():
    lon = np.full((2, 3), 121.47)
    lat = np.full((2, 3), 31.23)
    out_lon, out_lat = bd09_to_wgs84(lon, lat)
    assert out_lon.shape == (2, 3)
    assert out_lat.shape == (2, 3)


# --- to_wgs84 ------------------------------------------------------------------------------
def test_to_wgs84_dispatches_on_declared_crs():
    lon, lat = to_wgs84([121.531541859215], [31.17530398364597], "GCJ-02")
    assert abs(lon[0] - 121.5272106) < 1e-7
    assert abs(lat[0] - 31.1774276) < 1e-7


def test_to_wgs84_leaves_wgs84_unchanged():
    lon, lat = to_wgs84([121.5], [31.2], "wgs84")
    assert (lon.tolist(), lat.tolist()) == ([121.5], [31.2])


def test_to_wgs84_unknown_crs_names_the_choices():
    with pytest.raises(
        LifeCircleError, match=r"unknown coordinate system 'cgcs2000'.*wgs84, gcj02, bd09"
    ):
        to_wgs84(121.5, 31.2, "cgcs2000")


# --- detect_wrong_crs / check_coordinates --------------------------------------------------
SQUARE = shapely.box(121.42, 31.19, 121.44, 31.21)  # a synthetic 2 km study area


def test_detect_wrong_crs_accepts_points_in_the_area():
    assert detect_wrong_crs([121.43, 121.431], [31.20, 31.201], SQUARE) == []


def test_detect_wrong_crs_reports_swapped_lat_lon():
    problems = detect_wrong_crs([121.43, 31.20], [31.20, 121.43], SQUARE, records=["a", "b"])
    assert [p.record for p in problems] == ["b"]
    assert "swapped" in problems[0].problem


def test_detect_wrong_crs_reports_utm_metres():
    problems = detect_wrong_crs([351234.0], [3452345.0], None)
    assert len(problems) == 1
    assert "UTM 51N, EPSG:32651" in problems[0].problem


def test_detect_wrong_crs_reports_missing_values():
    problems = detect_wrong_crs([np.nan], [31.2], None, records=["row 7"])
    assert problems[0].record == "row 7"
    assert "missing" in problems[0].problem


def test_detect_wrong_crs_reports_far_point():
    problems = detect_wrong_crs([121.60], [31.20], SQUARE, buffer_m=5000.0)
    assert len(problems) == 1
    assert "more than 5000 m from the study area" in problems[0].problem


def test_check_coordinates_raises_one_error_naming_record_and_file():
    with pytest.raises(LifeCircleError) as info:
        check_coordinates(
            [31.20, 350000.0], [121.43, 3450000.0], SQUARE, records=["社区食堂", "row 2"],
            path="gazetteer.csv",
        )  # fmt: skip
    msg = str(info.value)
    assert msg.startswith("gazetteer.csv (社区食堂): (31.2, 121.43) has latitude and longitude")
    assert msg.endswith("(1 more rows with problems)")
