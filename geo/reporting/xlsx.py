"""The neighbourhood figures of an area as an Excel workbook (openpyxl)."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import pandas as pd

from geo import settings
from geo.reporting.results import OSM_CREDIT, Results, neighbourhood_table


def write_xlsx(
    results: Results,
    area: str,
    category: str,
    path: str | Path,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
) -> None:
    """Write the neighbourhood figures of an area to an Excel workbook at ``path``.

    Sheets: the chosen category by neighbourhood, all categories by neighbourhood, the area
    summary, the plan-vs-map reconciliation, and an "about" sheet (sources, credit).
    """
    table = neighbourhood_table(results, area, tier=tier, scenario=scenario, profile=profile)
    chosen = table[(table["category"] == category) & (table["unit"] != "ALL")]
    summary = table[table["unit"] == "ALL"]
    recon = results.reconciliation
    if not recon.empty and "area" in recon:
        recon = recon[recon["area"].astype(str) == area]
    a = results.areas[area]
    about = pd.DataFrame(
        {
            "item 项目": [
                "area 街道",
                "category 类别",
                "tier 分钟",
                "scenario 情景",
                "profile 步速",
                "walking speed 步行速度 (km/h)",
                "data date 数据日期",
                "basis 依据",
                "network completeness 路网完整度",
                "generated 生成",
                "credit 版权",
            ],
            "value 值": [
                a.bilingual,
                results.category(category).bilingual,
                tier,
                scenario,
                profile,
                settings.WALK_SPEEDS_KMH[profile],
                results.data_date(area),
                a.basis,
                "" if a.completeness is None else f"{a.completeness:.1%}",
                _dt.datetime.now().isoformat(timespec="seconds"),
                OSM_CREDIT,
            ],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        chosen.to_excel(xw, sheet_name=_sheet(f"{category} 社区单元"), index=False)
        table[table["unit"] != "ALL"].to_excel(xw, sheet_name="all 全部类别", index=False)
        summary.to_excel(xw, sheet_name="area 街道汇总", index=False)
        recon.to_excel(xw, sheet_name="plan-vs-map 规划对照", index=False)
        about.to_excel(xw, sheet_name="about 说明", index=False)
        for ws in xw.book.worksheets:
            ws.freeze_panes = "A2"
            for col in ws.columns:
                width = max(len(str(c.value or "")) for c in col[:200])
                ws.column_dimensions[col[0].column_letter].width = min(max(width + 2, 8), 60)
            for row in ws.iter_rows(min_row=2):
                for c in row:
                    header = ws.cell(row=1, column=c.column).value
                    if header == "share":
                        c.number_format = "0.0%"


def _sheet(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "-", name)[:31]
