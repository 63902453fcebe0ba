"""Offline geocoding of plan mentions (geo.geocode) on a small synthetic study area.

The synthetic area "synth" is the square 121.42-121.44 E, 31.19-31.21 N (about 1.9 x 2.2 km).
Its OSM file holds one through road 合成路 along 31.20 N (121.41-121.45 E), a north-south road
测试东路 at 121.438 E, a lane way "合成路 88 弄" and an address node 合成路121号. The area
"bare" has no OSM files at all.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo._errors import LifeCircleError
from geo.facilities.coords import wgs84_to_gcj02
from geo.facilities.geocode import (
    area_road_index,
    format_report,
    geocode_mentions,
    geocode_report,
    load_gazetteer,
    normalise_name,
    plan_facilities,
    poi_candidates,
    resolve_mention,
    verify_gazetteer,
)
from geo.facilities.providers import GeocodeResult
from geo.io.areas import load_registry
from geo.io.geom import clip_polygon

SQUARE = shapely.box(121.42, 31.19, 121.44, 31.21)
BARE = shapely.box(121.50, 31.19, 121.52, 31.21)

ROADS = {
    "elements": [
        {"type": "way", "id": 1, "tags": {"highway": "secondary", "name": "合成路"},
         "geometry": [{"lon": 121.41, "lat": 31.20}, {"lon": 121.45, "lat": 31.20}]},
        {"type": "way", "id": 2, "tags": {"highway": "residential", "name": "测试东路"},
         "geometry": [{"lon": 121.438, "lat": 31.19}, {"lon": 121.438, "lat": 31.21}]},
        {"type": "way", "id": 3, "tags": {"highway": "service", "name": "合成路 88 弄"},
         "geometry": [{"lon": 121.425, "lat": 31.2005}, {"lon": 121.425, "lat": 31.203}]},
        {"type": "way", "id": 4, "tags": {"highway": "tertiary", "name": "外部路"},
         "geometry": [{"lon": 121.41, "lat": 31.25}, {"lon": 121.45, "lat": 31.25}]},
        {"type": "way", "id": 5, "tags": {"highway": "pedestrian", "name": "合成广场"},
         "geometry": [{"lon": 121.422, "lat": 31.208}, {"lon": 121.424, "lat": 31.208}]},
        {"type": "node", "id": 10, "lon": 121.435, "lat": 31.2002,
         "tags": {"building": "yes", "addr:street": "合成路", "addr:housenumber": "121号"}},
    ]
}  # fmt: skip

GAZ_HEADER = "id,area,name,aliases,category,lon,lat,crs,osm_element,source,checked\n"


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic_registry")
    (root / "boundaries").mkdir()
    (root / "osm" / "synth").mkdir(parents=True)
    gpd.GeoDataFrame({"rel": ["1", "2"]}, geometry=[SQUARE, BARE], crs="EPSG:4326").to_file(
        root / "boundaries" / "synthetic.geojson", driver="GeoJSON"
    )
    (root / "osm" / "synth" / "roads.json").write_text(
        json.dumps(ROADS, ensure_ascii=False), encoding="utf-8"
    )
    (root / "areas.yaml").write_text(
        "defaults:\n  boundary: {file: boundaries/synthetic.geojson, key: rel}\n"
        "areas:\n"
        "  - {id: synth, name_zh: 合成街道, name_en: Synthetic, district: 长宁区, "
        "osm_relation: 1, network: [osm/synth/roads.json]}\n"
        "  - {id: bare, name_zh: 空白街道, name_en: Bare, district: 杨浦区, osm_relation: 2}\n",
        encoding="utf-8",
    )
    return load_registry(root / "areas.yaml", data_dir=root)


@pytest.fixture(scope="module")
def roads(reg):
    return {"synth": area_road_index(reg, "synth"), "bare": area_road_index(reg, "bare")}


@pytest.fixture(scope="module")
def inventory():
    return gpd.GeoDataFrame(
        {
            "facility_id": ["osm:1", "osm:2", "osm:3", "osm:4"],
            "name": ["合成社区睦邻中心", "合成菜市场", "远方睦邻中心", "合成公园"],
            "category": ["community_centre", "market", "community_centre", "park"],
            "osm_id": ["node/101", "node/102", "node/103", "way/104"],
        },
        geometry=[
            shapely.Point(121.428, 31.206),
            shapely.Point(121.432, 31.195),
            shapely.Point(121.48, 31.20),  # ~3.8 km east of the square
            shapely.box(121.421, 31.191, 121.423, 31.193),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture
def gazetteer_file(tmp_path):
    glon, glat = wgs84_to_gcj02(121.431, 31.205)
    path = tmp_path / "gazetteer.csv"
    path.write_text(
        GAZ_HEADER
        + f"g1,synth,合成街道社区卫生服务中心,合成卫生中心|合成社区医院,health,{float(glon):.9f},"
        f"{float(glat):.9f},gcj02,node/201,synthetic test row,2024-05-01\n",
        encoding="utf-8",
    )
    return path


def mention(**kw):
    base = {"doc": "plans/synth_plan.txt", "area": "synth", "kind": "named", "name": "",
            "category": "", "action": "new", "quantity": 1, "place_hint": "", "in_area": "yes",
            "start": 0, "end": 1, "sentence": ""}  # fmt: skip
    return {**base, **kw}


def resolve(reg, roads, inventory, gaz=None, **kw):
    zone = clip_polygon(SQUARE, 500.0)
    return resolve_mention(mention(**kw), gazetteer=gaz, candidates=poi_candidates(inventory, zone),
                           roads=roads["synth"])  # fmt: skip


# --- names ---------------------------------------------------------------------------------
def test_normalise_name_drops_quotes_dots_and_community_words():
    assert normalise_name("“新华·社区营造中心”") == "新华营造中心"


def test_normalise_name_folds_full_width():
    assert normalise_name("ＡＢＣ１２３　路（东）") == "abc123路(东)"


def test_normalise_name_strips_shanghai_prefix_and_subdistrict_word():
    assert normalise_name("上海市五角场街道社区文化活动中心") == "五角场文化活动中心"


# --- gazetteer -----------------------------------------------------------------------------
def test_gazetteer_gcj02_row_is_converted_to_wgs84(gazetteer_file, reg):
    gaz = load_gazetteer(gazetteer_file, registry=reg)
    assert abs(gaz["lon_wgs84"].iloc[0] - 121.431) < 1e-7
    assert abs(gaz["lat_wgs84"].iloc[0] - 31.205) < 1e-7


def test_gazetteer_without_source_column_is_rejected(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("id,area,name,category,lon,lat,crs\ng1,synth,x,health,121.43,31.2,wgs84\n",
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(LifeCircleError, match=r"g.csv: missing column\(s\) source"):
        load_gazetteer(path)


def test_gazetteer_unknown_crs_names_the_line(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text(
        GAZ_HEADER + "g1,synth,x,,health,121.43,31.2,cgcs2000,,src,\n", encoding="utf-8"
    )
    with pytest.raises(LifeCircleError, match=r"\(line 2, id g1\): unknown coordinate system"):
        load_gazetteer(path)


def test_gazetteer_swapped_coordinates_name_the_record(tmp_path, reg):
    path = tmp_path / "g.csv"
    path.write_text(GAZ_HEADER + "g7,synth,x,,health,31.2,121.43,wgs84,,src,\n", encoding="utf-8")
    with pytest.raises(LifeCircleError, match=r"\(line 2, id g7\): \(31.2, 121.43\) has latitude"):
        load_gazetteer(path, registry=reg)


def test_gazetteer_row_far_from_its_area_is_rejected(tmp_path, reg):
    path = tmp_path / "g.csv"
    path.write_text(GAZ_HEADER + "g8,synth,x,,health,121.60,31.20,wgs84,,src,\n", encoding="utf-8")
    with pytest.raises(LifeCircleError, match="from the study area"):
        load_gazetteer(path, registry=reg)


def test_gazetteer_without_source_value_is_rejected(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text(GAZ_HEADER + "g9,synth,x,,health,121.43,31.20,wgs84,,,\n", encoding="utf-8")
    with pytest.raises(LifeCircleError, match=r"\(line 2, id g9\): empty 'source'"):
        load_gazetteer(path)


# --- the resolution order ------------------------------------------------------------------
def test_gazetteer_alias_gives_exact_precision(reg, roads, inventory, gazetteer_file):
    gaz = load_gazetteer(gazetteer_file, registry=reg)
    res = resolve(reg, roads, inventory, gaz, name="合成卫生中心", category="health")
    assert (res.precision, res.method, res.confidence) == ("exact", "gazetteer", 0.95)
    assert res.match_ref == "gazetteer:g1 (node/201)"
    assert res.geometry.distance(shapely.Point(121.431, 31.205)) < 1e-7


def test_gazetteer_beats_poi_and_street(reg, roads, inventory, gazetteer_file):
    gaz = load_gazetteer(gazetteer_file, registry=reg)
    res = resolve(reg, roads, inventory, gaz, name="合成社区医院", category="health",
                  place_hint="合成路")  # fmt: skip
    assert res.precision == "exact"


def test_poi_match_ignores_community_word_and_records_osm_id(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="合成睦邻中心", category="community_centre")
    assert (res.precision, res.match_name, res.match_score, res.confidence) == (
        "poi", "合成社区睦邻中心", 100.0, 0.85)  # fmt: skip
    assert res.osm_id == "node/101"
    assert (res.geometry.x, res.geometry.y) == (121.428, 31.206)


def test_poi_match_requires_the_same_category(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="合成睦邻中心", category="elderly_care")
    assert res.precision == "area"


def test_poi_match_ignores_candidates_beyond_the_buffer(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="远方睦邻中心", category="community_centre")
    assert res.precision == "area"


def test_generic_name_is_never_matched_to_a_poi(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="社区睦邻中心", category="community_centre")
    assert res.precision == "area"


def test_polygon_poi_uses_a_point_inside_and_reports_its_radius(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="合成公园", category="park")
    assert res.geometry.within(shapely.box(121.421, 31.191, 121.423, 31.193))
    assert 100 < res.uncertainty_m < 200


def test_poi_beats_street(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="合成菜市场", category="market", place_hint="合成路")
    assert res.precision == "poi"


def test_lane_number_found_in_an_osm_lane_way(reg, roads, inventory):
    res = resolve(
        reg, roads, inventory, name="旧改项目", category="housing", place_hint="合成路88弄"
    )
    assert (res.precision, res.confidence, res.match_ref) == ("street", 0.6, "way/3")
    assert res.geometry.distance(shapely.Point(121.425, 31.20175)) < 1e-9


def test_house_number_found_in_an_osm_address(reg, roads, inventory):
    res = resolve(
        reg, roads, inventory, name="旧改项目", category="housing", place_hint="合成路121号"
    )
    assert (res.precision, res.match_ref) == ("street", "node/10")
    assert (res.geometry.x, res.geometry.y) == (121.435, 31.2002)


def test_unknown_number_falls_back_to_the_road_midpoint_inside_the_area(reg, roads, inventory):
    res = resolve(
        reg, roads, inventory, name="旧改项目", category="housing", place_hint="合成路217弄"
    )
    assert (res.precision, res.confidence) == ("street", 0.3)
    assert res.geometry.distance(shapely.Point(121.43, 31.20)) < 1e-6
    assert "number 217 not found in OSM" in res.note
    assert 940 < res.uncertainty_m < 960  # half of the ~1.9 km of road inside the square


def test_road_named_in_the_name_when_there_is_no_hint(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="测试东路口袋公园", category="park")
    assert res.precision == "street"
    assert res.geometry.distance(shapely.Point(121.438, 31.20)) < 1e-6


def test_road_outside_the_area_is_not_used(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="外部路菜场", category="market")
    assert res.precision == "area"
    assert res.geometry is None
    assert "外部路 not found inside the area" in res.note


def test_in_area_no_never_gets_a_geometry(reg, roads, inventory, gazetteer_file):
    gaz = load_gazetteer(gazetteer_file, registry=reg)
    res = resolve(reg, roads, inventory, gaz, name="合成卫生中心", category="health", in_area="no")
    assert (res.precision, res.geometry, res.confidence) == ("unresolved", None, 0.0)


def test_area_without_osm_files_says_street_matching_is_unavailable(roads):
    res = resolve_mention(mention(area="bare", name="民治路菜场", category="market"),
                          roads=roads["bare"])  # fmt: skip
    assert res.precision == "area"
    assert "no OSM network data" in res.note
    assert "road named: 民治路" in res.note


class FakeGeocoder:
    """An online geocoder stand-in answering one fixed point."""

    def __init__(self, lon, lat):
        self.lon, self.lat = lon, lat

    def geocode(self, query, area=None):
        return GeocodeResult(query, self.lon, self.lat, "答案", "fake", "gcj02")


def test_online_answer_inside_the_area_is_poi_precision(roads):
    zone = clip_polygon(SQUARE, 500.0)
    res = resolve_mention(mention(name="某某中心", category="x"), roads=roads["synth"],
                          geocoders=[FakeGeocoder(121.43, 31.20)], online_zone=zone)  # fmt: skip
    assert (res.precision, res.method, res.confidence) == ("poi", "online:fake", 0.5)


def test_online_answer_outside_the_area_is_ignored(roads):
    zone = clip_polygon(SQUARE, 500.0)
    res = resolve_mention(mention(name="某某中心", category="x"), roads=roads["synth"],
                          geocoders=[FakeGeocoder(121.60, 31.20)], online_zone=zone)  # fmt: skip
    assert res.precision == "area"


# --- the whole table -----------------------------------------------------------------------
@pytest.fixture
def mentions():
    rows = [
        mention(name="合成睦邻中心", category="community_centre", start=10, action="existing"),
        mention(name="合成睦邻中心", category="community_centre", start=90, action="upgrade"),
        mention(name="旧改项目", category="housing", place_hint="合成路217弄", start=200),
        mention(name="无名中心", category="health", start=300),
        mention(name="邻区医院", category="health", in_area="no", start=400),
        mention(kind="generic", name="社区食堂", category="canteen", start=500),
        mention(area="bare", name="民治路菜场", category="market", start=600),
    ]
    return pd.DataFrame(rows)


def test_geocode_mentions_resolves_only_named_rows(reg, roads, inventory, mentions):
    out = geocode_mentions(reg, mentions, inventory, gazetteer=False, roads=roads)
    assert out["precision"].tolist() == ["poi", "poi", "street", "area", "unresolved", "area"]
    assert out.crs.to_epsg() == 4326


def test_geocode_mentions_gives_ids_from_doc_and_offset(reg, roads, inventory, mentions):
    out = geocode_mentions(reg, mentions, inventory, gazetteer=False, roads=roads)
    assert out["facility_id"].iloc[0] == "plan:synth_plan:10"


def test_geocode_mentions_rejects_a_table_without_mention_columns(reg, roads):
    with pytest.raises(LifeCircleError, match=r"lacks column\(s\) in_area"):
        geocode_mentions(reg, pd.DataFrame(columns=["doc", "area", "kind", "name", "category",
                                                    "action", "quantity", "place_hint", "start",
                                                    "end", "sentence"]), roads=roads)  # fmt: skip


def test_plan_facilities_maps_actions_and_drops_out_of_area(reg, roads, inventory, mentions):
    fac = plan_facilities(geocode_mentions(reg, mentions, inventory, gazetteer=False, roads=roads))
    assert fac["status"].tolist() == ["existing", "existing", "planned", "planned", "planned"]
    assert set(fac["source"]) == {"plan"}
    assert fac["duplicate_of"].tolist() == ["", "plan:synth_plan:10", "", "", ""]
    assert fac["osm_id"].tolist() == ["node/101", "node/101", "", "", ""]
    assert fac["mention_start"].tolist() == [10, 90, 200, 300, 600]


def test_report_counts_precisions_and_lists_unplaced(reg, roads, inventory, mentions):
    out = geocode_mentions(reg, mentions, inventory, gazetteer=False, roads=roads)
    rep = geocode_report(out, mentions, roads).set_index("area")
    cols = ["named", "generic", "exact", "poi", "street", "area_only", "unresolved", "placed"]
    assert rep.loc["synth", cols].tolist() == [5, 1, 0, 2, 1, 1, 1, 3]
    assert rep.loc["synth", "unplaced"] == "无名中心 (synth_plan@300)"
    assert rep.loc["bare", "area_only"] == 1
    assert "no street-level matching" in rep.loc["bare", "street_data"]


def test_format_report_prints_unplaced_names(reg, roads, inventory, mentions):
    out = geocode_mentions(reg, mentions, inventory, gazetteer=False, roads=roads)
    text = format_report(geocode_report(out, mentions, roads))
    assert "synth unplaced 未定位 (1): 无名中心 (synth_plan@300)" in text


def test_verify_gazetteer_measures_distance_to_cited_element(reg, gazetteer_file):
    gaz = load_gazetteer(gazetteer_file, registry=reg)
    inv = gpd.GeoDataFrame({"osm_id": ["node/201"]}, geometry=[shapely.Point(121.4311, 31.205)],
                           crs="EPSG:4326")  # fmt: skip
    check = verify_gazetteer(gaz, inv)
    assert check["found"].tolist() == [True]
    assert 9.0 < check["distance_m"].iloc[0] < 10.0
    assert bool(check["ok"].iloc[0])


def test_mentions_keep_numpy_types_out_of_ids(reg, roads, inventory, mentions):
    mentions = mentions.astype({"start": np.int64})
    out = geocode_mentions(reg, mentions, inventory, gazetteer=False, roads=roads)
    assert out["facility_id"].iloc[2] == "plan:synth_plan:200"


def test_gazetteer_row_may_declare_lower_precision_and_confidence(tmp_path, reg, roads, inventory):
    path = tmp_path / "g.csv"
    path.write_text(
        "id,area,name,category,lon,lat,crs,source,precision,confidence\n"
        "g2,synth,合成小区睦邻中心,community_centre,121.426,31.197,wgs84,synthetic,poi,0.6\n",
        encoding="utf-8",
    )
    res = resolve(reg, roads, inventory, load_gazetteer(path, registry=reg),
                  name="合成小区睦邻中心", category="community_centre")  # fmt: skip
    assert (res.precision, res.method, res.confidence) == ("poi", "gazetteer", 0.6)


def test_gazetteer_rejects_area_precision(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text(
        "id,area,name,category,lon,lat,crs,source,precision\n"
        "g3,synth,x,health,121.43,31.20,wgs84,src,area\n",
        encoding="utf-8",
    )
    with pytest.raises(LifeCircleError, match=r"id g3\): precision 'area'; expected exact, poi"):
        load_gazetteer(path)


def test_subdistrict_name_is_not_read_as_its_road(reg, roads, inventory):
    res = resolve(reg, roads, inventory, name="合成路街道卫生服务中心", category="health")
    assert res.precision == "area"


def test_named_pedestrian_plaza_is_not_a_road(roads):
    assert "合成广场" not in roads["synth"].roads
    assert sorted(roads["synth"].roads) == ["合成路", "测试东路"]


def test_plan_facilities_in_area_follows_geometry_then_plan(reg, roads):
    inv = gpd.GeoDataFrame({"name": ["边界菜场"], "category": ["market"], "osm_id": ["node/9"]},
                           geometry=[shapely.Point(121.443, 31.20)], crs="EPSG:4326")  # fmt: skip
    rows = pd.DataFrame([
        mention(name="边界菜场", category="market", start=1),  # POI 280 m outside the square
        mention(name="无名中心", category="health", start=2),  # unplaced, plan says yes
        mention(name="某中心", category="health", in_area="unknown", start=3),  # unplaced
    ])  # fmt: skip
    fac = plan_facilities(geocode_mentions(reg, rows, inv, gazetteer=False, roads=roads),
                          registry=reg)  # fmt: skip
    assert fac["in_area"].tolist() == [False, True, False]
    assert fac["mention_in_area"].tolist() == ["yes", "yes", "unknown"]
    assert fac["sources"].iloc[0] == "plans/synth_plan.txt"


def test_missing_values_normalise_to_empty():
    assert [normalise_name(v) for v in (None, float("nan"), pd.NA)] == ["", "", ""]


def test_counted_rows_counts_each_located_facility_once():
    import geopandas as gpd
    from shapely.geometry import Point

    from geo.facilities.geocode import counted_rows

    p = Point(121.42, 31.2)
    fac = gpd.GeoDataFrame(
        {
            "source": ["osm", "osm", "plan", "plan", "plan", "plan", "plan"],
            "osm_id": ["way/1", "way/1", "way/1", "", "", "", "node/9"],
            "precision": ["exact", "exact", "exact", "street", "street", "area", "poi"],
            "duplicate_of": ["", "", "", "", "plan:doc:10", "", ""],
        },
        geometry=[p, p, p, p, p, None, p],
        crs="EPSG:4326",
    )
    # OSM row; its copy for a second area; a plan row placed on it; a street-level plan row;
    # a repeated mention of it; an unplaced row; a plan row on an OSM element not inventoried
    assert counted_rows(fac).tolist() == [True, False, False, True, False, False, True]
