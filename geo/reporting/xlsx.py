"""The figures of one view as an Excel workbook for analysts (openpyxl).

Sheets: the view's category by neighbourhood, every category by neighbourhood, the area
summary, the view's gaps, the facilities counted (with sources and position precision),
simulated facilities when there are any, the plan-vs-map comparison, and an "about" sheet.
Headers are bilingual, every sheet has an autofilter and a frozen header row.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.reporting.results import (
    FACILITY_CLASSES,
    OSM_CREDIT,
    PROFILE_LABELS,
    SCENARIO_LABELS,
    Results,
    data_status_label,
    neighbourhood_table,
)
from geo.reporting.view import WHATIF_LABEL, View

#: Bilingual column headers (Chinese first).
HEADERS: dict[str, str] = {
    "area": "街道 area",
    "unit": "社区单元 neighbourhood",
    "name": "名称 name",
    "category": "类别 category",
    "label_zh": "类别（中文）",
    "label_en": "category (English)",
    "tier": "分钟 tier (min)",
    "threshold_m": "阈值 threshold (m)",
    "population": "人口 population",
    "covered_population": "覆盖人口 covered",
    "uncovered_population": "未覆盖人口 uncovered",
    "share": "覆盖率 share",
    "share_before": "模拟前覆盖率 share before what-if",
    "basis": "依据 basis",
    "scenario": "情景 scenario",
    "profile": "步速 profile",
    "rank": "排名 rank",
    "area_m2": "面积 area (m²)",
    "n_units": "人口单元数 demand units",
    "street": "最近街道 nearest street",
    "lon": "经度 lon (WGS-84)",
    "lat": "纬度 lat (WGS-84)",
    "klass": "类型 class",
    "source": "来源 source",
    "status": "状态 status",
    "precision": "定位精度 precision",
    "confidence": "置信度 confidence",
    "osm_id": "OSM id",
    "sources": "数据来源 sources",
    "mention_doc": "规划文件 plan document",
    "sentence": "规划原文 plan sentence",
    "facility_id": "设施编号 facility id",
    "label": "标注 label",
}

_PERCENT = {"share", "share_before"}


def _sheet(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "-", name)[:31]


def _points_lonlat(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.point_on_surface(geoms)
    return shapely.get_x(pts), shapely.get_y(pts)


def gaps_sheet(results: Results, view: View) -> pd.DataFrame:
    """Return the view's gaps: rank, population, size, threshold, nearest street, a point."""
    g = view.gaps
    if g.empty:
        return pd.DataFrame(columns=["rank", "population", "area_m2", "threshold_m", "street"])
    proj = g.to_crs(settings.PROJECTED_CRS).geometry.representative_point()
    lon, lat = _points_lonlat(g.geometry.values)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(g) + 1),
            "population": g["population"].round(0).to_numpy(),
            "area_m2": g["area_m2"].round(0).to_numpy() if "area_m2" in g else np.nan,
            "n_units": g["n_units"].to_numpy() if "n_units" in g else np.nan,
            "threshold_m": view.threshold_m,
            "street": [results.nearest_street(view.area, p.x, p.y) for p in proj],
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "basis": view.basis,
            "scenario": view.scenario,
        }
    )


def facilities_sheet(view: View) -> pd.DataFrame:
    """Return the facilities counted in the view, with their sources and position precision."""
    fac = view.facilities
    labels = {k: f"{zh} {en}" for k, zh, en, _, _ in FACILITY_CLASSES}
    cols = ["facility_id", "name", "category", "klass", "source", "status", "precision"]
    cols += ["confidence", "osm_id", "sources", "mention_doc", "sentence"]
    out = pd.DataFrame({c: fac[c].to_numpy() if c in fac else "" for c in cols})
    out["klass"] = out["klass"].map(lambda k: labels.get(str(k), str(k)))
    lon, lat = _points_lonlat(fac.geometry.values) if len(fac) else (np.zeros(0), np.zeros(0))
    out["lon"] = np.round(lon, 6)
    out["lat"] = np.round(lat, 6)
    return out


def write_xlsx(results: Results, view: View, path: str | Path) -> None:
    """Write the workbook of ``view`` to ``path`` (see the module docstring)."""
    table = neighbourhood_table(
        results, view.area, tier=view.tier, scenario=view.scenario, profile=view.profile
    )
    names = results.neighbourhood_names(view.area)
    chosen = view.cells.assign(name=view.cells["unit"].map(names))
    chosen = chosen.assign(uncovered_population=chosen["population"] - chosen["covered_population"])
    keep = ["unit", "name", "population", "covered_population", "uncovered_population", "share"]
    if "share_before" in chosen:
        keep.append("share_before")
    chosen = chosen[[*keep, "basis"]].assign(threshold_m=view.threshold_m)
    summary = table[table["unit"] == "ALL"]
    recon = results.reconciliation
    if not recon.empty and "area" in recon:
        recon = recon[recon["area"].astype(str) == view.area]
    a = results.areas[view.area]
    s_zh, s_en = SCENARIO_LABELS[view.scenario]
    p_zh, p_en = PROFILE_LABELS[view.profile]
    items = [
        ("area 街道", a.bilingual),
        ("category 类别", results.category(view.category).bilingual),
        ("tier 分钟", view.tier),
        ("scenario 情景", f"{s_zh} {s_en}"),
        ("profile 步速", f"{p_zh} {p_en}"),
        ("walking speed 步行速度 (km/h)", settings.WALK_SPEEDS_KMH[view.profile]),
        (
            "threshold 步行距离阈值 (m)",
            round(view.threshold_m) if np.isfinite(view.threshold_m) else "",
        ),
        ("data date 数据日期", results.data_date(view.area)),
        ("basis 依据", view.basis),
        ("data status 数据状态", data_status_label(view.summary.get("data_status", "ok"))),
        ("sources searched 已检索来源", view.summary.get("sources_searched", "")),
        (
            "network completeness 路网完整度",
            "" if a.completeness is None else f"{a.completeness:.1%}",
        ),
        ("generated 生成", _dt.datetime.now().isoformat(timespec="seconds")),
        ("credit 版权", OSM_CREDIT),
    ]
    if view.simulated and view.whatif is not None:
        items.insert(
            4,
            (
                f"{WHATIF_LABEL[0]} / {WHATIF_LABEL[1]}",
                f"{len(view.whatif.points)} simulated facilities 模拟新增设施 "
                f"({view.before.get('share', float('nan')):.1%} → {view.summary['share']:.1%})",
            ),
        )
    about = pd.DataFrame({"item 项目": [k for k, _ in items], "value 值": [v for _, v in items]})
    sheets: list[tuple[str, pd.DataFrame]] = [
        (f"{view.category} 社区单元", chosen),
        ("all 全部类别", table[table["unit"] != "ALL"]),
        ("area 街道汇总", summary),
        ("gaps 缺口", gaps_sheet(results, view)),
        ("facilities 设施", facilities_sheet(view)),
    ]
    if view.simulated and view.whatif is not None:
        pts = view.whatif.points
        sheets.append(
            (
                "what-if 模拟",
                pd.DataFrame(
                    {
                        "label": [p.label_zh for p in pts],
                        "lon": [round(p.lon, 6) for p in pts],
                        "lat": [round(p.lat, 6) for p in pts],
                    }
                ),
            )
        )
    sheets += [("plan-vs-map 规划对照", recon), ("about 说明", about)]
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, frame in sheets:
            frame.rename(columns=HEADERS).to_excel(xw, sheet_name=_sheet(name), index=False)
            ws = xw.book[_sheet(name)]
            ws.freeze_panes = "A2"
            if ws.max_row >= 1 and ws.max_column >= 1:
                ws.auto_filter.ref = ws.dimensions
            inverse = {v: k for k, v in HEADERS.items()}
            for col in ws.columns:
                width = max(len(str(c.value or "")) for c in col[:200])
                ws.column_dimensions[col[0].column_letter].width = min(max(width + 2, 8), 60)
                if inverse.get(str(col[0].value)) in _PERCENT:
                    for c in col[1:]:
                        c.number_format = "0.0%"
