"""Fuzz suite, user files read by the stages: gazetteer, neighbourhoods, candidates, plans, and
plan facilities placed far away. Each bad file is one InputError naming the file (and record);
nothing here may raise anything else. All data synthetic.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo._errors import InputError, LifeCircleError
from geo.demand.neighbourhoods import user_neighbourhoods
from geo.facilities.geocode import load_gazetteer, plan_facilities
from geo.facilities.plans import read_plan
from geo.io.areas import load_registry
from geo.planning.sites import read_candidates
from tests._synth_area import SQUARE, make_area

GAZ_HEADER = "id,area,name,aliases,category,lon,lat,crs,osm_element,source,checked\n"


@pytest.fixture
def reg(tmp_path):
    return load_registry(make_area(tmp_path), data_dir=tmp_path / "data")


# -- gazetteer --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("", "empty file"),
        ("\n", "empty file"),
        (GAZ_HEADER + "g1,synth,x,,health,nan,31.2,wgs84,,src,\n", "not finite"),
        (GAZ_HEADER + "g1,synth,x,,health,121.42,inf,wgs84,,src,\n", "not finite"),
        (GAZ_HEADER + "g1,synth,x,,health,121.42,95,wgs84,,src,\n", "line 2"),
        (GAZ_HEADER + "g1,nowhere,x,,health,121.42,31.2,wgs84,,src,\n", "not in the study-area"),
    ],
)
def test_bad_gazetteer_names_the_gazetteer(tmp_path, reg, text, what):
    path = tmp_path / "gazetteer.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LifeCircleError) as err:
        load_gazetteer(path, registry=reg)
    assert str(path) in str(err.value) and what in str(err.value)
    assert "areas.yaml" not in str(err.value)  # a bad gazetteer row is not the registry's fault


_cell = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters=',\n\r"'),
        max_size=8,
    ),
    st.sampled_from(["nan", "inf", "-0", "1e400", "31.2", "121.42", "gcj02", "wgs84", "synth"]),
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cells=st.lists(_cell, min_size=11, max_size=11))
def test_generated_gazetteer_rows_are_read_or_refused_by_name(tmp_path_factory, cells):
    tmp = tmp_path_factory.mktemp("gz")
    reg = load_registry(make_area(tmp), data_dir=tmp / "data")
    path = tmp / "gazetteer.csv"
    path.write_text(GAZ_HEADER + ",".join(cells) + "\n", encoding="utf-8")
    message = ""
    try:
        load_gazetteer(path, registry=reg)
    except LifeCircleError as exc:
        message = str(exc)
    assert not message or str(path) in message, message


# -- neighbourhoods and candidates ------------------------------------------------------------
def test_neighbourhood_file_outside_the_area_is_an_error(tmp_path):
    far = shapely.box(121.60, 31.10, 121.61, 31.11)  # another district (synthetic)
    path = tmp_path / "hoods.geojson"
    gpd.GeoDataFrame({"name": ["远方居委"]}, geometry=[far], crs="EPSG:4326").to_file(path)
    with pytest.raises(InputError, match="no neighbourhood polygon lies in area 'synth'") as err:
        user_neighbourhoods(path, {"synth": shapely.Polygon(SQUARE)})
    assert str(path) in str(err.value)


def test_neighbourhood_file_inside_the_area_is_read(tmp_path):
    inner = shapely.Polygon(SQUARE).buffer(-0.0005)
    path = tmp_path / "hoods.geojson"
    gpd.GeoDataFrame({"name": ["合成居委"]}, geometry=[inner], crs="EPSG:4326").to_file(path)
    hoods = user_neighbourhoods(path, {"synth": shapely.Polygon(SQUARE)})
    assert list(hoods["neighbourhood"]) == ["synth-合成居委"]


@pytest.mark.parametrize(
    ("row", "record"),
    [("121.42,95", "line 2"), ("200,31.2", "line 2"), ("nan,31.2", "line 2"), ("x,y", "line 2")],
)
def test_bad_candidate_coordinates_name_the_line(tmp_path, row, record):
    path = tmp_path / "cand.csv"
    path.write_text("lon,lat\n" + row + "\n", encoding="utf-8")
    with pytest.raises(LifeCircleError) as err:
        read_candidates(path)
    assert str(path) in str(err.value) and record in str(err.value)


# -- plans ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["folder", "empty", "binary"])
def test_unreadable_plan_is_one_error(tmp_path, kind):
    path = tmp_path / "plan.txt"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"\x00\x01\x02PK")
    with pytest.raises(InputError) as err:
        read_plan(path)
    assert str(path) in str(err.value)


def test_plan_facility_placed_in_another_province_is_never_in_area():
    """An online geocoder's namesake in 广东 must not count as in the Shanghai area."""
    geocoded = gpd.GeoDataFrame(
        {
            "facility_id": ["plan:p:1", "plan:p:2"],
            "area": ["synth", "synth"],
            "name": ["合成睦邻中心", "合成菜场"],
            "category": ["community_centre", "market"],
            "in_area": ["yes", "yes"],
            "action": ["new", "existing"],
            "doc": ["p", "p"],
            "start": [1, 2],
            "osm_id": ["", ""],
            **{
                c: ["", ""]
                for c in (
                    "precision",
                    "confidence",
                    "sentence",
                    "quantity",
                    "place_hint",
                    "method",
                    "match_name",
                    "match_ref",
                    "match_score",
                    "uncertainty_m",
                    "note",
                )
            },
        },
        geometry=[shapely.Point(113.26, 23.13), shapely.Point(121.42, 31.20)],  # 广州; 上海
        crs="EPSG:4326",
    )
    rows = plan_facilities(geocoded)
    assert list(rows["in_area"]) == [False, True]


def test_zero_byte_and_deep_json_registry(tmp_path):
    areas = make_area(tmp_path)
    for text in ("", "[" * 50_000):
        areas.write_text(text, encoding="utf-8")
        with pytest.raises(LifeCircleError) as err:
            load_registry(areas)
        assert str(areas) in str(err.value)


def test_gazetteer_point_in_gcj02_read_as_wgs84_is_warned_on_the_console(tmp_path, reg):
    """488 m off its cited OSM element: a warning line naming the file and row, not only a cell."""
    from geo.facilities.coords import wgs84_to_gcj02
    from geo.facilities.geocode import _gazetteer_check
    from geo.io.validate import InputWarning

    glon, glat = wgs84_to_gcj02(121.4205, 31.2000)  # GCJ-02 numbers, declared wgs84
    path = tmp_path / "gazetteer.csv"
    path.write_text(
        GAZ_HEADER + f"g1,synth,x,,health,{float(glon):.7f},{float(glat):.7f},wgs84,node/9,src,\n",
        encoding="utf-8",
    )
    gaz = load_gazetteer(path, registry=reg)
    inv = gpd.GeoDataFrame(
        {"osm_id": ["node/9"]}, geometry=[shapely.Point(121.4205, 31.2000)], crs="EPSG:4326"
    )
    with pytest.warns(InputWarning, match=r"gazetteer\.csv \(id g1\): lies \d+ m from the OSM"):
        cell = _gazetteer_check(gaz, inv, "synth")
    assert "CHECK g1" in cell


def test_candidate_file_outside_the_area_is_an_error_and_writes_nothing(tmp_path):
    """A --candidates file for another district used to replace the sites with none (exit 0)."""
    from geo.planning import sites
    from tests._fuzz import snapshot
    from tests._sites_synth import (
        TAXONOMY,
        Area,
        Registry,
        demand_units,
        facilities_table,
        line_network,
        mentions_table,
    )

    out = tmp_path / "out"
    (out / "demand").mkdir(parents=True)
    demand_units().to_file(out / "demand" / "synth.gpkg", layer="demand", driver="GPKG")
    facilities_table([("meal_service", "osm", "existing", "exact", 1000.0)]).to_file(
        out / "facilities.gpkg", layer="facilities", driver="GPKG"
    )
    mentions_table([("synth", "generic", "meal_service", "new", 2, "yes", "助餐点")]).to_csv(
        out / "plan_mentions.csv", index=False, encoding="utf-8-sig"
    )
    path = tmp_path / "cand.csv"
    path.write_text("id,lon,lat\nfar,121.90,31.00\n", encoding="utf-8")  # far east, synthetic
    before = snapshot(out)
    with pytest.raises(InputError, match="no candidate site of the file lies in area 'synth'"):
        sites.run_sites(
            Registry(),
            [Area()],
            out,
            nets={"synth": line_network()},
            taxonomy=TAXONOMY,
            candidates_csv=path,
        )
    assert snapshot(out) == before


def test_self_intersecting_neighbourhood_polygon_is_repaired_with_a_warning(tmp_path):
    from geo.io.validate import InputWarning

    (x0, y0), (x1, y1) = SQUARE[0], SQUARE[2]
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    path = tmp_path / "hoods.geojson"
    gpd.GeoDataFrame({"name": ["合成居委"]}, geometry=[bowtie], crs="EPSG:4326").to_file(path)
    with pytest.warns(InputWarning, match=r"hoods\.geojson \(feature 1\): 1 invalid polygon"):
        hoods = user_neighbourhoods(path, {"synth": shapely.Polygon(SQUARE)})
    assert list(hoods["neighbourhood"]) == ["synth-合成居委"]
    assert hoods.geometry.is_valid.all()


_GARBAGE = {
    "empty": b"",
    "binary": b"\x00\x01\x02\xff\xfe",
    "text": b"hello\nworld\n",
    "short-row": b"area,population\nx\n",
    "deep": b"[" * 200_000,
    "gbk": "区,人口\n".encode("gbk"),
}


@pytest.mark.parametrize("kind", sorted(_GARBAGE))
@pytest.mark.parametrize("reader", ["population-csv", "candidates", "neighbourhoods"])
def test_garbage_user_files_are_one_error_naming_the_file(tmp_path, kind, reader):
    from geo.demand.population import parse_population_totals

    path = tmp_path / f"{kind}.csv"
    path.write_bytes(_GARBAGE[kind])
    call = {
        "population-csv": lambda: parse_population_totals([], path),
        "candidates": lambda: read_candidates(path),
        "neighbourhoods": lambda: user_neighbourhoods(path, {"synth": shapely.Polygon(SQUARE)}),
    }[reader]
    with pytest.raises(LifeCircleError) as err:
        call()
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("value", "outcome"), [(1e30, "error"), (2e6, "error"), (-50.0, "warning"), (np.nan, "warning")]
)
def test_population_raster_values_are_checked(tmp_path, value, outcome):
    """1e30 residents per pixel used to give 2e32 people; NaN/negative pixels were silent."""
    from affine import Affine

    from geo.demand.population import raster_cell_population
    from geo.io.validate import InputWarning
    from tests.test_population import X0, Y0, _area, _write_tif

    data = np.array([[100.0, 200.0, 300.0], [400.0, value, 25.0]])
    tif = tmp_path / "synthetic_pop.tif"
    _write_tif(tif, data, Affine(100, 0.0, X0, 0.0, -100, Y0 + 200), "EPSG:32651")
    if outcome == "error":
        with pytest.raises(InputError, match=r"\(row 1, column 1\): pixel value") as err:
            raster_cell_population(tif, _area())
        assert str(tif) in str(err.value)
    else:
        with pytest.warns(InputWarning, match="1 pixel"):
            cells = raster_cell_population(tif, _area())
        assert float(pd.Series(cells).sum()) == pytest.approx(1025.0)
