"""One test per rule class of the plan extractor, on sentences written for these tests.

Each rule is a class (a head noun, a verb frame, a pattern), never one facility's name. The
places and facilities below are made up; none is from the seed plans or the dev sets.
"""

from __future__ import annotations

import pytest

from geo.facilities.plans import extract_mentions
from geo.facilities.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


def ex(tax, text: str) -> list[tuple]:
    """(kind, name, category, action, quantity, in_area) of every mention."""
    ms = extract_mentions(text, "t", "x", tax, other_places=["桃源路街道"])
    return [(m.kind, m.name, m.category, m.action, m.quantity, m.in_area) for m in ms]


# -- head nouns -------------------------------------------------------------------------------
def test_strong_head_with_a_proper_name_is_a_named_facility(tax):
    assert ex(tax, "街道在海棠路新建松风书房，面积约200平方米。") == [
        ("named", "松风书房", "culture", "new", 1, "yes")
    ]


def test_strong_head_square_is_a_public_space(tax):
    assert ex(tax, "改造提升银杏广场，增设无障碍坡道。") == [
        ("named", "银杏广场", "park_green", "upgrade", 1, "yes")
    ]


def test_multi_character_head_is_kept_whole(tax):
    # jieba alone splits 颐养/院 and 休息/站
    assert ex(tax, "新建红叶颐养院。") == [("named", "红叶颐养院", "elderly_care", "new", 1, "yes")]
    assert ex(tax, "户外职工爱心休息站在银杏路揭牌。") == [
        ("named", "户外职工爱心休息站", "community_service", "new", 1, "yes")
    ]


def test_weak_head_takes_its_category_from_a_cue_word(tax):
    assert ex(tax, "新建红叶颐乐院。") == [("named", "红叶颐乐院", "elderly_care", "new", 1, "yes")]


@pytest.mark.parametrize(
    "text",
    [
        "形成中心工作合力，做好重点人群服务。",  # heads inside dictionary words / no cue
        "推进金竹苑、银桂苑等小区综合治理。",  # residential compounds without a facility cue
        "规范广场舞活动秩序，推进市场化运营。",  # head followed by a non-facility word
    ],
)
def test_weak_heads_without_cue_and_heads_inside_words_are_no_facility(tax, text):
    assert ex(tax, text) == []


def test_strong_head_after_generic_modifiers_only_is_generic(tax):
    assert ex(tax, "新建社区书房2处。") == [("generic", "社区书房", "culture", "new", 2, "yes")]


def test_cue_words_alone_are_a_type_not_a_name(tax):
    assert ex(tax, "新建健身广场一处。") == [("generic", "健身广场", "sports", "new", 1, "yes")]


def test_weak_head_after_generic_modifiers_with_a_cue_is_generic(tax):
    assert ex(tax, "新建社区健身中心1处。") == [
        ("generic", "社区健身中心", "sports", "new", 1, "yes")
    ]


def test_dictionary_word_heads_need_a_cue(tax):
    # 服务中心 is one jieba word: 综合服务 classifies it, 企业/法律 do not
    assert ex(tax, "嘉平路综合服务中心揭牌。") == [
        ("named", "嘉平路综合服务中心", "community_service", "new", 1, "yes")
    ]
    assert ex(tax, "完善企业服务中心功能，做好法律服务中心建设。") == []


def test_a_park_or_compound_named_right_before_a_facility_is_part_of_its_name(tax):
    assert ex(tax, "新建桂花园睦邻中心。") == [
        ("named", "桂花园睦邻中心", "community_service", "new", 1, "yes")
    ]
    # 花园小区 is a residential compound (an excluded phrase), not a park
    assert ex(tax, "在锦绣花园小区新建一处睦邻点。") == [
        ("generic", "睦邻点", "community_service", "new", 1, "yes")
    ]


def test_head_inside_a_longer_name_is_absorbed(tax):
    assert ex(tax, "乐居坊社区睦邻中心持续开展活动。") == [
        ("named", "乐居坊社区睦邻中心", "community_service", "existing", 1, "yes")
    ]


# -- names: quotes, ·, mixed script --------------------------------------------------------------
def test_quoted_name_before_a_head_is_part_of_the_name(tax):
    assert ex(tax, "新建“悦读”文化盒子一处。") == [
        ("named", "悦读文化盒子", "culture", "new", 1, "yes")
    ]


def test_a_whole_quote_before_its_head_is_the_name(tax):
    assert ex(tax, "新建的“梦清园”滨河休闲步道将于年内建成。") == [
        ("named", "梦清园滨河休闲步道", "park_green", "new", 1, "yes")
    ]


def test_several_of_one_name_are_a_brand_not_a_named_facility(tax):
    assert ex(tax, "新建暖心驿站10个、“悦读”文化盒子两处。") == [
        ("generic", "暖心驿站", "community_service", "new", 10, "yes"),
        ("generic", "悦读文化盒子", "culture", "new", 2, "yes"),
    ]


def test_quoted_name_ending_in_a_head_is_taken_whole(tax):
    assert ex(tax, "推进海宁路“乐活坊”等项目建设。") == [
        ("named", "乐活坊", "community_service", "new", 1, "yes")
    ]


def test_dot_joined_brand_name_is_one_name(tax):
    assert ex(tax, "依托新华·邻里汇开展活动。") == [
        ("named", "新华·邻里汇", "community_service", "existing", 1, "yes")
    ]
    assert ex(tax, "江湾·云客厅建成开放。") == [
        ("named", "江湾·云客厅", "community_service", "new", 1, "yes")
    ]


def test_mixed_script_name(tax):
    assert ex(tax, "依托Hi邻里空间开展青年志愿服务。") == [
        ("named", "Hi邻里空间", "community_service", "existing", 1, "yes")
    ]


def test_quoted_slogans_are_no_facility(tax):
    assert ex(tax, "坚持“以人民为中心”，建设“五个中心”。") == []


# -- verb frames --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("翠柳睦邻中心于5月揭牌。", "new"),
        ("银杏路社区卫生服务站正式投入使用。", "new"),
        ("翠柳睦邻中心正式开放。", "new"),
        ("完成长青体育场改造。", "upgrade"),  # completion verb: the verb after decides
        ("启动东风农贸市场改造。", "upgrade"),
        ("推进青枫菜场标准化改造。", "upgrade"),
        ("将原厂房改建为星火新所。", "new"),  # converted into: new
        ("由旧仓库改造而成的星火新所对外开放。", "new"),
        ("由原邮局改建的“邮·书房”向市民免费开放。", "new"),
        ("曹家渡街道的“静安·乐活中心”焕新开放。", "upgrade"),  # ·-joined brand on 中心
        ("持续运营竹园长者食堂。", "existing"),
        ("依托竹园长者食堂开展助餐服务。", "existing"),
        ("今年新建的福寿颐养院共设床位80张。", "new"),
        ("青枫广场完成焕新改造后重新开放。", "upgrade"),
        ("近日，彩霞社区食堂建成投用。", "new"),
        ("两个街道联合打造的青枫滨河步道全线贯通。", "new"),  # a noun then a verb: adverbial
        ("深化青枫综合服务中心建设。", "existing"),  # deepening work on what exists
    ],
)
def test_verb_frames(tax, text, action):
    got = ex(tax, text)
    assert len(got) == 1 and got[0][0] == "named" and got[0][3] == action, got


def test_free_opening_is_existing_not_new(tax):
    assert ex(tax, "免费开放滨江绿地。") == [
        ("generic", "滨江绿地", "park_green", "existing", None, "yes")
    ]


def test_upgrading_a_part_upgrades_the_facility(tax):
    assert ex(tax, "升级改造曙光社区卫生服务中心住院楼。") == [
        ("named", "曙光社区卫生服务中心", "health", "upgrade", 1, "yes")
    ]


# -- quantities ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("新建长者食堂一个。", 1),
        ("新增长者食堂两处。", 2),
        ("全面完成三大邻里中心建设。", 3),
        ("新增长者食堂3家。", 3),
    ],
)
def test_quantities_with_measure_words(tax, text, quantity):
    got = ex(tax, text)
    assert len(got) == 1 and got[0][0] == "generic" and got[0][3] == "new", got
    assert got[0][4] == quantity


def test_list_items_share_the_list_verb(tax):
    assert ex(tax, "新建福临睦邻中心、康乐睦邻中心和安平长者食堂。") == [
        ("named", "福临睦邻中心", "community_service", "new", 1, "yes"),
        ("named", "康乐睦邻中心", "community_service", "new", 1, "yes"),
        ("named", "安平长者食堂", "meal_service", "new", 1, "yes"),
    ]


# -- out of area and non-facility lists ----------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "在贵州省某某县援建青山社区卫生室。",  # a province
        "在云山县援建青山社区卫生室。",  # a county: Shanghai has none
        "学习桃源路街道阳光睦邻中心经验。",  # a neighbouring subdistrict
    ],
)
def test_out_of_area_mentions_are_kept_with_in_area_no(tax, text):
    got = ex(tax, text)
    assert len(got) == 1 and got[0][0] == "named" and got[0][5] == "no", got


@pytest.mark.parametrize(
    "text",
    [
        "针对金海广场、银河路88号等重点场所开展综合整治。",
        "全力打造金海广场等城市地标。",
    ],
)
def test_items_listed_before_a_non_facility_noun_are_dropped(tax, text):
    assert ex(tax, text) == []


def test_a_table_row_shares_its_verb(tax):
    text = "序号|项目名称|建设内容\n1|福临颐养院|新增养老床位80张\n2|松风书房|免费开放\n"
    got = ex(tax, text)
    assert [(g[1], g[3]) for g in got] == [("福临颐养院", "new"), ("松风书房", "existing")]


@pytest.mark.parametrize(
    "text",
    [
        "提升青枫地区综合环境，新建松风书房。",  # 地区 is a Shanghai area too
        "依托医疗创新联盟，新建松风书房。",  # 联盟 is no place
        "沿苏州河新建松风书房。",  # a Shanghai river
        "在四川北路新建松风书房。",  # Shanghai roads and subdistricts named after provinces
        "江苏路街道新建松风书房。",
        "依托西藏中路的松风书房开展活动。",
    ],
)
def test_shanghai_place_words_are_not_out_of_area(tax, text):
    got = ex(tax, text)
    assert [(g[1], g[5]) for g in got] == [("松风书房", "yes")]
