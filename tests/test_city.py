"""City screen (geo.city): catalogue, one area, the Dask path and bad input.

The city is the SYNTHETIC one of tests/_city_synth.py: squares A (3,600 people) and B (no
census row) on a synthetic street grid PBF, and C with a flat (zero-area, unrepairable) boundary.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from geo import settings
from geo.city.area import calibrate, screen_area
from geo.city.catalogue import district_matches, load_catalogue, select_areas
from geo.city.screen import CITY_TABLE, check_pbf, rank_areas, run_screen
from geo.cli import main
from geo.io.areas import load_registry
from tests._city_synth import CODES, IDS, make_city


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return make_city(tmp_path_factory.mktemp("city"))


@pytest.fixture(scope="module")
def catalogue(city):
    return load_catalogue(load_registry(city["registry"], data_dir=city["data"]))


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes (the screen connects to it with --scheduler)."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        yield lc


# -- catalogue -------------------------------------------------------------------------------
def test_district_names():
    assert district_matches("杨浦区", "杨浦") and district_matches("杨浦区", "yangpu")
    assert district_matches("浦东新区", "浦东") and not district_matches("杨浦区", "浦东")


def test_catalogue_links_census_and_marks_missing_codes(catalogue):
    a, b, c = (catalogue.get(IDS[k]) for k in "ABC")
    assert (a.census_code_2010, a.census_note, a.name_en) == (
        "310999001",
        None,
        "Hechenga Subdistrict",
    )
    assert b.census_code_2010 is None
    assert b.census_note.startswith("2010 code changed since the census")
    assert (a.extra["code_2023"], b.extra["code_2023"]) == (CODES["A"], CODES["B"])
    assert [x.id for x in select_areas(catalogue, districts=["合成"])] == [a.id, b.id, c.id]


def test_seed_areas_keep_their_registry_entries(registry):
    cat = load_catalogue(registry)
    assert len([a for a in cat if a.extra.get("code_2023")]) == 113
    xin = cat.get("xinhualu")
    assert xin.network == registry.get("xinhualu").network
    assert xin.extra["code_2023"] == "310105004000"


@pytest.mark.integration
def test_one_calibration_for_the_screen_on_xinhualu(registry, net_cache, tmp_path):
    cal = calibrate(load_catalogue(registry), tmp_path, cache_dir=net_cache)
    assert cal.area == "xinhualu"
    assert 1.2 < cal.factor < 2.0  # nearest-facility detour of a complete inner-city network
    assert (tmp_path / "detour_calibration.json").exists()


# -- one area --------------------------------------------------------------------------------
def test_empty_boundary_fails_that_area_only(tmp_path):
    paths = make_city(tmp_path / "c", c_geometry=shapely.Polygon())
    cat = load_catalogue(load_registry(paths["registry"], data_dir=paths["data"]))
    res = screen_area(cat, IDS["C"], tmp_path / "out" / "C")
    assert res["status"] == "failed"
    assert "empty boundary" in res["reason"]
    saved = json.loads((tmp_path / "out" / "C" / "screen.json").read_text(encoding="utf-8"))
    assert saved["status"] == "failed" and saved["reason"] == res["reason"]


# -- the Dask path ---------------------------------------------------------------------------
def test_dask_screen_three_areas_one_fails_alone(city, catalogue, cluster, tmp_path):
    areas = select_areas(catalogue, all_areas=True)
    out = tmp_path / "out"
    res = run_screen(
        catalogue, areas, out, pbf=city["pbf"], scheduler=cluster.scheduler_address, echo=str
    )
    a, b, c = (IDS[k] for k in "ABC")
    assert [r["status"] for r in res.results] == ["ok", "ok", "failed"]
    reason = res.results[2]["reason"]
    assert "city.geojson (osm_relation_id_source=902): boundary is invalid (" in reason
    assert reason.endswith("cannot be repaired")
    table = pd.read_parquet(out / "city" / f"{CITY_TABLE}.parquet")
    std = table[table["is_standard_tier"].astype(bool)].set_index(["area", "category"])
    # A: 3,600 people, everyone within 1,000 m of the clinic on the network, nothing else
    assert std.loc[(a, "health"), ["population", "share", "basis"]].tolist() == [
        3600.0,
        1.0,
        "network",
    ]
    # no market data: unknown, not 0 %; the composite averages the one category with data
    assert math.isnan(std.loc[(a, "market"), "share"])
    assert std.loc[(a, "market"), "data_status"] == "no_facility_data"
    assert std.loc[(a, "composite"), ["share", "n_categories"]].tolist() == [1.0, 1.0]
    assert std.loc[(a, "health"), ["data_status", "area_status"]].tolist() == ["ok", "ok"]
    # B: no census row -> population unknown, never zero
    assert std.loc[(b, "health"), "population_source"] == "none"
    assert math.isnan(std.loc[(b, "health"), "population"])
    assert math.isnan(std.loc[(b, "health"), "share"])
    assert std.loc[(b, "health"), "area_status"] == "no_population"
    # C: failed, reported with its reason on every row
    rows_c = table[table["area"] == c]
    assert len(rows_c) == len(table[table["area"] == a])
    assert set(rows_c["data_status"]) == set(rows_c["area_status"]) == {"failed"}
    assert rows_c["note"].str.endswith("cannot be repaired").all()
    assert rank_areas(table)["area"].tolist() == [a, b, c]
    gpkg = gpd.read_file(out / "city" / "subdistricts.gpkg", layer="subdistricts")
    assert gpkg["area"].tolist() == [a, b]  # C has no polygon to draw (reported in the table)
    assert gpkg["area_status"].tolist() == ["ok", "no_population"]
    assert gpkg["rank_composite"].tolist()[0] == 1.0
    assert (out / "areas" / a / "coverage.csv").exists()

    again = run_screen(
        catalogue, areas, out, pbf=city["pbf"], scheduler=cluster.scheduler_address, echo=str
    )
    assert again.facts["reused"] == 2  # only the failed area runs again
    assert [r["status"] for r in again.results] == ["ok", "ok", "failed"]
    cols = ["area", "category", "tier", "population", "share", "area_status", "note"]
    pd.testing.assert_frame_equal(again.table[cols], res.table[cols], check_dtype=False)


# -- bad input -------------------------------------------------------------------------------
def test_not_a_pbf_is_one_line_exit_2_before_any_work(tmp_path):
    fake = tmp_path / "city.osm.pbf"
    fake.write_text("<osm></osm>", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["screen", "--all", "--pbf", str(fake), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not an OSM PBF file" in result.stderr
    assert not out.exists()
    with pytest.raises(Exception, match="PBF file not found"):
        check_pbf(tmp_path / "missing.osm.pbf")


def test_unreachable_scheduler_is_one_line_exit_2(city, tmp_path, monkeypatch):
    monkeypatch.setenv(settings.AREAS_ENV, str(city["registry"]))
    result = CliRunner().invoke(
        main,
        [
            "screen",
            "--all",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--data-dir",
            str(city["data"]),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: tcp://127.0.0.1:9: cannot reach the Dask scheduler")
