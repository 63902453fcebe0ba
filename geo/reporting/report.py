"""The meeting report of one area: a multi-page A4 PDF in Chinese with English subtitles.

Pages: a cover with the key numbers and a chart of every category; a locator map; one page
per category (map at the category's standard distance, shares by tier and walking pace, the
largest gaps with their nearest street); the plan-vs-map comparison; the recommended sites
and scenario deltas; and a method and data-quality page (network completeness, basis,
sources and dates, population source, thresholds with their standards).

Drawn with matplotlib (:class:`~matplotlib.backends.backend_pdf.PdfPages`); the CJK font's
glyphs are embedded. Written under ``<out>/reports/`` with a generated name.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import textwrap
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from geo import settings
from geo.io.files import write_atomic
from geo.network.estimate import read_calibration
from geo.reporting.fmt import num, pct
from geo.reporting.maps import (
    GAP_COLOUR,
    _draw_facilities,
    _draw_scale_bar,
    cjk_font_family,
    draw_view,
)
from geo.reporting.results import (
    BASIS_LABELS,
    COMPOSITE,
    OSM_CREDIT,
    SCENARIO_LABELS,
    Results,
    data_status,
    data_status_label,
    share_colour,
    share_legend,
)
from geo.reporting.view import View, make_view

#: A4 portrait, inches.
A4: tuple[float, float] = (8.27, 11.69)
_GREY = "#555555"
_MAX_GAP_ROWS = 8


def report_path(out_dir: str | Path, area: str) -> Path:
    """Return a new generated file name under ``<out_dir>/reports/`` (never user-supplied)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(out_dir) / "reports" / f"{area}_report_{stamp}_{secrets.token_hex(3)}.pdf"


def _page(results: Results, area: str, title_zh: str, title_en: str, number: int) -> Figure:
    fig = Figure(figsize=A4)
    FigureCanvasAgg(fig)
    fig.text(0.06, 0.955, title_zh, fontsize=17, fontweight="bold", va="center")
    fig.text(0.06, 0.93, title_en, fontsize=10.5, color=_GREY, va="center")
    fig.add_artist(Line2D([0.06, 0.94], [0.915, 0.915], color="#16324f", linewidth=1.2))
    a = results.areas[area]
    fig.text(
        0.06,
        0.025,
        f"{a.name_zh} {a.name_en} · 15分钟社区生活圈 15-minute life circle · {OSM_CREDIT}",
        fontsize=7,
        color=_GREY,
    )
    fig.text(0.94, 0.025, f"{number}", fontsize=8, color=_GREY, ha="right")
    return fig


def _table(
    ax: Any,
    header: list[str],
    rows: list[list[str]],
    widths: list[float],
    *,
    fontsize: float = 8.0,
    colours: list[list[str]] | None = None,
) -> None:
    """Draw a plain table filling ``ax`` from the top (header shaded)."""
    ax.set_axis_off()
    if not rows:
        rows = [["—"] * len(header)]
    tab = ax.table(
        cellText=rows,
        colLabels=header,
        colWidths=widths,
        loc="upper left",
        cellLoc="left",
        colLoc="left",
        cellColours=colours,
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(fontsize)
    tab.scale(1.0, 1.35)
    for (r, _), cell in tab.get_celld().items():
        cell.set_edgecolor("#d0d0d0")
        cell.set_linewidth(0.4)
        if r == 0:
            cell.set_facecolor("#e8eef5")
            cell.set_text_props(fontweight="bold")


def _area_rows(results: Results, area: str) -> pd.DataFrame:
    cov = results.coverage
    return cov[
        (cov["area"] == area)
        & (cov["unit"] == "ALL")
        & (cov["scenario"] == "baseline")
        & (cov["profile"] == "default")
    ]


def _standard_tier(results: Results, key: str) -> int:
    tier = results.categories[key].tier
    return int(tier) if tier in (5, 10, 15) else 15


def _standard_share(results: Results, area: str, key: str) -> tuple[float, float, float]:
    """(share, covered, population) of a category at its standard tier (baseline)."""
    rows = _area_rows(results, area)
    if key == COMPOSITE:
        sel = rows[(rows["category"] == COMPOSITE) & (rows["tier"] == 0)]
    else:
        sel = rows[(rows["category"] == key) & (rows["tier"] == _standard_tier(results, key))]
    if sel.empty:
        return float("nan"), float("nan"), float("nan")
    r = sel.iloc[0]
    return float(r["share"]), float(r["covered_population"]), float(r["population"])


# -------------------------------------------------------------------------------------------
# pages
# -------------------------------------------------------------------------------------------
def _cover(pdf: _Pages, results: Results, area: str, n: int) -> None:
    a = results.areas[area]
    fig = Figure(figsize=A4)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    fig.add_artist(Rectangle((0, 0.80), 1, 0.2, color="#16324f"))
    fig.text(0.07, 0.92, a.name_zh, fontsize=28, fontweight="bold", color="white")
    fig.text(0.07, 0.875, "15分钟社区生活圈评估报告", fontsize=20, color="white")
    fig.text(
        0.07,
        0.835,
        f"{a.name_en} — 15-minute community life circle report",
        fontsize=12,
        color="#dde6f0",
    )
    keys = list(results.categories)
    shares = {k: _standard_share(results, area, k) for k in keys}
    comp = _standard_share(results, area, COMPOSITE)
    pop = (
        comp[2]
        if np.isfinite(comp[2])
        else next((v[2] for v in shares.values() if np.isfinite(v[2])), float("nan"))
    )
    ok = sum(1 for v in shares.values() if np.isfinite(v[0]) and v[0] >= 0.8)
    worst = max(
        (k for k in keys if np.isfinite(shares[k][2]) and np.isfinite(shares[k][1])),
        key=lambda k: shares[k][2] - shares[k][1],
        default=None,
    )
    basis = results.coverage_basis(area)
    b_zh, b_en = BASIS_LABELS.get(basis, (basis, basis))
    comp_txt = f"{a.completeness:.0%}" if a.completeness is not None else "—"
    boxes = [
        ("居民", "Residents", num(pop)),
        ("综合得分", "Composite score", pct(comp[0], 0)),
        ("达标类别（≥80%）", "Categories reaching 80%", f"{ok} / {len(keys)}"),
        ("路网完整度", "Network completeness", comp_txt),
    ]
    for i, (zh, en, val) in enumerate(boxes):
        x = 0.07 + i * 0.225
        fig.add_artist(
            FancyBboxPatch(
                (x, 0.655), 0.2, 0.115, boxstyle="round,pad=0.005", fc="#f3f6fa", ec="#c9d6e3"
            )
        )
        fig.text(x + 0.1, 0.725, val, fontsize=20, fontweight="bold", ha="center")
        fig.text(x + 0.1, 0.685, zh, fontsize=9.5, ha="center")
        fig.text(x + 0.1, 0.668, en, fontsize=7.5, ha="center", color=_GREY)
    lines = [f"依据 Basis: {b_zh} / {b_en}", f"数据日期 Data date: {results.data_date(area)}"]
    if worst is not None:
        c = results.categories[worst]
        s = shares[worst]
        lines.append(
            f"最大缺口 Largest shortfall: {c.label_zh} {c.label_en} — "
            f"{num(s[2] - s[1])} 人 residents beyond {num(c.threshold_m)} m"
        )
    fig.text(0.07, 0.625, "\n".join(lines), fontsize=9, va="top", linespacing=1.6)
    ax = fig.add_axes((0.34, 0.08, 0.58, 0.43))
    labels = [f"{results.categories[k].label_zh}\n{results.categories[k].label_en}" for k in keys]
    vals = [shares[k][0] if np.isfinite(shares[k][0]) else 0.0 for k in keys]
    ys = np.arange(len(keys))[::-1]
    ax.barh(ys, vals, color=[share_colour(v) for v in vals], edgecolor="#333333", linewidth=0.4)
    for y, k, v in zip(ys, keys, vals, strict=True):
        thr = results.categories[k].threshold_m
        txt = pct(shares[k][0], 0) + (f"  (≤{thr:,.0f} m)" if thr else "")
        status = data_status(results, area, k)[0]
        if status != "ok":  # no facility data is not 0 %
            txt = data_status_label(status)
        ax.text(min(v, 1.0) + 0.01, y, txt, va="center", fontsize=7.5)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7.5)
    ax.set_xlim(0, 1.25)
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xticklabels(["0", "20%", "40%", "60%", "80%", "100%"], fontsize=7.5)
    ax.axvline(0.8, color=_GREY, linewidth=0.6, linestyle=":")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.text(
        0.07,
        0.56,
        "各类设施步行覆盖率（标准步行距离，现状，一般步速）\n"
        "Share of residents within each category's standard walking distance "
        "(baseline, default pace)",
        fontsize=10,
        va="top",
        linespacing=1.7,
    )
    fig.text(
        0.07,
        0.04,
        f"生成 Made {_dt.date.today().isoformat()} (lifecircle) · {OSM_CREDIT}",
        fontsize=7.5,
        color=_GREY,
    )
    pdf.savefig(fig)


def _locator(pdf: _Pages, results: Results, area: str, n: int) -> None:
    fig = _page(results, area, "位置图", "Locator map", n)
    crs = settings.PROJECTED_CRS
    ax = fig.add_axes((0.06, 0.5, 0.88, 0.39))
    ax.set_axis_off()
    ax.set_aspect("equal")
    shapes = [(aid, info) for aid, info in results.areas.items() if info.boundary is not None]
    for aid, info in shapes:
        g = gpd.GeoSeries([info.boundary], crs=settings.STORAGE_CRS).to_crs(crs)
        sel = aid == area
        g.plot(
            ax=ax,
            facecolor="#d7301f" if sel else "#e0e0e0",
            edgecolor="#333333",
            linewidth=1.2 if sel else 0.6,
            alpha=0.8,
        )
        c = g.iloc[0].representative_point()
        ax.text(c.x, c.y, f"{info.name_zh}\n{info.name_en}", fontsize=7.5, ha="center")
    if shapes:
        allg = gpd.GeoSeries([i.boundary for _, i in shapes], crs=settings.STORAGE_CRS)
        xmin, ymin, xmax, ymax = allg.to_crs(crs).total_bounds
        span = max(xmax - xmin, ymax - ymin, 1.0)
        ax.set_xlim(xmin - span * 0.08, xmax + span * 0.08)
        ax.set_ylim(ymin - span * 0.12, ymax + span * 0.08)
        _draw_scale_bar(ax, xmin, ymin - span * 0.1, span)
    fig.text(
        0.06,
        0.48,
        "上：研究街道（红色为本街道）。下：本街道路网与社区单元。\n"
        "Top: the study subdistricts (this one in red). Bottom: its streets and neighbourhoods.",
        fontsize=8,
        color=_GREY,
        va="top",
    )
    ax2 = fig.add_axes((0.06, 0.06, 0.88, 0.37))
    view = make_view(results, area, COMPOSITE, tier=15)
    xmin, ymin, xmax, ymax = draw_view(ax2, results, view)
    cells = results.neighbourhoods[results.neighbourhoods["area"] == area].to_crs(crs)
    names = results.neighbourhood_names(area)
    for row in cells.itertuples():
        p = row.geometry.representative_point()
        ax2.text(
            p.x,
            p.y,
            names.get(str(row.unit), str(row.unit)).split("-")[-1],
            fontsize=5,
            ha="center",
            color="#333333",
            zorder=12,
        )
    span = max(xmax - xmin, ymax - ymin, 1.0)
    ax2.set_xlim(xmin - span * 0.03, xmax + span * 0.03)
    ax2.set_ylim(ymin - span * 0.08, ymax + span * 0.03)
    _draw_scale_bar(ax2, xmin, ymin - span * 0.07, span)
    pdf.savefig(fig)


def _category_page(pdf: _Pages, results: Results, area: str, key: str, n: int) -> None:
    c = results.categories[key]
    tier = _standard_tier(results, key)
    view: View = make_view(results, area, key, tier=tier)
    fig = _page(results, area, f"{c.label_zh}", f"{c.label_en}", n)
    s = view.summary
    thr = view.threshold_m
    head = (
        f"标准步行距离 {thr:,.0f} m（{tier} 分钟）内的居民：{pct(s['share'], 0)}"
        f"（{num(s['covered_population'])} / {num(s['population'])} 人）\n"
        f"Residents within the standard {thr:,.0f} m ({tier}-minute) walk: {pct(s['share'], 0)} "
        f"({num(s['covered_population'])} of {num(s['population'])})"
    )
    if view.basis == "estimate":
        head += "\n≈ 估算：路网数据不完整，按直线距离×绕行系数 / estimate: straight line × detour"
    fig.text(0.06, 0.9, head, fontsize=9, va="top", linespacing=1.5)
    ax = fig.add_axes((0.06, 0.42, 0.62, 0.41))
    xmin, ymin, xmax, ymax = draw_view(ax, results, view)
    _draw_facilities(ax, view, settings.PROJECTED_CRS, small=True)
    span = max(xmax - xmin, ymax - ymin, 1.0)
    ax.set_xlim(xmin - span * 0.03, xmax + span * 0.03)
    ax.set_ylim(ymin - span * 0.08, ymax + span * 0.03)
    _draw_scale_bar(ax, xmin, ymin - span * 0.07, span)
    lax = fig.add_axes((0.70, 0.42, 0.26, 0.41))
    lax.set_axis_off()
    handles = [Patch(facecolor=col, edgecolor="white", label=lab) for col, lab in share_legend()]
    handles.append(
        Patch(facecolor="#bdbdbd", edgecolor="#8c8c8c", hatch="///", label="无数据 no figure")
    )
    if view.basis == "estimate":
        handles.append(
            Patch(facecolor="none", edgecolor="#3f3f3f", linestyle=":", label="≈ 估算 estimate")
        )
    handles.append(Patch(facecolor="none", edgecolor=GAP_COLOUR, linestyle="--", label="缺口 gap"))
    lax.legend(
        handles=handles[::-1],
        loc="upper left",
        fontsize=7,
        frameon=False,
        title="覆盖率 share covered",
        title_fontsize=8,
    )
    n_fac = len(view.facilities)
    lax.text(
        0.0,
        0.3,
        f"设施 facilities: {n_fac}\n（现状 baseline）",
        fontsize=7.5,
        transform=lax.transAxes,
        va="top",
    )
    # tier shares, default and elderly pace
    bx = fig.add_axes((0.09, 0.09, 0.36, 0.25))
    cov = results.coverage
    rows = cov[
        (cov["area"] == area)
        & (cov["unit"] == "ALL")
        & (cov["category"] == key)
        & (cov["scenario"] == "baseline")
    ]
    width = 0.38
    for j, (prof, colour, lab) in enumerate(
        (("default", "#4575b4", "一般步速 default"), ("elderly", "#fdae61", "老年步速 elderly"))
    ):
        vals = []
        for tr in (5, 10, 15):
            r = rows[(rows["profile"] == prof) & (rows["tier"] == tr)]
            vals.append(
                float(r["share"].iloc[0]) if len(r) and np.isfinite(r["share"].iloc[0]) else 0.0
            )
        xs = np.arange(3) + (j - 0.5) * width
        bx.bar(xs, vals, width, color=colour, label=lab, edgecolor="#333333", linewidth=0.3)
        for x, v in zip(xs, vals, strict=True):
            bx.text(x, v + 0.02, f"{v:.0%}", ha="center", fontsize=6.5)
    bx.set_xticks(range(3))
    bx.set_xticklabels(["5 分钟 min", "10 分钟 min", "15 分钟 min"], fontsize=7.5)
    bx.set_ylim(0, 1.15)
    bx.set_yticks([0, 0.5, 1.0])
    bx.set_yticklabels(["0", "50%", "100%"], fontsize=7)
    bx.legend(fontsize=7, frameon=False, loc="upper left")
    for side in ("top", "right"):
        bx.spines[side].set_visible(False)
    bx.set_title("各步行时间覆盖率 Share by walking time", fontsize=8.5)
    # gaps table
    tax = fig.add_axes((0.52, 0.09, 0.42, 0.27))
    gaps = view.gaps.head(_MAX_GAP_ROWS)
    proj = gaps.to_crs(settings.PROJECTED_CRS).geometry.representative_point()
    trows = [
        [
            str(i + 1),
            num(g.population),
            f"{g.area_m2 / 10000:.1f}" if np.isfinite(g.area_m2) else "—",
            results.nearest_street(area, p.x, p.y) or "—",
        ]
        for i, (g, p) in enumerate(zip(gaps.itertuples(), proj, strict=True))
    ]
    _table(
        tax,
        ["缺口\ngap", "人口\nresidents", "面积 ha\narea", "最近街道\nnearest street"],
        trows,
        [0.14, 0.24, 0.2, 0.42],
        fontsize=7.5,
    )
    tax.set_title(f"最大缺口 Largest gaps (> {thr:,.0f} m)", fontsize=8.5, loc="left")
    if c.threshold_source:
        fig.text(
            0.06,
            0.055,
            "\n".join(textwrap.wrap(f"标准 Standard: {c.threshold_source}", 140)),
            fontsize=6.5,
            color=_GREY,
            va="top",
        )
    pdf.savefig(fig)


def _reconciliation_page(pdf: _Pages, results: Results, area: str, n: int) -> None:
    fig = _page(
        results, area, "规划与地图对照", "Plan vs map: facilities the plans name and OSM has", n
    )
    recon = results.reconciliation
    sel = recon[recon["area"].astype(str) == area] if "area" in recon else recon.iloc[:0]
    fig.text(
        0.06,
        0.9,
        "“地图”为 OpenStreetMap（OSM）中找到的设施数；"
        "“规划现有 / 新增 / 提升”为规划文件提到的数量。"
        "\n差异 = 规划现有 − 地图：正数表示规划称已有、但地图上缺少的设施。\n"
        "“OSM” counts the facilities found in OpenStreetMap; “plan” columns count those the "
        "plan documents name.\nDifference = plan existing − OSM: positive means the plan "
        "lists facilities the map lacks.",
        fontsize=8.5,
        va="top",
        linespacing=1.5,
    )
    rows = []
    for r in sel.to_dict("records"):
        key = str(r.get("category"))
        cat = results.categories.get(key)
        label = f"{cat.label_zh} {cat.label_en}" if cat else key
        rows.append(
            [
                label,
                num(r.get("plan_existing")),
                num(r.get("plan_new")),
                num(r.get("plan_upgrade")),
                num(r.get("osm_count")),
                num(r.get("difference")),
            ]
        )
    ax = fig.add_axes((0.06, 0.45, 0.88, 0.36))
    _table(
        ax,
        [
            "类别 category",
            "规划现有\nplan existing",
            "规划新增\nplan new",
            "规划提升\nplan upgrade",
            "地图\nOSM",
            "差异\ndifference",
        ],
        rows,
        [0.36, 0.13, 0.13, 0.13, 0.12, 0.13],
        fontsize=8,
    )
    notes = [
        f"{r.get('label_zh', r.get('category'))}: {r.get('note')}"
        for r in sel.to_dict("records")
        if isinstance(r.get("note"), str) and r.get("note")
    ]
    text = "\n".join(
        line for n_ in notes[:12] for line in textwrap.wrap(n_, 120, max_lines=2, placeholder="…")
    )
    fig.text(0.06, 0.42, "说明 Notes\n" + (text or "—"), fontsize=6.8, va="top", color="#333333")
    pdf.savefig(fig)


def _sites_page(pdf: _Pages, results: Results, area: str, n: int) -> None:
    fig = _page(results, area, "推荐选址与情景对比", "Recommended sites and scenario deltas", n)
    d = results.deltas
    d = d[d["area"].astype(str) == area] if "area" in d else d.iloc[:0]
    rows = []
    for key, cat in results.categories.items():
        sub = d[d["category"].astype(str) == key]
        get = {
            s: float(sub.loc[sub["scenario"] == s, "share"].iloc[0])
            if (sub["scenario"] == s).any()
            else float("nan")
            for s in ("baseline", "plan", "plan+recommended")
        }
        last = sub[sub["scenario"] == "plan+recommended"]
        base = sub[sub["scenario"] == "baseline"]
        if len(last) and "delta_vs_baseline" in last:
            delta = float(last["delta_vs_baseline"].iloc[0])
        elif len(last) and len(base) and "covered_population" in sub:
            delta = float(last["covered_population"].iloc[0] - base["covered_population"].iloc[0])
        else:
            delta = float("nan")
        rows.append(
            [
                f"{cat.label_zh} {cat.label_en}",
                pct(get["baseline"], 0),
                pct(get["plan"], 0),
                pct(get["plan+recommended"], 0),
                ("+" if delta > 0 else "") + num(delta),
            ]
        )
    heads = [f"{SCENARIO_LABELS[s][0]}\n{SCENARIO_LABELS[s][1]}" for s in SCENARIO_LABELS]
    fig.text(
        0.06,
        0.9,
        "标准步行距离内的居民比例，按情景。Δ人 = 规划+推荐选址 相对 现状 新增覆盖的居民。\n"
        "Share of residents within the standard distance, by scenario; Δ = residents gained "
        "(plan + recommended vs baseline).",
        fontsize=8.5,
        va="top",
        linespacing=1.5,
    )
    ax = fig.add_axes((0.06, 0.52, 0.88, 0.33))
    _table(
        ax,
        ["类别 category", *heads, "Δ人\nΔ residents"],
        rows,
        [0.4, 0.14, 0.14, 0.17, 0.15],
        fontsize=7.8,
    )
    sites = results.sites
    sites = sites[sites["area"].astype(str) == area] if "area" in sites else sites.iloc[:0]
    srows = []
    if len(sites):
        proj = sites.to_crs(settings.PROJECTED_CRS).geometry
        for r, p in zip(sites.itertuples(), proj, strict=True):
            site_cat = results.categories.get(str(r.category))
            srows.append(
                [
                    site_cat.label_zh if site_cat else str(r.category),
                    str(int(r.rank)),
                    num(getattr(r, "gain_population", np.nan)),
                    results.nearest_street(area, p.x, p.y) or "—",
                    str(getattr(r, "method", "")),
                ]
            )
    fig.text(0.06, 0.47, "推荐选址 Recommended sites", fontsize=10, fontweight="bold")
    ax2 = fig.add_axes((0.06, 0.08, 0.88, 0.37))
    _table(
        ax2,
        [
            "类别 category",
            "序号\nrank",
            "新增覆盖（人）\ngain (residents)",
            "最近街道\nnearest street",
            "方法\nmethod",
        ],
        srows[:22],
        [0.22, 0.1, 0.2, 0.33, 0.15],
        fontsize=7.8,
    )
    pdf.savefig(fig)


def _counts(frame: pd.DataFrame, column: str) -> str:
    if column not in frame or frame.empty:
        return "—"
    return ", ".join(f"{k} {v}" for k, v in frame[column].astype(str).value_counts().items())


def _method_page(pdf: _Pages, results: Results, area: str, n: int) -> None:
    fig = _page(results, area, "方法与数据质量", "Method and data quality", n)
    a = results.areas[area]
    st = results.status.get(area, {})
    basis = results.coverage_basis(area)
    b_zh, b_en = BASIS_LABELS.get(basis, (basis, basis))
    cal = read_calibration(results.out_dir)
    cal_txt = (
        f"绕行系数 detour factor {cal.factor:.2f}（在 {cal.area} 标定 calibrated, "
        f"平均误差 MAE {cal.mae_m:.0f} m）"
        if cal is not None
        else "绕行系数 detour factor: 未标定 not calibrated"
    )
    sources = ", ".join(Path(str(s)).name for s in st.get("sources", []) or []) or "—"
    cov = results.coverage[results.coverage["area"] == area]
    pop_src = ", ".join(sorted({str(s) for s in cov.get("pop_source", pd.Series()).dropna()}))
    pop_note = next((str(s) for s in cov.get("population_note", pd.Series()).dropna()), "")
    fac = results.facilities
    fac = fac[fac["area"].astype(str) == area] if "area" in fac else fac
    by_src = _counts(fac, "source")
    by_prec = _counts(fac, "precision")
    comp = f"{a.completeness:.0%}" if a.completeness is not None else "—"
    how = (
        "完整路网按最短步行路径计算 network distances on the walking network."
        if basis == "network"
        else "路网不完整：距离 = 直线距离 × 绕行系数 incomplete network: distance = straight "
        "line × detour factor. " + cal_txt
    )
    blocks = [
        (
            "路网 Walking network",
            f"完整度 completeness {comp}（街道内距步行道路 50 m 以内的面积比例 share of the area "
            f"within 50 m of a walkable way）。依据 basis: {b_zh} / {b_en}。\n"
            f"{how}\n"
            f"来源 sources: {sources}\n数据日期 data date: {results.data_date(area)}",
        ),
        ("人口 Population", f"来源 source: {pop_src or '—'}. {pop_note}"),
        (
            "设施 Facilities",
            f"按来源 by source: {by_src}\n按定位精度 by position precision: {by_prec}\n"
            "只计入有位置的设施，每个设施计一次（与管线规则相同）。Only placed facilities count, "
            f"each once (the pipeline's rule). {OSM_CREDIT}, ODbL 1.0.",
        ),
    ]
    y = 0.89
    for title, body in blocks:
        fig.text(0.06, y, title, fontsize=10, fontweight="bold", va="top")
        lines = [ln for para in body.split("\n") for ln in textwrap.wrap(para, 105)]
        fig.text(0.06, y - 0.022, "\n".join(lines), fontsize=7.8, va="top", linespacing=1.45)
        y -= 0.04 + 0.0155 * len(lines)
    fig.text(
        0.06,
        y,
        "步行距离阈值与标准 Thresholds and their standards",
        fontsize=10,
        fontweight="bold",
        va="top",
    )
    rows = [
        [
            f"{c.label_zh} {c.label_en}",
            str(c.tier or "—"),
            num(c.threshold_m),
            textwrap.shorten(c.threshold_source or "—", 70, placeholder="…"),
        ]
        for c in results.categories.values()
    ]
    ax = fig.add_axes((0.06, 0.06, 0.88, max(0.1, y - 0.09)))
    _table(
        ax,
        ["类别 category", "分钟\nmin", "阈值 m\nthreshold", "标准 standard"],
        rows,
        [0.3, 0.07, 0.1, 0.53],
        fontsize=6.8,
    )
    pdf.savefig(fig)


class _Pages:
    """The PDF being written, and optionally a PNG of each page (to look at the pages)."""

    def __init__(self, pdf: PdfPages, png_dir: Path | None) -> None:
        self.pdf = pdf
        self.png_dir = png_dir
        self.n = 0

    def savefig(self, fig: Figure) -> None:
        self.n += 1
        self.pdf.savefig(fig)  # type: ignore[no-untyped-call]  # PdfPages.savefig is unannotated
        if self.png_dir is not None:
            fig.savefig(self.png_dir / f"page-{self.n:02d}.png", dpi=110)


def write_report(
    results: Results,
    area: str,
    path: str | Path | None = None,
    *,
    png_dir: str | Path | None = None,
) -> Path:
    """Write the meeting report of ``area`` (see the module docstring) and return its path.

    Parameters
    ----------
    results
        From :func:`geo.reporting.results.load_results`.
    area
        Area id; unknown ids raise a LifeCircleError naming the known ones.
    path
        Target file (default: a generated name under ``<out>/reports/``).
    png_dir
        Also save every page as ``page-NN.png`` there (to look at the pages).
    """
    results.area(area)
    target = Path(path) if path is not None else report_path(results.out_dir, area)
    family = cjk_font_family()
    a = results.areas[area]

    def write(p: Path) -> None:
        with matplotlib.rc_context(
            {
                "font.family": [family, "DejaVu Sans"],
                "axes.unicode_minus": False,
                "pdf.fonttype": 42,
            }
        ):
            meta = {
                "Title": f"15-minute life circle report — {a.name_en}",
                "Creator": "lifecircle",
                "Subject": OSM_CREDIT,
            }
            pngs = Path(png_dir) if png_dir is not None else None
            if pngs is not None:
                pngs.mkdir(parents=True, exist_ok=True)
            with PdfPages(p, metadata=meta) as raw:
                pdf = _Pages(raw, pngs)
                n = 1
                _cover(pdf, results, area, n)
                n += 1
                _locator(pdf, results, area, n)
                for key in results.categories:
                    n += 1
                    _category_page(pdf, results, area, key, n)
                n += 1
                _reconciliation_page(pdf, results, area, n)
                n += 1
                _sites_page(pdf, results, area, n)
                n += 1
                _method_page(pdf, results, area, n)

    write_atomic(target, write)
    return target
