"""Plan extraction rules, each on a small string built here with the exact expected result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.facilities.plans import (
    extract_mentions,
    mentions_frame,
    normalise_text,
    read_plan,
    split_sentences,
    summarize,
)
from geo.facilities.taxonomy import load_taxonomy
from geo.io.tables import MENTIONS, read_mentions, write_mentions


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


def run(tax, text, **kw):
    return extract_mentions(text, "doc", "synth", tax, **kw)


def rows(ms, *fields):
    return [tuple(getattr(m, f) for f in fields) for m in ms]


# -- normalisation --------------------------------------------------------------------------------
def test_stray_line_break_is_joined_and_offsets_kept(tax):
    norm, index = normalise_text("新增\n食堂。\n一、标题", tax)
    assert norm == "新增食堂。\n一、标题"
    assert index.tolist() == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10]


def test_full_width_punctuation_is_folded_one_to_one(tax):
    norm, index = normalise_text("甲，乙；丙（丁）", tax)
    assert (norm, len(index)) == ("甲,乙;丙(丁)", 8)


def test_table_cells_are_sentences(tax):
    norm, _ = normalise_text("序号 |\n新建睦邻小厨3处 |\n牵头部门 |", tax)
    assert [norm[a:b] for a, b in split_sentences(norm)] == ["序号", "新建睦邻小厨3处", "牵头部门"]


# -- generic mentions and quantities --------------------------------------------------------------
def test_list_of_generic_facilities_shares_the_verb(tax):
    ms = run(tax, "新增1个家门口养老服务站、1个社区食堂、1个助餐点。")
    assert rows(ms, "kind", "name", "category", "action", "quantity") == [
        ("generic", "家门口养老服务站", "elderly_care", "new", 1),
        ("generic", "社区食堂", "meal_service", "new", 1),
        ("generic", "助餐点", "meal_service", "new", 1),
    ]


def test_quantity_only_item_shares_the_next_noun(tax):
    ms = run(tax, "新建1个、扩建3个睦邻中心。")
    assert rows(ms, "name", "action", "quantity", "evidence") == [
        ("睦邻中心", "new", 1, "新建1个、扩建3个睦邻中心"),
        ("睦邻中心", "upgrade", 3, "3个睦邻中心"),
    ]


def test_inventory_statement_gives_existing_counts(tax):
    ms = run(tax, "现有1家文化活动中心、7家睦邻中心、32个健身苑点。")
    assert rows(ms, "category", "action", "quantity") == [
        ("culture", "existing", 1), ("community_service", "existing", 7),
        ("sports", "existing", 32)]  # fmt: skip


def test_quantity_after_the_facility(tax):
    ms = run(tax, "力争建成睦邻小厨3处,增设早餐工程点1处。")
    assert rows(ms, "name", "action", "quantity") == [
        ("睦邻小厨", "new", 3),
        ("早餐工程点", "new", 1),
    ]


def test_chinese_numeral_quantity(tax):
    ms = run(tax, "设置三个健康屋。")
    assert rows(ms, "kind", "name", "quantity") == [("generic", "健康屋", 3)]


# -- named facilities and place hints -------------------------------------------------------------
def test_proper_prefix_makes_a_named_facility(tax):
    ms = run(tax, "建成北茶园社区睦邻中心。")
    assert rows(ms, "kind", "name", "category", "action", "quantity") == [
        ("named", "北茶园社区睦邻中心", "community_service", "new", 1)
    ]


def test_generic_modifiers_keep_a_mention_generic(tax):
    ms = run(tax, "新增2个社区老年人助餐点。")
    assert rows(ms, "kind", "name", "quantity") == [("generic", "社区老年人助餐点", 2)]


def test_road_name_is_the_place_hint(tax):
    ms = run(tax, "加快推进民治路菜市场建设。")
    assert rows(ms, "kind", "name", "action", "place_hint") == [
        ("named", "民治路菜市场", "new", "民治路")
    ]


def test_quoted_name_with_lane_number(tax):
    ms = run(tax, "推广控江路121弄“魏阿姨追梦花园”经验。")
    assert rows(ms, "kind", "name", "category", "place_hint", "evidence") == [
        ("named", "魏阿姨追梦花园", "park_green", "控江路121弄", "控江路121弄“魏阿姨追梦花园”")
    ]


def test_quoted_brand_before_the_keyword(tax):
    ms = run(tax, "打造“吾友荟”青年人文艺术中心。")
    assert rows(ms, "kind", "name", "category", "action") == [
        ("named", "吾友荟青年人文艺术中心", "culture", "new")
    ]


def test_list_place_hint_is_inherited(tax):
    ms = run(tax, "实施国定支路口袋公园、转角绿地改造。")
    assert rows(ms, "kind", "name", "action", "place_hint") == [
        ("named", "国定支路口袋公园", "upgrade", "国定支路"),
        ("generic", "转角绿地", "upgrade", "国定支路"),
    ]


def test_items_before_deng_are_named_instances_of_the_head(tax):
    ms = run(tax, "持续打造竹园睦邻中心、双鸽大厦等特色文明实践点。")
    assert rows(ms, "kind", "name", "category", "action") == [
        ("named", "竹园睦邻中心", "community_service", "existing"),
        ("named", "双鸽大厦", "community_service", "existing"),
        ("generic", "特色文明实践点", "community_service", "existing"),
    ]


def test_single_item_before_deng_joins_the_head(tax):
    ms = run(tax, "新建政民等9个睦邻茶室。")
    assert rows(ms, "kind", "name", "quantity", "counted") == [
        ("named", "政民睦邻茶室", 1, False),
        ("generic", "睦邻茶室", 9, True),
    ]


def test_example_construction(tax):
    ms = run(tax, "打造10个以上类似59弄“匠心苗圃”式的小区公共绿地。")
    assert rows(ms, "kind", "name", "action", "quantity", "place_hint") == [
        ("generic", "小区公共绿地", "new", 10, None),  # its evidence starts at "10个以上"
        ("named", "匠心苗圃", "existing", 1, "59弄"),
    ]


def test_metro_station_pattern(tax):
    ms = run(tax, "推进轨道交通18号线国权路站建设。")
    assert rows(ms, "kind", "name", "category", "action") == [
        ("named", "国权路站", "transit", "new")
    ]


# -- actions --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("推进养老院改造。", "upgrade"),
        ("持续推进口袋公园建设。", "new"),
        ("强化综合为老服务中心枢纽作用。", "existing"),
        ("做好2个生境花园的日常运营工作。", "existing"),
        ("提升大学路中心花园品质。", "upgrade"),
        ("社区图书馆新增图书2885册。", "existing"),
    ],
)
def test_action_verbs(tax, text, action):
    assert [m.action for m in run(tax, text)] == [action]


def test_host_facility_exists_and_guest_is_new(tax):
    ms = run(tax, "推进文化花园等睦邻中心运动小站建设。")
    assert rows(ms, "name", "category", "action") == [
        ("文化花园睦邻中心", "community_service", "existing"),
        ("睦邻中心", "community_service", "existing"),
        ("运动小站", "sports", "new"),
    ]


def test_job_title_means_the_facility_exists(tax):
    ms = run(tax, "张胜冰 潍坊新村社区卫生服务中心主任")
    assert rows(ms, "kind", "name", "category", "action") == [
        ("named", "潍坊新村社区卫生服务中心", "health", "existing")
    ]


def test_locative_facility_exists(tax):
    assert [m.action for m in run(tax, "在部分公交站点增设便民座椅。")] == ["existing"]


def test_completed_work_in_a_review_section_exists(tax):
    text = "一、2016年工作回顾\n建成北茶园社区睦邻中心。\n二、2017年工作安排\n新建1个睦邻中心。"
    ms = run(tax, text)
    assert rows(ms, "period", "action") == [("review", "existing"), ("plan", "new")]


def test_work_started_in_a_review_section_stays_new(tax):
    ms = run(tax, "一、工作回顾\n启动五角场街道为老服务综合体建设。")
    assert rows(ms, "name", "action") == [("五角场街道为老服务综合体", "new")]


# -- what is not a facility -----------------------------------------------------------------------
def test_absent_facility_is_no_mention(tax):
    assert run(tax, "长白是唯一没有地铁站的街道。") == []


def test_list_of_accounts_is_no_mention(tax):
    assert run(tax, "通过“长白社区图书馆”等微信公众号发布信息。") == []


def test_document_title_is_no_mention(tax):
    assert run(tax, "落实《上海市街道社区党群服务中心体系功能建设指导意见》。") == []


def test_excluded_phrase_is_no_mention(tax):
    assert run(tax, "建成开放街道慈善超市。") == []


# -- out of area ----------------------------------------------------------------------------------
def test_partner_project_in_another_province_is_outside(tax):
    ms = run(tax, "社会组织联合会助力贵州脱贫,在遵义市湄潭县援建田坝社区睦邻中心。")
    assert rows(ms, "name", "in_area") == [("田坝社区睦邻中心", "no")]


def test_benchmark_facility_is_outside(tax):
    ms = run(tax, "对标杨浦区控江路睦邻中心,特色亮点不足。")
    assert rows(ms, "name", "place_hint", "in_area") == [("杨浦区控江路睦邻中心", "控江路", "no")]


def test_neighbouring_subdistrict_centre_is_outside(tax):
    ms = run(tax, "定期前往控江路街道睦邻中心交流。", other_places=["控江路街道"])
    assert [m.in_area for m in ms] == ["no"]


def test_neighbouring_subdistricts_canteen_is_outside_but_ours_is_not(tax):
    ms = run(tax, "外送(长馨睦邻小厨、邻近街道的长者食堂)。")
    assert rows(ms, "name", "in_area") == [("长馨睦邻小厨", "yes"), ("长者食堂", "no")]


def test_outside_once_means_outside_everywhere_in_the_document(tax):
    ms = run(tax, "在遵义市援建田坝社区睦邻中心。田坝社区睦邻中心运营良好。")
    assert [m.in_area for m in ms] == ["no", "no"]


def test_district_wide_institution_is_unknown(tax):
    ms = run(tax, "加强与杨浦区精卫中心合作。")
    assert rows(ms, "name", "in_area") == [("杨浦区精卫中心", "unknown")]


# -- offsets --------------------------------------------------------------------------------------
def test_offsets_point_at_the_evidence_across_line_breaks(tax):
    text = "一、民生\n积极推进\n新增2个社区\n食堂，提升“社会餐桌”品质。"
    ms = run(tax, text)
    assert [text[m.start : m.end] for m in ms] == ["2个社区\n食堂", "“社会餐桌”"]
    assert all(text[m.start : m.end] == m.evidence for m in ms)


def test_offsets_in_a_table_row(tax):
    text = "序号 |\n2 |\n新建睦邻小厨3处 |"
    (m,) = run(tax, text)
    assert (text[m.start : m.end], m.sentence) == ("睦邻小厨3处", "新建睦邻小厨3处")


# -- tables and files -----------------------------------------------------------------------------
def test_mentions_frame_has_the_design_columns_first(tax):
    df = mentions_frame(run(tax, "新增1个社区食堂。"), tax)
    assert list(df.columns[: len(MENTIONS.names)]) == list(MENTIONS.names)
    assert (df.loc[0, "label_zh"], str(df["quantity"].dtype)) == ("社区助餐", "Int64")


def test_summary_counts_per_plan_and_category(tax):
    df = mentions_frame(run(tax, "新增1个社区食堂、1个助餐点,建成北茶园社区睦邻中心。"), tax)
    s = summarize(df, tax)["plans"]["doc"]
    assert (s["mentions"], s["named"]) == (3, 1)
    assert s["categories"]["meal_service"]["new"] == 2


def test_write_mentions_keeps_other_areas(tmp_path, tax):
    path = tmp_path / "plan_mentions.csv"
    a = mentions_frame(extract_mentions("新增1个社区食堂。", "d1", "a1", tax), tax)
    b = mentions_frame(extract_mentions("新增1个助餐点。", "d2", "a2", tax), tax)
    write_mentions(pd.concat([a, b], ignore_index=True), path)
    a2 = mentions_frame(extract_mentions("新增2个社区食堂。", "d1", "a1", tax), tax)
    write_mentions(a2, path, replace_areas=["a1"])
    back = read_mentions(path)
    assert sorted(zip(back["area"], back["quantity"], strict=True)) == [("a1", 2), ("a2", 1)]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel


def test_gbk_plan_is_read_as_gb18030(tmp_path):
    p = tmp_path / "plan.txt"
    p.write_bytes("新增1个社区食堂。".encode("gbk"))
    assert read_plan(p) == "新增1个社区食堂。"


def test_index_map_is_monotonic_on_real_looking_text(tax):
    _, index = normalise_text("甲\r\n乙 |\n丙\n\n丁", tax)
    assert bool(np.all(np.diff(index) > 0))
