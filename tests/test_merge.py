"""One inventory from OSM, lists and plans: matching, known_by, plan rows taking list places."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.facilities.merge import match_key, merge_sources, source_table
from geo.io.tables import scenario_mask
from tests import _synth_addresses as synth

COLS = ["facility_id", "area", "name", "category", "source", "status", "precision", "osm_id",
        "uncertainty_m", "in_area", "list_file", "list_row", "duplicate_of",
        "geometry"]  # fmt: skip


def frame(rows):
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=COLS), geometry="geometry",
                            crs="EPSG:4326")  # fmt: skip


def pt(x, y):
    return shapely.Point(*synth.lonlat(x, y))


def test_match_key_strips_prefixes_and_fillers():
    assert match_key("上海市杨浦区五角场街道国定支路睦邻社区长者食堂") == "国定支路长者食堂"
    prefixes = ("长白新村街道", "长白新村")
    assert match_key("长白新村社区综合为老服务中心", prefixes) == "综合为老服务中心"
    assert match_key("潍坊社区卫生服务中心（新址）") == "潍坊卫生服务中心"


OSM = frame([
    ["osm:s:node/1", "s", "幸福社区长者食堂", "meal_service", "osm", "existing", "exact",
     "node/1", None, True, None, None, "", pt(100, 100)],
])  # fmt: skip


def test_list_row_near_an_osm_facility_of_the_same_name_is_the_same_facility():
    lists = frame([
        ["list:l:2", "s", "合成街道幸福睦邻长者食堂", "meal_service", "list", "existing",
         "address", "", 10.0, True, "l.csv", 2, "", pt(150, 100)],
        ["list:l:3", "s", "幸福社区长者食堂", "meal_service", "list", "existing", "address", "",
         10.0, True, "l.csv", 3, "", pt(100, 2100)],  # same name, 2 km away: another one
    ])  # fmt: skip
    fac = merge_sources(OSM, lists, area_names={"s": "合成街道"}).set_index("facility_id")
    assert fac.loc["list:l:2", "duplicate_of"] == "osm:s:node/1"
    assert fac.loc["osm:s:node/1", "known_by"] == "osm;list"
    assert fac.loc["list:l:3", "known_by"] == "list"
    assert fac["counted"].to_dict() == {"osm:s:node/1": True, "list:l:2": False, "list:l:3": True}


def test_plan_mention_takes_the_place_of_the_list_row():
    lists = frame([
        ["list:l:2", "s", "合成街道阳光社区睦邻中心", "community_service", "list", "existing",
         "coordinates", "", None, True, "l.csv", 2, "", pt(400, 400)],
    ])  # fmt: skip
    plans = frame([
        ["plan:p:10", "s", "阳光睦邻中心", "community_service", "plan", "planned", "area", "",
         None, True, None, None, "", None],
    ])  # fmt: skip
    fac = merge_sources(OSM, lists, plans, area_names={"s": "合成街道"}).set_index("facility_id")
    plan = fac.loc["plan:p:10"]
    assert plan["precision"] == "coordinates"
    assert synth.metres(plan.geometry.x, plan.geometry.y) == pytest.approx((400, 400), abs=0.01)
    assert plan["known_by"] == "list;plan"
    assert fac.loc["list:l:2", "duplicate_of"] == "plan:p:10"
    assert (bool(plan["counted"]), bool(fac.loc["list:l:2", "counted"])) == (True, False)
    full = fac.reset_index()
    base = set(full.loc[scenario_mask(full, "baseline"), "facility_id"])
    with_plan = set(full.loc[scenario_mask(full, "plan"), "facility_id"])
    assert with_plan - base == {"plan:p:10"}  # built by the plan: counts from the plan scenario


def test_generic_new_mention_of_one_facility_matches_the_only_listed_one():
    lists = frame([
        ["list:l:2", "s", "合成社区综合为老服务中心", "elderly_care", "list", "existing",
         "coordinates", "", None, True, "l.csv", 2, "", pt(300, 300)],
        ["list:l:3", "s", "合成长者照护之家", "elderly_care", "list", "existing",
         "coordinates", "", None, True, "l.csv", 3, "", pt(600, 300)],
    ])  # fmt: skip
    mentions = pd.DataFrame([{
        "doc": "plans/p.txt", "area": "s", "kind": "generic", "name": "社区综合为老服务中心",
        "category": "elderly_care", "action": "new", "quantity": 1.0, "in_area": "yes",
        "start": 40, "sentence": "新建1家社区综合为老服务中心",
    }])  # fmt: skip
    fac = merge_sources(OSM, lists, None, mentions, area_names={"s": "合成街道"})
    fac = fac.set_index("facility_id")
    new = fac.loc["plan:p:40"]
    assert (new["source"], new["status"], new["known_by"]) == ("plan", "planned", "list;plan")
    assert synth.metres(new.geometry.x, new.geometry.y) == pytest.approx((300, 300), abs=0.01)
    assert fac.loc["list:l:2", "duplicate_of"] == "plan:p:40"
    assert fac.loc["list:l:3", "duplicate_of"] == ""
    table = source_table(fac.reset_index(), ["s"], ["elderly_care", "meal_service"])
    assert table.to_dict("records") == [
        {"area": "s", "category": "elderly_care", "osm": 0, "list": 1, "plan": 0, "several": 1,
         "total": 2},
        {"area": "s", "category": "meal_service", "osm": 1, "list": 0, "plan": 0, "several": 0,
         "total": 1},
    ]  # fmt: skip


def test_two_listed_candidates_are_ambiguous_for_a_generic_mention():
    lists = frame([
        ["list:l:2", "s", "东综合为老服务中心", "elderly_care", "list", "existing",
         "coordinates", "", None, True, "l.csv", 2, "", pt(300, 300)],
        ["list:l:3", "s", "西综合为老服务中心", "elderly_care", "list", "existing",
         "coordinates", "", None, True, "l.csv", 3, "", pt(600, 300)],
    ])  # fmt: skip
    mentions = pd.DataFrame([{
        "doc": "plans/p.txt", "area": "s", "kind": "generic", "name": "综合为老服务中心",
        "category": "elderly_care", "action": "new", "quantity": 1.0, "in_area": "yes",
        "start": 40, "sentence": "新建1家综合为老服务中心",
    }])  # fmt: skip
    fac = merge_sources(OSM, lists, None, mentions)
    assert "plan" not in set(fac["source"])


def test_the_same_facility_in_two_lists_counts_once():
    lists = frame([
        ["list:a:2", "s", "阳光长者食堂", "meal_service", "list", "existing", "address", "",
         10.0, True, "a.csv", 2, "", pt(500, 500)],
        ["list:b:7", "s", "合成街道阳光社区长者食堂", "meal_service", "list", "existing",
         "coordinates", "", None, True, "b.csv", 7, "", pt(520, 500)],
    ])  # fmt: skip
    fac = merge_sources(OSM, lists, area_names={"s": "合成街道"}).set_index("facility_id")
    assert fac.loc["list:b:7", "duplicate_of"] == "list:a:2"
    assert fac.loc["list:b:7", "known_by"] == "list"
    assert (bool(fac.loc["list:a:2", "counted"]), bool(fac.loc["list:b:7", "counted"])) == (
        True,
        False,
    )


def test_a_park_of_the_same_name_matches_farther_than_a_similar_name():
    osm = frame([
        ["osm:s:way/5", "s", "幸福绿地", "park_green", "osm", "existing", "exact", "way/5",
         None, True, None, None, "", pt(300, 300)],
    ])  # fmt: skip
    lists = frame([
        ["list:l:2", "s", "幸福绿地", "park_green", "list", "existing", "intersection", "",
         15.0, True, "l.csv", 2, "", pt(300, 510)],  # 210 m: the park's corner
        ["list:l:3", "s", "幸福小绿地", "park_green", "list", "existing", "intersection", "",
         15.0, True, "l.csv", 3, "", pt(300, 510)],  # similar name only: too far
    ])  # fmt: skip
    fac = merge_sources(osm, lists).set_index("facility_id")
    assert fac.loc["list:l:2", "duplicate_of"] == "osm:s:way/5"
    assert fac.loc["list:l:3", "duplicate_of"] == ""
