"""Offline address geocoder: parsing and exact placements on a synthetic town."""

from __future__ import annotations

import math

import pytest

from geo.facilities.address import AddressIndex, parse_address, parse_housenumber
from geo.io.osm import OsmPoint
from tests import _synth_addresses as synth


@pytest.fixture(scope="module")
def index() -> AddressIndex:
    return AddressIndex(synth.boundary(), synth.town(), name="synthetic")


def place(index: AddressIndex, text: str):
    res = index.locate(parse_address(text))
    xy = synth.metres(res.lon, res.lat) if res.placed else (math.nan, math.nan)
    return res, xy


# -- parsing --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上海市上海市浦东新区崂山路639号", {"road": "崂山路", "number": 639}),
        ("长宁区番禺路222弄50支弄6号", {"road": "番禺路", "lane": 222, "sublane": 50, "number": 6}),
        ("上海市杨浦区松花一村32号甲", {"compound": "松花一村", "number": 32, "suffix": "甲"}),
        ("華山路平武路", {"road": "华山路", "cross_road": "平武路"}),
        ("黄兴路与国定路交叉口", {"road": "黄兴路", "cross_road": "国定路"}),
        ("法华镇路中段521号", {"road": "法华镇路", "number": 521, "qualifier": "中段"}),
        ("延安西路1262号", {"road": "延安西路", "number": 1262}),
        ("上海市杨浦区伟康路129号对面", {"road": "伟康路", "number": 129, "qualifier": "对面"}),
        ("杨浦区武东路9号1-6楼", {"road": "武东路", "number": 9, "detail": "1-6楼"}),
        ("228街坊西南角", {"compound": "228街坊", "qualifier": "西南角"}),
        ("Minzhi Road", {"road_en": "minzhi road"}),
        ("国定支路24号", {"road": "国定支路", "number": 24}),
        ("长宁区新华路街道番禺路129号", {"road": "番禺路", "number": 129}),
        ("上海长宁区长宁路1号", {"road": "长宁路", "number": 1}),
    ],
)  # fmt: skip
def test_parse_address(text, expected):
    parsed = parse_address(text)
    assert {k: getattr(parsed, k) for k in expected} == expected
    assert parsed.problem == ""


def test_unreadable_address_says_why():
    parsed = parse_address("三楼东侧")
    assert not parsed.has_location_text
    assert parsed.problem.startswith("no road")


def test_parse_housenumber_ranges_lists_and_lanes():
    assert parse_housenumber("194-198") == [(None, 194, ""), (None, 196, ""), (None, 198, "")]
    assert parse_housenumber("101, 103") == [(None, 101, ""), (None, 103, "")]
    assert parse_housenumber("2065弄12号") == [(2065, 12, "")]
    assert parse_housenumber("12甲") == [(None, 12, "甲")]


# -- placements -----------------------------------------------------------------------------
def test_osm_address_is_exact(index):
    res, (x, y) = place(index, "东西路21号")
    assert res.precision == "address"
    assert (x, y) == pytest.approx((500, 510), abs=0.5)
    assert res.uncertainty_m == 10.0


def test_odd_number_interpolates_on_the_odd_side(index):
    res, (x, y) = place(index, "上海市东西路11号")
    assert res.precision == "interpolated"
    assert (x, y) == pytest.approx((300, 510), abs=0.5)
    assert res.uncertainty_m == 100.0  # a quarter of the 400 m between numbers 1 and 21


def test_even_number_interpolates_on_the_even_side(index):
    res, (x, y) = place(index, "东西路22号")
    assert res.precision == "interpolated"
    assert (x, y) == pytest.approx((500, 490), abs=0.5)


def test_opposite_puts_the_point_across_the_road(index):
    res, (x, y) = place(index, "东西路11号对面")
    assert res.precision == "interpolated"
    assert (x, y) == pytest.approx((300, 490), abs=0.5)
    assert res.uncertainty_m == 130.0


def test_number_beyond_the_anchors_falls_back_to_the_street_middle(index):
    res, (x, y) = place(index, "东西路61号")
    assert res.precision == "street"
    assert (x, y) == pytest.approx((500, 500), abs=0.5)
    assert res.uncertainty_m == pytest.approx(500.0, abs=0.5)
    assert "no two OSM addresses of the same parity" in res.note


def test_lane_number_in_osm_is_an_address(index):
    res, (x, y) = place(index, "东西路88弄5号")
    assert res.precision == "address"
    assert (x, y) == pytest.approx((710, 580), abs=0.5)


def test_sub_lane_is_placed_at_its_lane(index):
    res, (x, y) = place(index, "东西路88弄2支弄7号")
    assert res.precision == "compound"
    assert (x, y) == pytest.approx((700, 550), abs=0.5)
    assert res.uncertainty_m == 50.0


@pytest.mark.parametrize("text", ["东西路南北路", "东西路与南北路交叉口", "南北路/东西路口"])
def test_crossing(index, text):
    res, (x, y) = place(index, text)
    assert res.precision == "intersection"
    assert (x, y) == pytest.approx((300, 500), abs=0.5)
    assert res.uncertainty_m == 15.0


def test_named_compound(index):
    res, (x, y) = place(index, "幸福新村12号")
    assert res.precision == "compound"
    assert (x, y) == pytest.approx((150, 750), abs=1.0)
    assert res.uncertainty_m == pytest.approx(70.7, abs=0.1)


def test_english_road_name_uses_name_en(index):
    res, (x, y) = place(index, "No. 5 Dongxi Road")
    assert res.precision == "interpolated"
    assert (x, y) == pytest.approx((180, 510), abs=0.5)


def test_road_only_is_the_middle_of_its_stretch_inside_the_area(index):
    res, (x, y) = place(index, "南北路")
    assert res.precision == "street"
    assert (x, y) == pytest.approx((300, 500), abs=0.5)
    assert res.uncertainty_m == pytest.approx(500.0, abs=0.5)


def test_unknown_road_stays_at_area_level_with_the_reason(index):
    res, _ = place(index, "不存在路10号")
    assert res.precision == "area"
    assert not res.placed
    assert "road '不存在路' not in the OSM data of synthetic" in res.note


def test_distance_to_road(index):
    lon, lat = synth.lonlat(400, 820)
    assert index.distance_to_road(parse_address("东西路1号"), lon, lat) == pytest.approx(
        320, abs=0.5
    )


def test_osm_address_on_a_road_that_is_not_mapped_is_still_exact():
    data = synth.town()
    lon, lat = synth.lonlat(620, 820)
    data.points.append(OsmPoint("node", 99, {"addr:street": "无路街", "addr:housenumber": "7"},
                                lon, lat))  # fmt: skip
    idx = AddressIndex(synth.boundary(), data, name="synthetic")
    res, (x, y) = place(idx, "无路街7号")
    assert res.precision == "address"
    assert (x, y) == pytest.approx((620, 820), abs=0.5)
