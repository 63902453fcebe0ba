"""Geocoding on the real mirror: the gazetteer against its cited OSM elements, real streets."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.facilities.geocode import GAZETTEER_FILE, area_road_index, load_gazetteer, resolve_mention
from geo.io.geom import project_geom
from geo.io.osm import FEATURE_KEYS, read_osm

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gazetteer(registry):
    return load_gazetteer(GAZETTEER_FILE, registry=registry)


@pytest.fixture(scope="module")
def xinhualu_roads(registry):
    return area_road_index(registry, "xinhualu")


def cited_point(registry, row):
    """Re-locate a gazetteer row from the OSM element its source cites (file in the mirror)."""
    kind, oid = row.osm_element.split("/")
    if "gis_osm_pois_a_free_1" in row.source:
        folder = registry.resolve(registry.defaults["pois"]["geofabrik"])
        layer = gpd.read_file(folder / "gis_osm_pois_a_free_1.shp", where=f"osm_id = '{oid}'")
        return layer.geometry.iloc[0].representative_point()
    rel = next(tok for tok in row.source.split() if tok.startswith("osm/"))
    data = read_osm(registry.resolve(rel), keys=(*FEATURE_KEYS, "name"))
    if kind == "node":
        p = next(p for p in data.points if p.osm_type == "node" and p.id == int(oid))
        return shapely.Point(p.lon, p.lat)
    way = next(w for w in data.ways if w.id == int(oid))
    return shapely.Polygon(way.coords).representative_point()


def test_every_gazetteer_row_lies_in_its_area(gazetteer, registry):
    for row in gazetteer.itertuples():
        assert row.geometry.within(registry.boundary(row.area)), row.id


def test_gazetteer_rows_reproduce_from_their_cited_osm_elements(gazetteer, registry):
    for row in gazetteer.itertuples():
        d = project_geom(cited_point(registry, row)).distance(project_geom(row.geometry))
        assert d < 1.0, (row.id, d)


def test_every_gazetteer_row_cites_an_osm_element_and_licence(gazetteer):
    assert gazetteer["osm_element"].str.match(r"^(node|way|relation)/\d+$").all()
    assert gazetteer["source"].str.contains("© OpenStreetMap contributors").all()


def test_lane_222_on_panyu_road_is_found_in_osm(xinhualu_roads):
    res = resolve_mention(
        {
            "name": "旧改",
            "area": "xinhualu",
            "category": "housing",
            "place_hint": "番禺路222弄",
            "in_area": "yes",
        },
        roads=xinhualu_roads,
    )
    assert (res.precision, res.confidence, res.match_ref) == ("street", 0.6, "way/227974004")


def test_lane_217_on_panyu_road_falls_back_to_the_road_midpoint(xinhualu_roads, registry):
    res = resolve_mention(
        {
            "name": "两旧一村改造",
            "area": "xinhualu",
            "category": "housing",
            "place_hint": "番禺路217弄",
            "in_area": "yes",
        },
        roads=xinhualu_roads,
    )
    assert (res.precision, res.confidence, res.match_name) == ("street", 0.3, "番禺路")
    assert res.geometry.within(registry.boundary("xinhualu"))
    assert "number 217 not found in OSM" in res.note


def test_subdistrict_name_xinhualu_is_not_read_as_xinhua_road(xinhualu_roads):
    res = resolve_mention(
        {
            "name": "新华路街道综合为老服务中心",
            "area": "xinhualu",
            "category": "elderly_care",
            "in_area": "yes",
        },
        roads=xinhualu_roads,
    )
    assert res.precision == "area"


def test_changbaixincun_has_no_street_level_data(registry):
    idx = area_road_index(registry, "changbaixincun")
    assert not idx.available
    assert idx.note.startswith("no street-level matching: the area has no OSM network data")


def test_real_named_mention_resolves_through_the_gazetteer(registry, gazetteer):
    res = resolve_mention(
        {
            "name": "新华·社区营造中心",
            "area": "xinhualu",
            "category": "community_service",
            "in_area": "yes",
        },
        gazetteer=gazetteer,
    )
    assert (res.precision, res.match_ref) == ("exact", "gazetteer:xhl-001 (node/13765678129)")


def test_gazetteer_file_is_utf8_with_declared_crs():
    df = pd.read_csv(GAZETTEER_FILE, dtype=str, encoding="utf-8")
    assert set(df["crs"]) <= {"wgs84", "gcj02", "bd09"}


@pytest.fixture(scope="module")
def built(tmp_path_factory, mirror):
    from click.testing import CliRunner

    from geo.cli import main

    out = tmp_path_factory.mktemp("facilities_build")
    result = CliRunner().invoke(
        main, ["facilities", "build", "--area", "xinhualu", "--out", str(out), "--no-progress"]
    )
    return out, result


def test_facilities_build_adds_plan_rows(built):
    out, result = built
    assert result.exit_code == 0, result.output
    fac = gpd.read_file(out / "facilities.gpkg", layer="facilities")
    plan = fac[fac["source"] == "plan"].set_index("name")
    assert plan.loc["新华·社区营造中心", "precision"] == "exact"
    assert plan.loc["新华·社区营造中心", "osm_id"] == "node/13765678129"
    assert set(fac["source"]) == {"osm", "list", "plan"}


def test_facilities_build_reads_the_areas_official_list(built):
    out, result = built
    fac = gpd.read_file(out / "facilities.gpkg", layer="facilities")
    lst = fac[fac["source"] == "list"].set_index("name")
    assert len(lst) == 10  # the mirror list's 新华路街道 rows
    row = lst.loc["新华路街道综合为老服务中心"]
    assert (row["category"], row["precision"], row["known_by"]) == (
        "elderly_care", "coordinates", "list")  # fmt: skip
    assert (row["list_file"], int(row["list_row"])) == ("facility_list_4_subdistricts.csv", 25)
    assert lst.loc["华山绿地", "precision"] == "intersection"
    assert lst.loc["上海影城", "precision"] == "address"
    report = pd.read_csv(out / "geocode_report.csv")
    assert set(report["table"]) == {"placement", "error"}
    assert "rows read / 读取" in result.output


def test_facilities_build_writes_and_prints_the_geocode_report(built):
    out, result = built
    report = pd.read_csv(out / "geocode_report.csv").set_index("area")
    assert report.loc["xinhualu", "exact"] >= 1
    assert "Plan facilities located / 规划设施定位" in result.output


def test_amap_without_key_fails_before_any_work(tmp_path, mirror, monkeypatch):
    from click.testing import CliRunner

    from geo.cli import main

    monkeypatch.delenv("LIFECIRCLE_AMAP_KEY", raising=False)
    result = CliRunner().invoke(main, ["facilities", "build", "--area", "xinhualu", "--out",
                                       str(tmp_path), "--geocoder", "amap"])  # fmt: skip
    assert result.exit_code == 2
    assert "amap: no key" in result.output
    assert not (tmp_path / "facilities.gpkg").exists()
