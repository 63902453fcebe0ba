"""Taxonomy: the categories file, its validation and the classifiers."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from geo._errors import LifeCircleError
from geo.facilities.taxonomy import TAXONOMY_FILE, load_taxonomy, taxonomy_from_dict

REQUIRED_KEYS = ["elderly_care", "meal_service", "health", "childcare", "school", "culture",
                 "community_service", "sports", "market", "park_green", "transit"]  # fmt: skip


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))


def _broken(raw, mutate):
    doc = copy.deepcopy(raw)
    mutate(doc)
    return doc


# -- the real file --------------------------------------------------------------------------------
def test_taxonomy_has_the_eleven_issue_categories_in_order(tax):
    assert list(tax.categories)[:11] == REQUIRED_KEYS


def test_issue_keywords_are_listed_in_their_categories(tax):
    expected = {
        "elderly_care": ["综合为老服务中心", "日间照料中心", "长者照护之家", "养老院", "养老驿站",
                         "家门口养老服务站"],
        "meal_service": ["社区食堂", "助餐点", "睦邻小厨", "社会餐桌", "早餐工程点"],
        "health": ["社区卫生服务中心", "社区卫生服务站", "家庭医生服务站"],
        "childcare": ["托育", "托儿所", "幼儿园"],
        "culture": ["社区文化活动中心", "图书馆", "文化客厅", "青年中心"],
        "community_service": ["党群服务中心", "党群服务站", "社区事务受理中心", "睦邻中心",
                              "家门口服务站", "社区营造中心"],
        "sports": ["健身苑点", "健身步道"],
        "market": ["菜市场", "生鲜超市", "超市"],
        "park_green": ["公园", "口袋公园", "街角花园", "绿地"],
    }  # fmt: skip
    missing = {k: [w for w in words if w not in tax.category(k).keywords]
               for k, words in expected.items()}  # fmt: skip
    assert {k: v for k, v in missing.items() if v} == {}


def test_category_fields_are_typed(tax):
    c = tax.category("childcare")
    assert (c.label_zh, c.label_en, c.tier, c.threshold_m, c.threshold_evidence) == (
        "托育幼教",
        "Childcare and kindergarten",
        5,
        300.0,
        "verified",
    )
    assert c.label == "托育幼教 Childcare and kindergarten"
    assert "kindergarten" in c.fclasses


def test_unknown_category_raises_naming_the_known_ones(tax):
    with pytest.raises(LifeCircleError, match=r"unknown facility category 'cinema'.*elderly_care"):
        tax.category("cinema")


def test_thresholds_are_metres_per_category(tax):
    th = tax.thresholds()
    assert (th["elderly_care"], th["school"], th["health"]) == (300.0, 500.0, 1000.0)


@pytest.mark.integration
def test_recalled_thresholds_stay_unverified(tax, mirror):
    """Every cited CSV row exists; a row marked recalled / not retrieved is never 'verified'."""
    csv = pd.read_csv(mirror / "standards" / "facility_thresholds.csv")
    for cat in tax.categories.values():
        row = cat.threshold_row
        assert row is not None, cat.key
        hit = csv[(csv["standard"] == row["standard"]) & (csv["level"] == row["level"])
                  & (csv["item"] == row["item"])]  # fmt: skip
        assert len(hit) == 1, f"{cat.key}: cited row not found"
        evidence = str(hit["evidence"].iloc[0])
        if "recalled" in evidence or "not retrieved" in evidence:
            assert cat.threshold_evidence == "unverified", cat.key


# -- classification -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"amenity": "kindergarten"}, "childcare"),
        ({"amenity": "social_facility", "social_facility:for": "senior"}, "elderly_care"),
        ({"highway": "bus_stop"}, "transit"),
        ({"railway": "subway_entrance"}, None),
        ({"leisure": "pitch", "access": "private"}, None),
        ({"leisure": "park"}, "park_green"),
        ({"amenity": "restaurant"}, None),
    ],
)
def test_classify_tags(tax, tags, expected):
    assert tax.classify_tags(tags) == expected


def test_classify_fclass(tax):
    assert [tax.classify_fclass(f) for f in ("market_place", "school", "cafe", None)] == [
        "market", "school", None, None]  # fmt: skip


def test_classify_name_takes_the_head_noun(tax):
    assert tax.classify_name("长白社区睦邻中心运动小站") == "sports"


def test_classify_name_ignores_excluded_phrases(tax):
    assert tax.classify_name("街道慈善超市") is None


def test_name_overrides_tags_for_meal_service(tax):
    assert tax.classify_feature({"amenity": "restaurant"}, "长白社区食堂") == "meal_service"


def test_name_alone_never_makes_a_residential_compound_a_park(tax):
    assert tax.classify_feature({"landuse": "residential"}, "华山花园") is None


def test_name_override_needs_the_keyword_as_head(tax):
    assert tax.classify_feature(None, "老年活动中心旁绿色开放空间", fclass="park") == "park_green"


def test_keyword_pattern_gives_a_station_name(tax):
    hits = tax.keyword_hits("完成轨道交通18号线国权路站收尾")
    assert [(h.category, h.name) for h in hits] == [("transit", "国权路站")]


# -- validation -----------------------------------------------------------------------------------
def test_missing_field_is_named(raw):
    doc = _broken(raw, lambda d: d["categories"]["school"].pop("threshold_source"))
    with pytest.raises(LifeCircleError, match=r"category 'school'.*missing threshold_source"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_bad_tier_is_rejected(raw):
    doc = _broken(raw, lambda d: d["categories"]["school"].update(tier=20))
    with pytest.raises(LifeCircleError, match="tier must be one of 5, 10, 15"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_bad_evidence_is_rejected(raw):
    doc = _broken(raw, lambda d: d["categories"]["health"].update(threshold_evidence="recalled"))
    with pytest.raises(LifeCircleError, match="threshold_evidence must be 'verified' or"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_negative_threshold_is_rejected(raw):
    doc = _broken(raw, lambda d: d["categories"]["health"].update(threshold_m=-5))
    with pytest.raises(LifeCircleError, match="threshold_m must be a positive number"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_keyword_in_two_categories_is_rejected(raw):
    doc = _broken(raw, lambda d: d["categories"]["market"]["keywords"].append("养老院"))
    with pytest.raises(LifeCircleError, match="keyword '养老院' is listed in both"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_unquoted_yes_no_in_tag_rule_is_caught(raw):
    doc = _broken(raw, lambda d: d["categories"]["sports"].update(osm_exclude=[{"access": False}]))
    with pytest.raises(LifeCircleError, match="quote the value of 'access'"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_unknown_field_is_rejected(raw):
    doc = _broken(raw, lambda d: d["categories"]["market"].update(colour="red"))
    with pytest.raises(LifeCircleError, match=r"unknown field.*colour"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_bad_keyword_regex_is_rejected(raw):
    doc = _broken(raw, lambda d: d["categories"]["market"].update(keyword_patterns=["(菜"]))
    with pytest.raises(LifeCircleError, match="not a valid regex"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_lexicon_must_be_complete(raw):
    doc = _broken(raw, lambda d: d["lexicon"].pop("stop_words"))
    with pytest.raises(LifeCircleError, match=r"\(lexicon\): missing stop_words"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_lexicon_actions_need_all_classes(raw):
    doc = _broken(raw, lambda d: d["lexicon"]["actions"].pop("upgrade"))
    with pytest.raises(LifeCircleError, match="'actions' must have exactly new, upgrade"):
        taxonomy_from_dict(doc, path="t.yaml")


def test_malformed_yaml_names_the_file(tmp_path):
    p = tmp_path / "taxonomy.yaml"
    p.write_text("categories: [a, b\n", encoding="utf-8")
    with pytest.raises(LifeCircleError, match=r"taxonomy.yaml: malformed YAML"):
        load_taxonomy(p)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(LifeCircleError, match="facility taxonomy not found"):
        load_taxonomy(tmp_path / "nope.yaml")
