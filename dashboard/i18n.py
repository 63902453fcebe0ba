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
    "legend_nodata": ("无数据（斜线）", "no figure (hatched)"),
    "legend_estimate": ("≈ 估算（点线边框）", "≈ estimate (dotted outline)"),
    "legend_selected": ("所选社区单元", "selected neighbourhood"),
    "badge_network": ("路网完整（{comp}）", "complete network ({comp})"),
    "badge_estimate": (
        "≈ 估算：路网数据不完整（{comp}），按直线距离×绕行系数",
        "≈ estimate: incomplete network ({comp}), straight line × detour factor",
    ),
    "badge_estimate_nonet": (
        "≈ 估算：无路网数据，按直线距离×绕行系数",
        "≈ estimate: no network data, straight line × detour factor",
    ),
    "badge_none": ("无数据：无法计算覆盖率", "no data: coverage unknown"),
    "composite_label": ("综合得分", "Composite score"),
    "what_is": ("这是什么意思？", "What does this mean?"),
    "composite_help": (
        "综合得分：对每位居民，计算各类设施中有几类在该类的标准步行距离内"
        "（例如 11 类中有 8 类 = 73%），再按人口加权平均。100% 表示每位居民步行可达所有类别。",
        "Composite score: for each resident, the share of facility categories within that "
        "category's standard walking distance (e.g. 8 of 11 = 73%), averaged over residents. "
        "100% means every resident can walk to every category.",
    ),
    "recon_help": (
        "“地图”为 OpenStreetMap（OSM）中找到的设施数；"
        "“规划现有 / 新增 / 提升”为规划文件提到的数量；"
        "差异 = 规划现有 − 地图：正数表示规划称已有、但地图上缺少的设施，"
        "负数表示地图上多于规划所列。",
        "“OSM” counts the facilities found in OpenStreetMap; “plan existing / new / upgrade” "
        "count those the plan documents name; difference = plan existing − OSM: positive means "
        "the plan lists facilities the map lacks, negative means the map has more.",
    ),
    "sentence": (
        "{cat}：{pop} 位居民中 {cov} 位在 {thr} 步行范围内",
        "{cat}: {cov} of {pop} residents within {thr}",
    ),
    "sentence_nearest": ("；最近设施约 {d}", "; nearest about {d}"),
    "sentence_street": ("，{street}", ", {street}"),
    "sentence_composite": (
        "{n} 类设施的覆盖率低于 50%：{cats}",
        "{n} categories reach fewer than half the residents: {cats}",
    ),
    "sentence_all_ok": ("各类设施覆盖率均不低于 50%。", "Every category reaches at least half."),
    "threshold": ("步行距离阈值", "Walking threshold"),
    "searched": ("已检索", "searched"),
    "median": ("中位距离", "Median distance"),
    "beyond": ("超出搜索范围", "beyond search"),
    "unknown": ("未知", "unknown"),
    "report_btn": ("生成会议报告（PDF）", "Meeting report (PDF)"),
    "report_done": ("报告已生成", "Report ready"),
    "export_failed": ("导出失败", "Export failed"),
    "whatif_in_export": (
        "导出文件包含模拟新增设施（标注“模拟”）。",
        "The file includes the simulated facilities (labelled “what-if”).",
    ),
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
    "nearest": ("最近设施（中位）", "Nearest (median)"),
    "nearest_note": (
        "距离为到最近设施的步行距离中位数，与覆盖率同一依据与情景。",
        "Distances: median walk to the nearest facility, on the same basis and scenario as "
        "the shares.",
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
    """Return the text ``key`` in ``lang`` (``zh`` by default and for unknown languages)."""
    zh, en = TEXTS[key]
    return en if lang == "en" else zh
