"""Dashboard texts in Chinese and English (Chinese first and the default)."""

from __future__ import annotations

LANGS: tuple[str, ...] = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("15分钟社区生活圈规划", "15-minute community life circle"),
    "subtitle": ("按社区单元查看步行可达覆盖", "walking coverage by neighbourhood"),
    "area": ("街道", "Subdistrict"),
    "category": ("设施类别", "Facility category"),
    "tier": ("步行时间", "Walking time"),
    "minutes": ("分钟", "min"),
    "scenario": ("情景", "Scenario"),
    "profile": ("步速", "Walking profile"),
    "language": ("语言", "Language"),
    "mode": ("地图点击", "Map click"),
    "mode_inspect": ("查看社区单元", "inspect a neighbourhood"),
    "mode_add": ("添加设施（模拟）", "add a facility (what-if)"),
    "tiles": ("在线底图（需联网）", "online base map (needs internet)"),
    "export": ("导出", "Export"),
    "export_btn": ("导出文件", "Export file"),
    "paper": ("纸张", "Paper"),
    "format": ("格式", "Format"),
    "exported": ("已导出", "Exported"),
    "export_busy": (
        "正在导出其他文件，请稍后再试。",
        "Other exports are running: try again shortly.",
    ),
    "legend_share": ("覆盖率", "Share covered"),
    "legend_nodata": ("无数据", "no figure"),
    "legend_gap": ("覆盖缺口", "coverage gap"),
    "legend_whatif": ("模拟新增", "what-if facility"),
    "panel_prompt": (
        "点击地图上的社区单元查看详情。",
        "Click a neighbourhood on the map for details.",
    ),
    "panel_unit": ("社区单元", "Neighbourhood"),
    "population": ("人口", "Population"),
    "share": ("覆盖率", "Share"),
    "covered": ("覆盖人口", "Covered"),
    "in_gaps": ("缺口人口", "In gaps"),
    "nearest": ("最近设施距离 p25/中位/p75", "Nearest p25/median/p75"),
    "nearest_note": (
        "最近距离单位为米（m），按现状、一般步速计。",
        "Nearest distances in metres (baseline, default pace).",
    ),
    "recon": ("规划与地图对照", "Plan vs map"),
    "recon_plan_existing": ("规划现有", "plan existing"),
    "recon_plan_new": ("规划新增", "plan new"),
    "recon_plan_upgrade": ("规划提升", "plan upgrade"),
    "recon_osm": ("地图", "OSM"),
    "recon_diff": ("差异", "difference"),
    "recon_none": ("无对照数据。", "No reconciliation data."),
    "area_share": ("全街道", "Whole area"),
    "whatif": ("情景模拟", "What-if"),
    "whatif_help": (
        "选择“添加设施”后点击地图，即可在所选类别下新增设施。",
        "Choose “add a facility”, then click the map to add one of the chosen category.",
    ),
    "whatif_none": ("尚未添加设施。", "No facility added yet."),
    "whatif_remove": ("移除", "remove"),
    "whatif_clear": ("全部清除", "clear all"),
    "whatif_before_after": ("模拟前 → 模拟后", "before → after"),
    "whatif_outside": ("点击位置不在所选街道内。", "That point is outside the chosen subdistrict."),
    "whatif_composite": (
        "请选择单一设施类别再模拟。",
        "Choose a single category to add facilities.",
    ),
    "whatif_nodemand": (
        "此街道无人口单元，无法模拟。",
        "No demand units in this area: what-if unavailable.",
    ),
    "whatif_limit": ("已达到可添加设施上限。", "Limit of added facilities reached."),
    "whatif_engine": ("按路网计算（增量更新）", "network engine (incremental update)"),
    "whatif_estimate": (
        "路网数据不完整：按直线距离×绕行系数估算，系数",
        "incomplete network: straight line × detour factor estimate, factor",
    ),
    "missing": ("部分结果缺失", "Some results are missing"),
    "bad_input": ("输入无效", "Invalid input"),
    "no_results": (
        "没有结果：请先运行 `lifecircle run`。",
        "No results: run `lifecircle run` first.",
    ),
    "fallback": (
        "结果中无此情景/步速，显示现状/一般步速。",
        "Scenario/profile not in the results: showing baseline/default.",
    ),
    "credit": (
        "© OpenStreetMap contributors（步行路网与设施）",
        "© OpenStreetMap contributors (walking network and facilities)",
    ),
    "speed": ("步行速度", "Walking speed"),
    "data_date": ("数据日期", "Data date"),
    "complete": ("路网完整", "network complete"),
    "incomplete": ("路网数据不完整", "incomplete network"),
    "nonet": ("无路网数据", "no network data"),
    "gap": ("缺口", "Gap"),
    "people": ("人", "people"),
}


def t(key: str, lang: str = "zh") -> str:
    """The text ``key`` in ``lang`` (``zh`` default; unknown languages fall back to ``zh``)."""
    zh, en = TEXTS[key]
    return en if lang == "en" else zh
